"""Teams' published bot rate limits as token buckets, with a time scale.

Two layers, both must allow a call:

- per app per tenant: ``app_rps`` (50) requests per second over every Bot
  Connector call (the bucket holds one second's worth and starts full);
- per bot per thread (conversation), per operation class, several windows at
  once (Teams' table: a call must fit in all of them):

  ======== ===== ===== ======= ===========
  class     1 s   2 s   30 s    3600 s
  ======== ===== ===== ======= ===========
  send       7     8     60      1800      POST/PUT/DELETE activities
  create     7     8     60      1800      POST /v3/conversations (key: the user)
  members   14    16    120      3600      GET members, pagedmembers
  ======== ===== ===== ======= ===========

A window of N calls per T seconds is a bucket of capacity N refilled at N/T per
second. ``time_scale`` multiplies every refill rate (windows last T/time_scale
real seconds); capacities stay. Over the limit: the wait until a token is free,
in real seconds.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from standin.slack.ratelimit import TokenBucket

APP_RPS = 50.0
SEND_WINDOWS: tuple[tuple[float, float], ...] = ((7, 1), (8, 2), (60, 30), (1800, 3600))
MEMBERS_WINDOWS: tuple[tuple[float, float], ...] = ((14, 1), (16, 2), (120, 30), (3600, 3600))

# operation -> thread class (operations not listed only count against the app limit)
OP_CLASS: dict[str, str] = {
    "activities.send": "send",
    "activities.update": "send",
    "activities.delete": "send",
    "conversations.create": "create",
    "members.paged": "members",
    "members.list": "members",
    "members.get": "members",
    "activity.members": "members",
}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # real seconds
    scope: str = ""  # "app" or the thread class that refused


class TeamsRateLimiter:
    """Thread-safe token buckets: one per tenant for the app, several per (class, thread)."""

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        app_rps: float | None = APP_RPS,
        app_burst_seconds: float = 1.0,
        windows: dict[str, tuple[tuple[float, float], ...] | None] | None = None,
        clock=time.monotonic,
    ):
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = float(time_scale)
        self.app_rps = app_rps
        self.app_burst_seconds = float(app_burst_seconds)
        self.clock = clock
        self.enabled = True
        self._windows: dict[str, tuple[tuple[float, float], ...] | None] = {
            "send": SEND_WINDOWS,
            "create": SEND_WINDOWS,
            "members": MEMBERS_WINDOWS,
        }
        if windows:
            self._windows.update(windows)
        self._lock = threading.Lock()
        self._app: TokenBucket | None = None
        self._threads: dict[tuple[str, str], list[TokenBucket]] = {}

    # ------------------------------------------------------------ configuring
    def set_app_rps(self, rps: float | None) -> None:
        with self._lock:
            self.app_rps = rps
            self._app = None

    def set_windows(self, cls: str, windows: tuple[tuple[float, float], ...] | None) -> None:
        """Replace a thread class's windows ((calls, seconds), ...); None = unlimited."""
        with self._lock:
            self._windows[cls] = tuple(windows) if windows else None
            for key in [k for k in self._threads if k[0] == cls]:
                del self._threads[key]

    def windows(self, cls: str) -> tuple[tuple[float, float], ...]:
        """(calls, REAL seconds) per window of a thread class (or operation name)."""
        cls = OP_CLASS.get(cls, cls)
        ws = self._windows.get(cls) or ()
        return tuple((n, t / self.time_scale) for n, t in ws)

    def reset(self) -> None:
        with self._lock:
            self._app = None
            self._threads.clear()

    # -------------------------------------------------------------- ceilings
    def ceiling_per_second(self, scope: str = "app", *, window: float | None = None) -> float:
        """Allowed calls per real second.

        ``scope`` "app" is the per-tenant limit; a thread class ("send",
        "create", "members") or an operation name gives the per-conversation
        limit: the sustained rate (the tightest window) or, with ``window``
        (in Teams seconds: 1, 2, 30, 3600), that window's rate.
        """
        if not self.enabled:
            return math.inf
        if scope == "app":
            return math.inf if self.app_rps is None else self.app_rps * self.time_scale
        ws = self._windows.get(OP_CLASS.get(scope, scope))
        if not ws:
            return math.inf
        if window is not None:
            for n, t in ws:
                if t == window:
                    return n / t * self.time_scale
            raise ValueError(f"no {window} s window for {scope}")
        return min(n / t for n, t in ws) * self.time_scale

    def burst(self, scope: str = "app") -> float:
        """How many calls a full bucket lets through at once."""
        if not self.enabled:
            return math.inf
        if scope == "app":
            return math.inf if self.app_rps is None else self._app_capacity()
        ws = self._windows.get(OP_CLASS.get(scope, scope))
        return math.inf if not ws else min(n for n, _ in ws)

    def _app_capacity(self) -> float:
        return max(1.0, (self.app_rps or 0) * self.app_burst_seconds)

    # ------------------------------------------------------------------ check
    def check(self, op: str, thread: str | None = None) -> Decision:
        """Take a token for one call of ``op`` in ``thread`` or say how long to wait."""
        if not self.enabled:
            return Decision(True)
        now = self.clock()
        with self._lock:
            buckets: list[tuple[str, TokenBucket]] = []
            if self.app_rps is not None:
                if self._app is None:
                    self._app = TokenBucket(
                        self.app_rps * self.time_scale, self._app_capacity(), now
                    )
                else:
                    self._app.refill(now)
                buckets.append(("app", self._app))
            cls = OP_CLASS.get(op)
            ws = self._windows.get(cls) if cls else None
            if ws and thread is not None:
                key = (cls, thread)
                tb = self._threads.get(key)
                if tb is None:
                    tb = [TokenBucket(n / t * self.time_scale, n, now) for n, t in ws]
                    self._threads[key] = tb
                else:
                    for b in tb:
                        b.refill(now)
                buckets.extend((cls, b) for b in tb)
            worst, scope = 0.0, ""
            for name, b in buckets:
                w = b.wait()
                if w > worst:
                    worst, scope = w, name
            if worst > 0:
                return Decision(False, worst, scope)
            for _, b in buckets:
                b.tokens = max(0.0, b.tokens - 1.0)
            return Decision(True)
