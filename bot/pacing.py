"""Pacing of calls to a rate-limited platform method.

A `Budget` hands out send slots at a steady rate (a generic cell rate
algorithm: a small burst, then one slot every 1/rate seconds), shared by every
thread that calls that method, and closes for everyone when the platform says
"slow down" (429 with Retry-After). Pacing at the published rate keeps the
limit busy without provoking a 429 on every other call; the hold keeps a 429
from being answered by the other workers hammering the same limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Budget:
    def __init__(
        self,
        per_minute: float | None,
        *,
        burst: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._interval = 60.0 / per_minute if per_minute else 0.0
        self._tolerance = max(0, burst - 1) * self._interval
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._tat = 0.0  # theoretical arrival time of the next slot
        self._hold_until = 0.0
        self._paid = threading.local()  # a turn taken ahead of the call it is for
        self.waited = 0.0  # total seconds callers spent waiting (for benchmarks)
        self.holds = 0

    @property
    def per_minute(self) -> float | None:
        return 60.0 / self._interval if self._interval else None

    def take_turn(self, stop: threading.Event | None = None) -> bool:
        """Wait for a slot now, for a call this thread makes next: the outbox takes its
        turn before it claims an item, so that an item is `sending` (in doubt after a
        crash) only while its call is really under way. False if `stop` was set."""
        if not self._wait_for_slot(stop):
            return False
        self._paid.turn = True
        return True

    def give_back(self) -> None:
        """Return a turn this thread took but did not use (nothing to claim, or only a
        check that makes no paced call), so that the rate is not lost."""
        if getattr(self._paid, "turn", False):
            self._paid.turn = False
            with self._lock:
                self._tat = max(self._monotonic(), self._tat - self._interval)

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Block until this caller may make one call (at once when this thread already
        took its turn). False if `stop` was set."""
        if getattr(self._paid, "turn", False):
            self._paid.turn = False
            return True
        return self._wait_for_slot(stop)

    def _wait_for_slot(self, stop: threading.Event | None) -> bool:
        while True:
            with self._lock:
                now = self._monotonic()
                slot = max(now, self._tat - self._tolerance, self._hold_until)
                self._tat = max(self._tat, slot) + self._interval
            wait = slot - now
            if wait > 0:
                self.waited += wait
                if stop is not None:
                    if stop.wait(wait):
                        return False
                else:
                    time.sleep(wait)
            with self._lock:
                if self._monotonic() >= self._hold_until:
                    return True
            # A 429 arrived while we slept: take a new slot after the hold.

    def hold(self, seconds: float) -> None:
        """Nobody calls before `seconds` from now (the platform's Retry-After)."""
        with self._lock:
            until = self._monotonic() + max(0.0, seconds)
            if until > self._hold_until:
                self._hold_until = until
                self.holds += 1
            self._tat = max(self._tat, self._hold_until)
