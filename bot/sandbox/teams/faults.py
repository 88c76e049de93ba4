"""Fault injection for the stand-in Teams: 5xx, 412, latency, drops, 429 bursts, blocked users.

Rates are probabilities per call from a seeded RNG. A rule for one operation
("activities.send", "activities.update", "conversations.create",
"members.paged", ... or "token") replaces the all-operations rule (``op=None``),
which covers every Bot Connector operation but not the token endpoint.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

FIVE_XX = (502, 503, 504)
# Operations the all-operations rule (op=None) leaves alone: the token endpoint is Entra's,
# not the Bot Connector; fault it by name (op="token").
SEPARATE = frozenset({"token"})

# 403 codes a blocked recipient can answer with (TEAMS_FACTS §4)
BLOCK_CODES = (
    "ConversationBlockedByUser",
    "BotDisabledByAdmin",
    "BotNotInConversationRoster",
    "ForbiddenOperationException",
    "NotEnoughPermissions",
    "MessageWritesBlocked",  # answered in the {"errorCode": 209, "message": ...} form
)


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
    retry_after: float | None = None  # for burst_429: None = no Retry-After header
    drop_before: bool = False
    status: int | None = None  # 412, 502, 503, 504 (answered without acting)
    drop_after: bool = False


NO_FAULT = FaultPlan()


class TeamsFaults:
    """Thread-safe fault switchboard; ``counts`` tallies every fault injected."""

    def __init__(self, seed: int = 1):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: dict[str | None, FaultRule] = {}
        self._bursts: dict[str | None, list] = {}  # op -> [remaining, retry_after]
        self._drops: dict[str | None, list] = {}  # op -> [remaining, after]
        self._fails: dict[str | None, list] = {}  # op -> [remaining, status]
        self._blocked: dict[str, str] = {}  # user id -> code
        self._counts: Counter[str] = Counter()
        self._by_op: Counter[tuple[str, str]] = Counter()
        self._active = False

    # ------------------------------------------------------------ configuring
    def set(
        self,
        op: str | None = None,
        *,
        status_5xx: float = 0.0,
        status_412: float = 0.0,
        latency: float = 0.0,
        drop_before: float = 0.0,
        drop_after: float = 0.0,
    ) -> None:
        """Fault rates for ``op`` (None: every operation without its own rule).

        ``status_5xx`` answers 502/503/504 (drawn evenly) without acting;
        ``status_412`` answers 412 PreconditionFailed without acting;
        ``latency`` seconds are added before answering; ``drop_before`` resets
        the connection without acting, ``drop_after`` acts, then resets.
        """
        rule = FaultRule(status_5xx, status_412, latency, drop_before, drop_after)
        with self._lock:
            if rule == FaultRule():
                self._rules.pop(op, None)
            else:
                self._rules[op] = rule
            self._refresh()

    def burst_429(
        self, count: int, retry_after: float | None = None, op: str | None = None
    ) -> None:
        """The next ``count`` calls (of ``op``, or of any operation) get 429 Throttled.

        ``retry_after`` None sends no Retry-After header (Teams sometimes does
        not); a number is sent as that many seconds.
        """
        with self._lock:
            if count <= 0:
                self._bursts.pop(op, None)
            else:
                self._bursts[op] = [count, retry_after]
            self._refresh()

    def drop_next(self, count: int = 1, *, after: bool = True, op: str | None = None) -> None:
        """Reset the connection on the next ``count`` calls; ``after`` acts first."""
        with self._lock:
            if count <= 0:
                self._drops.pop(op, None)
            else:
                self._drops[op] = [count, after]
            self._refresh()

    def fail_next(self, count: int = 1, status: int = 503, *, op: str | None = None) -> None:
        """Answer the next ``count`` calls with ``status`` (412/5xx) without acting."""
        with self._lock:
            if count <= 0:
                self._fails.pop(op, None)
            else:
                self._fails[op] = [count, status]
            self._refresh()

    def block(self, user: Any, code: str | None = "ConversationBlockedByUser") -> None:
        """Writes into ``user``'s 1:1 answer 403 with ``code`` (None unblocks).

        ``user``: a TeamsPerson, a Teams user id (29:...) or an aadObjectId
        (``StandInTeams.block`` also takes an e-mail or UPN). Codes: see
        BLOCK_CODES; "BotDisabledByAdmin" also refuses creating the 1:1.
        """
        user = getattr(user, "id", user)
        with self._lock:
            if code is None:
                self._blocked.pop(user, None)
            else:
                self._blocked[user] = code

    def clear(self) -> None:
        """Remove every rule, burst, drop, failure and block (counts are kept)."""
        with self._lock:
            self._rules.clear()
            self._bursts.clear()
            self._drops.clear()
            self._fails.clear()
            self._blocked.clear()
            self._refresh()

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._by_op.clear()

    def _refresh(self) -> None:
        self._active = bool(self._rules or self._bursts or self._drops or self._fails)

    # -------------------------------------------------------------- reporting
    @property
    def counts(self) -> dict[str, int]:
        """Faults so far by kind: 429, 5xx, 412, latency, drop_before, drop_after, blocked."""
        with self._lock:
            return dict(self._counts)

    def counts_for(self, op: str) -> dict[str, int]:
        with self._lock:
            return {kind: n for (o, kind), n in self._by_op.items() if o == op}

    def _count(self, op: str, kind: str) -> None:
        self._counts[kind] += 1
        self._by_op[(op, kind)] += 1

    # ---------------------------------------------------------------- drawing
    def _take(self, table: dict[str | None, list], op: str) -> list | None:
        if op in table:
            key: str | None = op
        elif None in table and op not in SEPARATE:
            key = None
        else:
            return None
        entry = table[key]
        entry[0] -= 1
        if entry[0] <= 0:
            del table[key]
            self._refresh()
        return entry

    def plan(self, op: str) -> FaultPlan:
        """Decide the faults for one call of ``op``."""
        if not self._active:
            return NO_FAULT
        with self._lock:
            burst = self._take(self._bursts, op)
            if burst is not None:
                self._count(op, "429")
                return FaultPlan(burst_429=True, retry_after=burst[1])
            drop = self._take(self._drops, op)
            if drop is not None:
                kind = "drop_after" if drop[1] else "drop_before"
                self._count(op, kind)
                return FaultPlan(drop_after=drop[1], drop_before=not drop[1])
            fail = self._take(self._fails, op)
            if fail is not None:
                self._count(op, "412" if fail[1] == 412 else "5xx")
                return FaultPlan(status=fail[1])
            rule = self._rules.get(op)
            if rule is None and op not in SEPARATE:
                rule = self._rules.get(None)
            if rule is None:
                return NO_FAULT
            rng = self._rng
            latency = rule.latency
            if latency:
                self._count(op, "latency")
            if rule.drop_before and rng.random() < rule.drop_before:
                self._count(op, "drop_before")
                return FaultPlan(latency=latency, drop_before=True)
            if rule.status_5xx and rng.random() < rule.status_5xx:
                self._count(op, "5xx")
                return FaultPlan(latency=latency, status=rng.choice(FIVE_XX))
            if rule.status_412 and rng.random() < rule.status_412:
                self._count(op, "412")
                return FaultPlan(latency=latency, status=412)
            if rule.drop_after and rng.random() < rule.drop_after:
                self._count(op, "drop_after")
                return FaultPlan(latency=latency, drop_after=True)
            return FaultPlan(latency=latency) if latency else NO_FAULT

    def blocked(self, *keys: str) -> str | None:
        """The block code for the first of ``keys`` that is blocked, else None."""
        if not self._blocked:
            return None
        with self._lock:
            for k in keys:
                code = self._blocked.get(k)
                if code is not None:
                    return code
        return None

    def note_blocked(self, op: str) -> None:
        """Count one call refused because of a block."""
        with self._lock:
            self._count(op, "blocked")

    def blocked_users(self) -> dict[str, str]:
        with self._lock:
            return dict(self._blocked)
