"""The learning rule of the pacing budgets, on an injected clock: no sleeping."""

from __future__ import annotations

import pytest

from bot import pacing
from bot.pacing import Budget, Pace, accepted_rate, starting_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_accepted_rate_counts_the_calls_in_the_window():
    times = [10.0 + i * 0.5 for i in range(21)]  # 2 a second from 10 s to 20 s
    rate, n = accepted_rate(times, 15.0, 20.0)
    assert n == 10 and rate == pytest.approx(2.0)


def test_the_accepted_rate_of_a_stream_that_was_idle_counts_from_its_first_call():
    """A cold start: the window reaches back before the first call; the time the
    stream had nothing to send is not time the platform refused it."""
    times = [18.0 + i * 0.5 for i in range(5)]  # 2 a second, from 18 s
    assert accepted_rate(times, 10.0, 20.0)[0] == pytest.approx(0.5)  # from the window
    rate, n = accepted_rate(times, 10.0, 20.0, interval=0.5)
    assert n == 5 and rate == pytest.approx(2.0)


def test_a_429_settles_just_under_the_rate_that_was_accepted_not_half():
    pace = Pace(rate=10.0, low=0.5, high=200.0, probing=True, settled_at=0.0)
    accepted = [90.0 + i * 0.125 for i in range(80)]  # 8 a second accepted, 10 asked
    assert pace.limited(accepted, now=100.0, sent_at=99.9)
    assert pace.rate == pytest.approx(8.0 * pacing.MARGIN, rel=0.03)
    assert pace.settled_at == 100.0


def test_a_429_never_drops_the_rate_by_more_than_half_nor_raises_it():
    pace = Pace(rate=10.0, low=0.5, high=200.0, probing=True, settled_at=0.0)
    sparse = [95.0 + i for i in range(5)]  # 1 a second: little work, not the limit
    assert pace.limited(sparse, now=100.0, sent_at=99.9)
    assert pace.rate == pytest.approx(5.0)
    busy = Pace(rate=10.0, low=0.5, high=200.0, probing=True, settled_at=0.0)
    burst = [94.0 + i * 0.02 for i in range(300)]  # a burst at 50 a second
    assert busy.limited(burst, now=100.0, sent_at=99.9)
    assert busy.rate == pytest.approx(10.0 * pacing.MARGIN)


def test_a_429_for_a_call_sent_before_the_last_settle_only_holds():
    pace = Pace(rate=10.0, low=0.5, high=200.0, probing=True, settled_at=100.0)
    accepted = [90.0 + i * 0.1 for i in range(100)]
    assert not pace.limited(accepted, now=100.2, sent_at=99.95)
    assert pace.rate == 10.0


def test_the_estimate_starts_at_the_last_settle():
    """After a settle the platform's bucket is empty: what it accepted since then is
    its sustained rate, whatever burst it allowed before."""
    pace = Pace(rate=30.0, low=0.5, high=200.0, probing=True, settled_at=100.0)
    before = [98.0 + i * 0.02 for i in range(100)]  # a burst at 50/s before the settle
    after = [100.0 + i * 0.05 for i in range(1, 41)]  # 20/s accepted since
    assert pace.limited(before + after, now=102.0, sent_at=101.9)
    assert pace.rate == pytest.approx(20.0 * pacing.MARGIN, rel=0.03)


def test_429s_that_go_on_after_a_settle_settle_on_what_was_accepted_however_low():
    """The first 429 of a cold climb settles on a burst the platform allowed; when the
    429s go on, what it accepted since is its sustained rate, even far under half."""
    pace = Pace(rate=80.0, low=0.5, high=200.0)
    burst = [99.0 + i * 0.0125 for i in range(80)]  # 80 a second, a bucket emptying
    assert pace.limited(burst, now=100.0, sent_at=99.99)
    assert pace.rate == pytest.approx(80.0 * pacing.MARGIN, rel=0.03)
    since = [100.0 + i * 0.1 for i in range(1, 7)]  # then 10 a second, between 429s
    assert not pace.limited(burst + since[:2], now=100.25, sent_at=100.21)  # too few yet
    assert pace.limited(burst + since, now=100.65, sent_at=100.61)
    assert pace.rate == pytest.approx(6 / 0.65 * pacing.MARGIN, rel=0.03)
    assert pace.rate < 80.0 * pacing.MARGIN * pacing.MAX_DROP


def test_a_rate_that_holds_keep_from_being_reached_is_not_raised():
    """429s hold everyone: the calls go slower than the rate, and raising it would only
    take it further from what the platform allows."""
    pace = Pace(rate=10.0, low=0.5, high=200.0, probing=True)
    held = [100.0 + i * 0.2 for i in range(100)]  # 5 a second went, at a rate of 10
    for i in range(pacing.PROBE_STEP * 3):
        assert not pace.accepted(queued=True, recent=held[: 40 + i % 60])
    assert pace.rate == 10.0
    reached = [100.0 + i * 0.1 for i in range(100)]  # 10 a second: the rate is reached
    for _ in range(pacing.PROBE_STEP):
        pace.accepted(queued=True, recent=reached)
    assert pace.rate == pytest.approx(10.0 * pacing.PROBE_GAIN)


