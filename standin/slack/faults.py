"""Fault injection for the stand-in Slack: 5xx, latency, dropped connections, 429 bursts.

Rates are probabilities per call, drawn from a seeded RNG. A rule set for one
method replaces the all-methods rule (``method=None``) for that method. Besides
Web API method names, the keys ``"upload"`` (the file upload URL) and
``"response_url"`` select those endpoints.
"""

from __future__ import annotations

from standin.switchboard import FaultRule, FaultSwitchboard


class Faults(FaultSwitchboard):
    """Thread-safe fault switchboard; ``counts`` tallies every fault injected by kind:
    429, 5xx, latency, drop_before, drop_after, fail_user."""

    five_xx = (500, 502, 503)
    countdowns_for_all = False

    def __init__(self, seed: int = 1):
        super().__init__(seed)
        self._failed_users: dict[str, str] = {}

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
        rule = FaultRule(
            status_5xx=status_5xx, latency=latency, drop_before=drop_before, drop_after=drop_after
        )
        self._set_rule(method, rule)

    def burst_429(self, method: str, count: int, retry_after: float | None = None) -> None:
        """The next ``count`` calls of ``method`` get HTTP 429.

        ``retry_after`` (seconds) is sent as given; by default one Slack second
        at the stand-in's time scale.
        """
        self._arm(self._bursts, method, count, retry_after)

    def drop_next(self, method: str, count: int = 1, *, after: bool = True) -> None:
        """Drop the connection on the next ``count`` calls of ``method``.

        ``after=True`` performs the call first (drop_after), ``False`` drops it
        unperformed (drop_before). Deterministic, unlike the rates of ``set``.
        """
        self._arm(self._drops, method, count, after)

    def fail_user(self, user_id: str, error: str | None) -> None:
        """chat.postMessage to this user (U id or their DM) answers ok=false with ``error``.

        ``error=None`` removes the failure.
        """
        with self._lock:
            if error is None:
                self._failed_users.pop(user_id, None)
            else:
                self._failed_users[user_id] = error

    def _clear(self) -> None:
        super()._clear()
        self._failed_users.clear()

    # ---------------------------------------------------------------- drawing
    def user_failure(self, user_id: str) -> str | None:
        if not self._failed_users:
            return None
        with self._lock:
            error = self._failed_users.get(user_id)
            if error is not None:
                self._count("chat.postMessage", "fail_user")
            return error
