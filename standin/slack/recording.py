"""Every Web API call in arrival order, and per-method counters for benchmarks."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from standin.slack.records import Call


@dataclass(slots=True)
class MethodStats:
    accepted: int = 0  # reached the method (performed), whatever it answered
    errors: int = 0  # of those, answered ok=false
    rate_limited: int = 0  # HTTP 429 from the rate limiter
    faults: int = 0  # injected faults (429 bursts, 5xx, drops)
    first_accepted: float | None = None
    last_accepted: float | None = None

    def as_dict(self) -> dict:
        span = None
        rate = None
        if self.first_accepted is not None and self.last_accepted is not None:
            span = self.last_accepted - self.first_accepted
            if span > 0 and self.accepted > 1:
                rate = (self.accepted - 1) / span
        return {
            "accepted": self.accepted,
            "errors": self.errors,
            "rate_limited": self.rate_limited,
            "faults": self.faults,
            "first_accepted": self.first_accepted,
            "last_accepted": self.last_accepted,
            "accepted_per_second": rate,
        }


class Recorder:
    def __init__(self, keep_calls: bool = True):
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._stats: dict[str, MethodStats] = {}
        self.keep_calls = keep_calls

    def start(self, call: Call) -> Call:
        if self.keep_calls:
            with self._lock:
                self._calls.append(call)
        return call

    def _method(self, method: str) -> MethodStats:
        st = self._stats.get(method)
        if st is None:
            st = self._stats.setdefault(method, MethodStats())
        return st

    def accepted(self, method: str, ok: bool, at: float) -> None:
        with self._lock:
            st = self._method(method)
            st.accepted += 1
            if not ok:
                st.errors += 1
            if st.first_accepted is None:
                st.first_accepted = at
            st.last_accepted = at

    def rate_limited(self, method: str) -> None:
        with self._lock:
            self._method(method).rate_limited += 1

    def fault(self, method: str) -> None:
        with self._lock:
            self._method(method).faults += 1

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            if method is None:
                return list(self._calls)
            return [c for c in self._calls if c.method == method]

    def stats(self) -> dict[str, dict]:
        with self._lock:
            return {m: st.as_dict() for m, st in sorted(self._stats.items())}

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._stats.clear()