def test_the_rate_rises_only_while_callers_queue_for_it():
    pace = Pace(rate=5.0, low=0.25, high=100.0)
    for _ in range(100):
        assert not pace.accepted(queued=False)
    assert pace.rate == 5.0
    for _ in range(pacing.START_STEP):
        pace.accepted(queued=True)
    assert pace.rate == pytest.approx(5.0 * pacing.START_GAIN)


def test_after_the_first_429_it_probes_slowly_and_never_past_its_range():
    pace = Pace(rate=5.0, low=0.25, high=5.5, probing=True)
    for _ in range(pacing.PROBE_STEP):
        pace.accepted(queued=True)
    assert pace.rate == pytest.approx(5.0 * pacing.PROBE_GAIN)
    for _ in range(pacing.PROBE_STEP * 20):
        pace.accepted(queued=True)
    assert pace.rate == 5.5


def test_what_was_learned_is_forgotten_with_a_half_life():
    assert starting_rate(300, 600, 0) == 600
    assert starting_rate(300, 600, pacing.HALF_LIFE) == pytest.approx(450)
    assert starting_rate(300, 150, 2 * pacing.HALF_LIFE) == pytest.approx(262.5)
    assert starting_rate(300, None, 0) == 300


def test_a_budget_learns_on_its_clock_and_reports_what_it_settles_on():
    clock = Clock()
    learned: list[float] = []
    budget = Budget(600, monotonic=clock, learn=True, probing=True, on_learn=learned.append)
    # The platform accepts 8 a second while the budget asks 10: 429 at the end.
    for i in range(80):
        clock.now = 1000.0 + i * 0.125
        budget.acquire()
        budget.accepted()
    clock.now = 1010.0
    budget.acquire()
    budget.limited(0.5)
    assert budget.per_minute == pytest.approx(8 * 60 * pacing.MARGIN, rel=0.05)
    assert learned and learned[-1] == pytest.approx(budget.per_minute)
    assert budget.holds == 1


def test_a_fixed_budget_does_not_learn():
    clock = Clock()
    budget = Budget(600, monotonic=clock)
    budget.acquire()
    budget.limited(1.0)
    budget.accepted()
    assert budget.per_minute == 600 and not budget.learning


def test_the_store_keeps_what_was_learned(store):
    from datetime import UTC, datetime

    at = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
    store.remember_rate("slack chat.postMessage", 600.0, at)
    store.remember_rate("slack chat.postMessage", 582.5, at)
    assert store.learned_rates() == {"slack chat.postMessage": (582.5, at)}


def test_a_budget_starts_from_what_was_learned_and_forgets_it_with_age(store):
    from datetime import UTC, datetime, timedelta

    class Now:
        def now(self):
            return datetime(2026, 1, 6, 9, 30, tzinfo=UTC)

    learned_at = Now().now() - timedelta(seconds=pacing.HALF_LIFE)
    store.remember_rate("slack chat.update", 150.0, learned_at)
    budget = pacing.learning_budget(store, Now(), "slack chat.update", 50)
    assert budget.per_minute == pytest.approx(100.0) and budget.learning
    fixed = pacing.learning_budget(store, Now(), "slack chat.update", 50, learn=False)
    assert fixed.per_minute == 50 and not fixed.learning


def test_the_status_estimate_uses_the_learned_rates():
    from bot.domain import MemoCounts, RetractionCounts
    from bot.platform import StatusReport
    from bot.status import finish_estimate

    budgets = {"post": Budget(600), "edit": Budget(60)}

    class Platform:
        def budget(self, stream):
            return budgets[stream]

    class Memo:
        state = "sending"

    report = StatusReport(Memo(), MemoCounts(recipients=1000, pending=900))
    assert finish_estimate(Platform(), report, "memo") == (90.0, 600)
    report.retraction_counts = RetractionCounts(pending=600, edits_total=1000, edits_done=940)
    assert finish_estimate(Platform(), report, "retraction") == (60.0, 600)
    assert pacing.time_to_finish(90.0, 600) == (
        "About 2 min to go at 600 a minute (the rate learned so far)"
    )


def test_a_turn_taken_before_a_429_is_not_used_during_its_hold():
    """The outbox takes its turn, then claims, then calls: a 429 meanwhile (another
    worker's) voids the turn, and the call waits for a new slot after the hold."""
    import threading

    clock = Clock()
    budget = Budget(600, monotonic=clock, learn=True)
    assert budget.take_turn()
    budget.hold(5.0)  # another worker's 429: nobody calls for 5 s
    stopped = threading.Event()
    stopped.set()
    assert budget.acquire(stopped) is False  # it would wait for the hold, not call now
    assert budget.take_turn(stopped) is False  # so would a new turn
    clock.now += 5.0
    assert budget.acquire()  # after the hold: a slot at once


def test_after_a_hold_the_callers_resume_one_interval_apart():
    clock = Clock()
    budget = Budget(600, monotonic=clock)  # a slot every 0.1 s
    for _ in range(5):  # five slots taken ahead, as waiting workers take them
        with budget._lock:
            budget._tat = max(budget._tat, clock.now) + budget._interval
    generation = budget._generation
    budget.hold(0.2)
    # The slots taken before the hold are void (their holders take new ones): the next
    # is right after the hold, not after the five taken before it.
    assert budget._generation == generation + 1
    assert budget._tat == pytest.approx(clock.now + 0.2)
