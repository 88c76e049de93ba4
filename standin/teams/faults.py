"""Fault injection for the stand-in Teams: 5xx, 412, latency, drops, 429 bursts, blocked users.

Rates are probabilities per call from a seeded RNG. A rule for one operation
("activities.send", "activities.update", "conversations.create",
"members.paged", ... or "token") replaces the all-operations rule (``op=None``),
which covers every Bot Connector operation but not the token endpoint.
"""

from __future__ import annotations

from typing import Any

from standin.switchboard import FaultPlan, FaultRule, FaultSwitchboard

# 403 codes a blocked recipient can answer with (TEAMS_FACTS §4)
BLOCK_CODES = (
    "ConversationBlockedByUser",
    "BotDisabledByAdmin",
    "BotNotInConversationRoster",
    "ForbiddenOperationException",
    "NotEnoughPermissions",
    "MessageWritesBlocked",  # answered in the {"errorCode": 209, "message": ...} form
)


class TeamsFaults(FaultSwitchboard):
    """Thread-safe fault switchboard; ``counts`` tallies every fault injected by kind:
    429, 5xx, 412, latency, drop_before, drop_after, blocked."""

    five_xx = (502, 503, 504)
    # The token endpoint is Entra's, not the Bot Connector: the all-operations rule and
    # countdowns leave it alone; fault it by name (op="token").
    separate = frozenset({"token"})

    def __init__(self, seed: int = 1):
        super().__init__(seed)
        self._fails: dict[str | None, list] = {}  # op -> [remaining, status]
        self._blocked: dict[str, str] = {}  # user id -> code

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
        self._set_rule(op, FaultRule(status_5xx, status_412, latency, drop_before, drop_after))

    def burst_429(
        self, count: int, retry_after: float | None = None, op: str | None = None
    ) -> None:
        """The next ``count`` calls (of ``op``, or of any operation) get 429 Throttled.

        ``retry_after`` None sends no Retry-After header (Teams sometimes does
        not); a number is sent as that many seconds.
        """
        self._arm(self._bursts, op, count, retry_after)

    def drop_next(
        self,
        count: int = 1,
        *,
        after: bool = True,
        op: str | None = None,
        conversation: str | None = None,
    ) -> None:
        """Reset the connection on the next ``count`` calls; ``after`` acts first.
        ``conversation`` (with ``op``) narrows it to calls into that conversation, e.g.
        one person's 1:1, whatever else is being sent meanwhile."""
        self._arm(self._drops, _scoped(op, conversation), count, after)

    def plan_for(self, op: str, conversation: str | None) -> FaultPlan:
        """The faults for one call of ``op`` into ``conversation``: a countdown armed for
        that conversation first, then whatever applies to ``op``."""
        scoped = _scoped(op, conversation)
        with self._lock:
            armed = conversation is not None and any(
                scoped in table for table in (self._bursts, self._drops, self._fails)
            )
        return self.plan(scoped if armed else op)

    def fail_next(self, count: int = 1, status: int = 503, *, op: str | None = None) -> None:
        """Answer the next ``count`` calls with ``status`` (412/5xx) without acting."""
        self._arm(self._fails, op, count, status)

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

    def _clear(self) -> None:
        super()._clear()
        self._fails.clear()
        self._blocked.clear()

    def _refresh(self) -> None:
        super()._refresh()
        self._active = self._active or bool(self._fails)

    # ---------------------------------------------------------------- drawing
    def _take_other(self, op: str) -> FaultPlan | None:
        fail = self._take(self._fails, op)
        if fail is None:
            return None
        self._count(op, "412" if fail[1] == 412 else "5xx")
        return FaultPlan(status=fail[1])

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


def _scoped(op: str | None, conversation: str | None) -> str | None:
    return f"{op}@{conversation}" if op and conversation else op
