"""The seeded, thread-safe fault switchboard both stand-ins build on.

Rules are probabilities per call drawn from one seeded RNG, so a seed replays
the same faults; countdowns (429 bursts, drops) are deterministic. A rule or
countdown for one key (a Slack method, a Teams operation) replaces the one for
every key (``None``). Each stand-in adds its own keys, defaults and extras.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FaultRule:
    status_5xx: float = 0.0
    status_412: float = 0.0
    latency: float = 0.0
    drop_before: float = 0.0
    drop_after: float = 0.0

    def __post_init__(self):
        for name in ("status_5xx", "status_412", "drop_before", "drop_after"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        if self.latency < 0:
            raise ValueError("latency must be >= 0")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What happens to one call, decided when it arrives."""

    latency: float = 0.0
    burst_429: bool = False
    retry_after: float | None = None
    drop_before: bool = False
    status: int | None = None  # answered with this status without acting
    drop_after: bool = False


NO_FAULT = FaultPlan()


class FaultSwitchboard:
    """Thread-safe fault switchboard; ``counts`` tallies every fault injected."""

    five_xx: tuple[int, ...] = (500, 502, 503)
    # keys the all-keys rule and countdowns leave alone (fault them by name)
    separate: frozenset[str] = frozenset()
    # whether a countdown armed for every key (None) applies; Slack's are per method only
    countdowns_for_all = True

    def __init__(self, seed: int = 1):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: dict[str | None, FaultRule] = {}
        self._bursts: dict[str | None, list] = {}  # key -> [remaining, retry_after]
        self._drops: dict[str | None, list] = {}  # key -> [remaining, after]
        self._counts: Counter[str] = Counter()
        self._by_key: Counter[tuple[str, str]] = Counter()
        self._active = False

    # ------------------------------------------------------------ configuring
    def _set_rule(self, key: str | None, rule: FaultRule) -> None:
        with self._lock:
            if rule == FaultRule():
                self._rules.pop(key, None)
            else:
                self._rules[key] = rule
            self._refresh()

    def _arm(self, table: dict[str | None, list], key: str | None, count: int, value) -> None:
        with self._lock:
            if count <= 0:
                table.pop(key, None)
            else:
                table[key] = [count, value]
            self._refresh()

    def clear(self) -> None:
        """Remove every rule and countdown, and the stand-in's own extras (counts are kept)."""
        with self._lock:
            self._clear()
            self._refresh()

    def _clear(self) -> None:
        self._rules.clear()
        self._bursts.clear()
        self._drops.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._by_key.clear()

    def _refresh(self) -> None:
        self._active = bool(self._rules or self._bursts or self._drops)

    # -------------------------------------------------------------- reporting
    @property
    def counts(self) -> dict[str, int]:
        """Faults injected so far, by kind."""
        with self._lock:
            return dict(self._counts)

    def counts_for(self, key: str) -> dict[str, int]:
        with self._lock:
            return {kind: n for (k, kind), n in self._by_key.items() if k == key}

    def _count(self, key: str, kind: str) -> None:
        self._counts[kind] += 1
        self._by_key[(key, kind)] += 1

    # ---------------------------------------------------------------- drawing
    def _take(self, table: dict[str | None, list], key: str) -> list | None:
        if key in table:
            found: str | None = key
        elif self.countdowns_for_all and None in table and key not in self.separate:
            found = None
        else:
            return None
        entry = table[found]
        entry[0] -= 1
        if entry[0] <= 0:
            del table[found]
            self._refresh()
        return entry

    def _take_other(self, key: str) -> FaultPlan | None:
        """A stand-in's own countdowns, drawn after bursts and drops (under the lock)."""
        return None

    def plan(self, key: str) -> FaultPlan:
        """Decide the faults for one call of ``key``."""
        if not self._active:
            return NO_FAULT
        with self._lock:
            burst = self._take(self._bursts, key)
            if burst is not None:
                self._count(key, "429")
                return FaultPlan(burst_429=True, retry_after=burst[1])
            drop = self._take(self._drops, key)
            if drop is not None:
                kind = "drop_after" if drop[1] else "drop_before"
                self._count(key, kind)
                return FaultPlan(drop_after=drop[1], drop_before=not drop[1])
            other = self._take_other(key)
            if other is not None:
                return other
            rule = self._rules.get(key)
            if rule is None and key not in self.separate:
                rule = self._rules.get(None)
            if rule is None:
                return NO_FAULT
            rng = self._rng
            latency = rule.latency
            if latency:
                self._count(key, "latency")
            if rule.drop_before and rng.random() < rule.drop_before:
                self._count(key, "drop_before")
                return FaultPlan(latency=latency, drop_before=True)
            if rule.status_5xx and rng.random() < rule.status_5xx:
                self._count(key, "5xx")
                return FaultPlan(latency=latency, status=rng.choice(self.five_xx))
            if rule.status_412 and rng.random() < rule.status_412:
                self._count(key, "412")
                return FaultPlan(latency=latency, status=412)
            if rule.drop_after and rng.random() < rule.drop_after:
                self._count(key, "drop_after")
                return FaultPlan(latency=latency, drop_after=True)
            return FaultPlan(latency=latency) if latency else NO_FAULT
