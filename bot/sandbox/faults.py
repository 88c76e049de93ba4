"""Fault injection for the stand-in Slack: 5xx, latency, dropped connections, 429 bursts.

Rates are probabilities per call, drawn from a seeded RNG. A rule set for one
method replaces the all-methods rule (``method=None``) for that method. Besides
Web API method names, the keys ``"upload"`` (the file upload URL) and
``"response_url"`` select those endpoints.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass

FIVE_XX = (500, 502, 503)


@dataclass(frozen=True, slots=True)
class FaultRule:
    status_5xx: float = 0.0
    latency: float = 0.0
    drop_before: float = 0.0
    drop_after: float = 0.0

    def __post_init__(self):
        for name in ("status_5xx", "drop_before", "drop_after"):
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
    status_5xx: int | None = None
    drop_after: bool = False

    @property
    def any(self) -> bool:
        return bool(
            self.latency or self.burst_429 or self.drop_before or self.status_5xx or self.drop_after
        )


NO_FAULT = FaultPlan()


class Faults:
    """Thread-safe fault switchboard; ``counts`` tallies every fault injected."""

    def __init__(self, seed: int = 1):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: dict[str | None, FaultRule] = {}
        self._bursts: dict[str, list] = {}  # method -> [remaining, retry_after]
        self._drops: dict[str, list] = {}  # method -> [remaining, after]
        self._failed_users: dict[str, str] = {}
        self._counts: Counter[str] = Counter()
        self._by_method: Counter[tuple[str, str]] = Counter()
        self._active = False

    # ------------------------------------------------------------ configuring
    def set(
        self,
        method: str | None = None,
        status_5xx: float = 0.0,
        latency: float = 0.0,
        drop_before: float = 0.0,
        drop_after: float = 0.0,
    ) -> None:
        """Set the fault rates for ``method`` (None: every method without its own rule)."""
        rule = FaultRule(status_5xx, latency, drop_before, drop_after)
        with self._lock:
            if rule == FaultRule():
                self._rules.pop(method, None)
            else:
                self._rules[method] = rule
            self._refresh()

    def burst_429(self, method: str, count: int, retry_after: float | None = None) -> None:
        """The next ``count`` calls of ``method`` get HTTP 429.

        ``retry_after`` (seconds) is sent as given; by default one Slack second
        at the stand-in's time scale.
        """
        with self._lock:
            if count <= 0:
                self._bursts.pop(method, None)
            else:
                self._bursts[method] = [count, retry_after]
            self._refresh()

    def drop_next(self, method: str, count: int = 1, *, after: bool = True) -> None:
        """Drop the connection on the next ``count`` calls of ``method``.

        ``after=True`` performs the call first (drop_after), ``False`` drops it
        unperformed (drop_before). Deterministic, unlike the rates of ``set``.
        """
        with self._lock:
            if count <= 0:
                self._drops.pop(method, None)
            else:
                self._drops[method] = [count, after]
            self._refresh()

    def fail_user(self, user_id: str, error: str | None) -> None:
        """chat.postMessage to this user (U id or their DM) answers ok=false with ``error``.

        ``error=None`` removes the failure.
        """
        with self._lock:
            if error is None:
                self._failed_users.pop(user_id, None)
            else:
                self._failed_users[user_id] = error

    def clear(self) -> None:
        """Remove every rule, burst and user failure (counts are kept)."""
        with self._lock:
            self._rules.clear()
            self._bursts.clear()
            self._drops.clear()
            self._failed_users.clear()
            self._refresh()

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._by_method.clear()

    def _refresh(self) -> None:
        self._active = bool(self._rules or self._bursts or self._drops)

    # -------------------------------------------------------------- reporting
    @property
    def counts(self) -> dict[str, int]:
        """Faults injected so far by kind: 429, 5xx, latency, drop_before, drop_after, fail_user."""
        with self._lock:
            return dict(self._counts)

    def counts_for(self, method: str) -> dict[str, int]:
        with self._lock:
            return {kind: n for (m, kind), n in self._by_method.items() if m == method}

    def _count(self, method: str, kind: str) -> None:
        self._counts[kind] += 1
        self._by_method[(method, kind)] += 1

    # ---------------------------------------------------------------- drawing
    def plan(self, method: str) -> FaultPlan:
        """Decide the faults for one call of ``method``."""
        if not self._active:
            return NO_FAULT
        with self._lock:
            burst = self._bursts.get(method)
            if burst is not None:
                burst[0] -= 1
                if burst[0] <= 0:
                    del self._bursts[method]
                    self._refresh()
                self._count(method, "429")
                return FaultPlan(burst_429=True, retry_after=burst[1])
            drop = self._drops.get(method)
            if drop is not None:
                drop[0] -= 1
                if drop[0] <= 0:
                    del self._drops[method]
                    self._refresh()
                kind = "drop_after" if drop[1] else "drop_before"
                self._count(method, kind)
                return FaultPlan(drop_after=drop[1], drop_before=not drop[1])
            rule = self._rules.get(method) or self._rules.get(None)
            if rule is None:
                return NO_FAULT
            rng = self._rng
            latency = rule.latency
            if latency:
                self._count(method, "latency")
            if rule.drop_before and rng.random() < rule.drop_before:
                self._count(method, "drop_before")
                return FaultPlan(latency=latency, drop_before=True)
            if rule.status_5xx and rng.random() < rule.status_5xx:
                self._count(method, "5xx")
                return FaultPlan(latency=latency, status_5xx=rng.choice(FIVE_XX))
            if rule.drop_after and rng.random() < rule.drop_after:
                self._count(method, "drop_after")
                return FaultPlan(latency=latency, drop_after=True)
            return FaultPlan(latency=latency) if latency else NO_FAULT

    def user_failure(self, user_id: str) -> str | None:
        if not self._failed_users:
            return None
        with self._lock:
            error = self._failed_users.get(user_id)
            if error is not None:
                self._count("chat.postMessage", "fail_user")
            return error
