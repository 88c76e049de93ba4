"""Pacing of calls to a rate-limited platform method, at a rate it learns.

A `Budget` hands out send slots at a steady rate (a generic cell rate
algorithm: a small burst, then one slot every 1/rate seconds), shared by every
thread that calls that method, and closes for everyone when the platform says
"slow down" (429 with Retry-After). Pacing at the allowed rate keeps the limit
busy without provoking a 429 on every other call; the hold keeps a 429 from
being answered by the other workers hammering the same limit.

Platforms do not publish their real limits (Slack: chat.postMessage "several
hundred a minute", Tier 3 "50+"), so a learning budget treats its setting as
the rate to start from, not a cap (`Pace`, the pure rule):

- while callers queue for slots and the platform accepts, the rate grows:
  quickly until the first 429 (the ceiling is still unknown), then slowly (a
  probe: limits change), and then only while the calls really go at the rate:
  a rate that 429s' holds keep from being reached is not raised, it would only
  climb away from what the platform allows;
- a 429 holds everyone for Retry-After, and the rate settles just under the
  rate the platform was accepting when it came: the accepted calls since the
  previous settle (at most the last `WINDOW` intervals) over that time. The
  first 429 after a settle never lowers the rate by more than half (few calls
  were accepted in its window perhaps only because there was little to send);
  when 429s go on after a settle, the platform is refusing what it was given,
  and the rate goes to what it accepted, however far below. No 429 raises it;
- 429s from calls that left before the last settle only hold: they answer the
  old rate, already corrected.

What was learned is kept in the store (the adapters do it through `on_learn`)
and forgotten slowly: `starting_rate` moves it back toward the setting with a
half-life (a day by default), so a restart and the next memo start from it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)

MARGIN = 0.97  # settle this far under the rate the platform was accepting
MAX_DROP = 0.5  # one 429 lowers the rate at most to this share
START_GAIN, START_STEP = 1.5, 10  # before the first 429: x1.5 every 10 accepted calls
PROBE_GAIN, PROBE_STEP = 1.02, 30  # after it: x1.02 every 30 accepted calls
REACHED = 0.9  # raise only when the calls of the last REACHED_SPAN went at this share of the rate
REACHED_SPAN = 2.0  # seconds
WINDOW = 60  # the estimate looks back at most this many intervals (at the current rate)
ESTIMATE_SPAN = 2.0  # ... or this many seconds, whichever is longer
MIN_CALLS = 5  # fewer accepted calls since the last settle: hold only, too little to judge
RANGE = 20.0  # the learned rate stays within setting / RANGE ... setting * RANGE
HALF_LIFE = 86400.0  # seconds for a learned rate to forget half its distance to the setting
PERSIST_EVERY = 5.0  # seconds between reports of a rising rate to `on_learn`


def accepted_rate(
    accepted: Iterable[float], start: float, now: float, interval: float = 0.0
) -> tuple[float, int]:
    """Calls per second the platform accepted in (start, now], and how many. When the
    calls began inside the window (the stream was idle before), the time counts from
    the first one's slot (`interval` before it), not from `start`; with no `interval`,
    from `start`."""
    inside = [t for t in accepted if start < t <= now]
    if not inside:
        return 0.0, 0
    span = now - (max(start, inside[0] - interval) if interval else start)
    return (len(inside) / span if span > 0 else 0.0), len(inside)


@dataclass
class Pace:
    """The learning rule, pure: what the rate becomes after an accepted call or a 429.
    Times are seconds on any monotonic clock; `rate` is calls per second."""

    rate: float
    low: float
    high: float
    probing: bool = False  # False until the first 429: the ceiling is unknown
    settled_at: float = float("-inf")
    streak: int = 0  # accepted calls, while callers queued, since the last step
    refused: int = 0  # 429s since the last settle (for calls sent after it)

    def accepted(self, queued: bool, recent: Sequence[float] = ()) -> bool:
        """One call accepted; `queued`: callers waited for their slot (the rate, not the
        work, was the limit); `recent`: the times of the accepted calls, this one last.
        True if the rate rose."""
        if not queued:
            return False
        self.streak += 1
        gain, step = (PROBE_GAIN, PROBE_STEP) if self.probing else (START_GAIN, START_STEP)
        if self.streak < step:
            return False
        self.streak = 0
        if self.probing and len(recent) >= step:
            # What went over the last REACHED_SPAN seconds at least (the step's calls, if
            # they took longer): at the rate unless holds (429s) slowed them. A short span
            # would be fooled by a platform that counts in windows (a burst at the full
            # rate, then a hold until the next window). (Before the first 429 there are
            # no holds; the check would only add noise.)
            span = max(REACHED_SPAN, step / self.rate)
            last = recent[-1]
            n = sum(1 for t in reversed(recent) if t > last - span)
            if recent[0] > last - span:  # less history than that: what there is
                span = last - recent[0]
                n = len(recent) - 1
            if span > 0 and n / span < REACHED * self.rate:
                return False
        before = self.rate
        self.rate = min(self.high, self.rate * gain)
        return self.rate > before

    def limited(self, accepted: Iterable[float], now: float, sent_at: float) -> bool:
        """A 429 at `now` for a call that left at `sent_at`; `accepted`: the times of the
        recently accepted calls. True if the rate settled (lower)."""
        if sent_at < self.settled_at:
            return False  # it answers the rate before the last settle
        self.refused += 1
        # At least ESTIMATE_SPAN: at a high rate 60 intervals are shorter than one hold
        # (Retry-After is whole seconds on the real platforms) and would see only the burst
        # that follows it.
        start = max(self.settled_at, now - max(WINDOW / self.rate, ESTIMATE_SPAN))
        # Since a settle, the whole time counts (the holds are the platform's doing);
        # otherwise from the first call in the window (the stream may have been idle).
        idle_before = 0.0 if start == self.settled_at else 1.0 / self.rate
        estimate, n = accepted_rate(accepted, start, now, idle_before)
        if n < MIN_CALLS and self.probing:
            return False
        # 429s that go on after a settle: the estimate is what the platform accepts.
        floor = self.low if self.refused > 1 else max(self.low, MAX_DROP * self.rate)
        self.rate = max(floor, MARGIN * min(estimate, self.rate))
        self.probing = True
        self.settled_at = now
        self.streak = 0
        self.refused = 0
        return True


def starting_rate(
    setting: float,
    learned: float | None,
    age: float,
    half_life: float = HALF_LIFE,
) -> float:
    """Where to start (per minute): the learned rate, moved back toward the setting by
    half its distance for every `half_life` seconds of `age`."""
    if not learned or learned <= 0 or not setting:
        return setting
    return setting + (learned - setting) * 0.5 ** (max(0.0, age) / half_life)


class Budget:
    def __init__(
        self,
        per_minute: float | None,
        *,
        burst: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
        learn: bool = False,
        setting: float | None = None,
        probing: bool = False,
        on_learn: Callable[[float], None] | None = None,
    ):
        """`per_minute`: the rate to start at (None: unpaced). With `learn`, the rate
        moves (see the module's doc) within `setting` (default: `per_minute`) / RANGE
        ... * RANGE; `probing`: start slowly (the rate was learned before);
        `on_learn(per_minute)` is told when it settles, and at most every
        PERSIST_EVERY seconds while it rises."""
        self._burst = burst
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._tat = 0.0  # theoretical arrival time of the next slot
        self._hold_until = 0.0
        self._paid = threading.local()  # a turn taken ahead of the call it is for
        # Bumped by every hold and settle: the slots taken before it were spaced for a rate
        # the platform has just refused, so their holders take new ones after the hold.
        self._generation = 0
        self.waited = 0.0  # total seconds callers spent waiting (for benchmarks)
        self.holds = 0
        self.limited_calls = 0  # 429s met
        self._set_interval(60.0 / per_minute if per_minute else 0.0)
        self._pace: Pace | None = None
        if learn and per_minute:
            base = (setting or per_minute) / 60.0
            self._pace = Pace(per_minute / 60.0, base / RANGE, base * RANGE, probing=probing)
        self._accepted: deque[float] = deque(maxlen=4096)
        self._queued = False
        self._on_learn = on_learn
        self._reported_at = float("-inf")

    def _set_interval(self, interval: float) -> None:
        self._interval = interval
        self._tolerance = max(0, self._burst - 1) * interval

    @property
    def per_minute(self) -> float | None:
        return 60.0 / self._interval if self._interval else None

    @property
    def learning(self) -> bool:
        return self._pace is not None

    def take_turn(self, stop: threading.Event | None = None) -> bool:
        """Wait for a slot now, for a call this thread makes next: the outbox takes its
        turn before it claims an item, so that an item is `sending` (in doubt after a
        crash) only while its call is really under way. False if `stop` was set."""
        if not self._wait_for_slot(stop):
            return False
        self._paid.turn = True
        self._paid.generation = self._generation
        return True

    def give_back(self) -> None:
        """Return a turn this thread took but did not use (nothing to claim, or only a
        check that makes no paced call), so that the rate is not lost."""
        if getattr(self._paid, "turn", False):
            self._paid.turn = False
            with self._lock:
                if self._paid.generation == self._generation:  # else its slot is gone already
                    self._tat = max(self._monotonic(), self._tat - self._interval)

    def acquire(self, stop: threading.Event | None = None) -> bool:
        """Block until this caller may make one call (at once when this thread already
        took its turn). False if `stop` was set."""
        if getattr(self._paid, "turn", False):
            self._paid.turn = False
            if self._paid.generation == self._generation:
                self._paid.sent_at = self._monotonic()
                return True
            # A 429 came since the turn was taken: a new slot, after the hold.
        if not self._wait_for_slot(stop):
            return False
        self._paid.sent_at = self._monotonic()
        return True

    def _wait_for_slot(self, stop: threading.Event | None) -> bool:
        while True:
            with self._lock:
                generation = self._generation
                now = self._monotonic()
                slot = max(now, self._tat - self._tolerance, self._hold_until)
                self._tat = max(self._tat, slot) + self._interval
                if slot > now:
                    self._queued = True  # the rate holds callers back
            wait = slot - now
            if wait > 0:
                self.waited += wait
                if stop is not None:
                    if stop.wait(wait):
                        return False
                else:
                    time.sleep(wait)
            with self._lock:
                if generation == self._generation and self._monotonic() >= self._hold_until:
                    return True
            # A 429 arrived while we slept: take a new slot after the hold, at the rate now.

    def recent_calls(self, seconds: float) -> int:
        """Calls accepted in the last `seconds` (a learning budget only)."""
        with self._lock:
            since = self._monotonic() - seconds
            return sum(1 for t in self._accepted if t > since)

    def accepted(self) -> None:
        """The platform accepted (answered without a 429) this thread's last call."""
        if self._pace is None:
            return
        report = None
        with self._lock:
            now = self._monotonic()
            self._accepted.append(now)
            queued, self._queued = self._queued, False
            if self._pace.accepted(queued, self._accepted):
                self._set_interval(1.0 / self._pace.rate)
                if now - self._reported_at >= PERSIST_EVERY:
                    self._reported_at = now
                    report = self._pace.rate * 60.0
        if report is not None and self._on_learn is not None:
            self._on_learn(report)

    def limited(self, seconds: float) -> None:
        """The platform refused this thread's last call (429, Retry-After `seconds`):
        hold everyone, and settle under the rate it was accepting."""
        self.hold(seconds)
        if self._pace is None:
            return
        report = None
        with self._lock:
            self.limited_calls += 1
            now = self._monotonic()
            sent_at = getattr(self._paid, "sent_at", now)
            if self._pace.limited(self._accepted, now, sent_at):
                self._set_interval(1.0 / self._pace.rate)
                self._generation += 1
                self._tat = max(now, self._hold_until)
                self._reported_at = now
                report = self._pace.rate * 60.0
        if report is not None and self._on_learn is not None:
            self._on_learn(report)

    def hold(self, seconds: float) -> None:
        """Nobody calls before `seconds` from now (the platform's Retry-After)."""
        with self._lock:
            until = self._monotonic() + max(0.0, seconds)
            if until > self._hold_until:
                self._hold_until = until
                self.holds += 1
                # Every slot taken so far is void: its holder takes a new one after the hold,
                # so the callers resume one interval apart, not all at once.
                self._generation += 1
                self._tat = until


def learning_budget(
    store, clock, key: str, setting: float, *, burst: int = 1, learn: bool = True
) -> Budget:
    """The budget of one paced method (`key`, e.g. "slack chat.postMessage"): starting
    from what the store learned before (forgotten with age), or from `setting`; what
    it learns goes back to the store. With `learn` False: the setting, as a cap."""
    if not learn or not setting:
        return Budget(setting, burst=burst)
    learned, at = store.learned_rates().get(key) or (None, None)
    age = (clock.now() - at).total_seconds() if at else 0.0
    start = starting_rate(setting, learned, age)

    def remember(per_minute: float) -> None:
        try:
            store.remember_rate(key, per_minute, clock.now())
        except Exception:  # a busy database must never stop a send; the next report retries
            log.warning("could not keep the learned rate of %s", key, exc_info=True)

    return Budget(
        start,
        burst=burst,
        learn=True,
        setting=setting,
        probing=learned is not None,
        on_learn=remember,
    )


def time_to_finish(seconds: float, per_minute: float) -> str:
    """The status message's estimate, in words: "About 4 min to go at 612 a minute"."""
    if seconds < 60:
        left = "Less than a minute"
    elif seconds < 3600:
        left = f"About {round(seconds / 60)} min"
    else:
        left = f"About {seconds / 3600:.1f} h"
    return f"{left} to go at {per_minute:,.0f} a minute (the rate learned so far)"
