"""The scheduler decides nothing on its own clock: a reminder wake-up is set "this long
from now" on the wall clock APScheduler runs on, however far the bot's clock is."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from bot.clock import SettableClock
from bot.scheduler import Scheduler


def test_a_wake_up_is_as_far_ahead_as_the_reminder_on_the_bots_clock():
    clock = SettableClock(datetime(2030, 1, 1, 8, 0, tzinfo=UTC))  # years from the wall clock
    wake = clock.now() + timedelta(minutes=90)
    core = SimpleNamespace(
        clock=clock,
        reminders=SimpleNamespace(sweep=lambda: None, next_wake=lambda: wake),
    )
    scheduler = Scheduler(core)
    scheduler._scheduler.start(paused=True)
    try:
        scheduler.sweep_reminders()
        job = scheduler._scheduler.get_job("reminders-wake")
        ahead = job.trigger.run_date - datetime.now(UTC)
        assert timedelta(minutes=89) < ahead <= timedelta(minutes=90)
    finally:
        scheduler._scheduler.shutdown(wait=False)


def test_no_wake_up_for_a_reminder_already_due():
    clock = SettableClock(datetime(2020, 1, 1, tzinfo=UTC))
    core = SimpleNamespace(
        clock=clock,
        reminders=SimpleNamespace(sweep=lambda: None, next_wake=lambda: clock.now()),
    )
    scheduler = Scheduler(core)
    scheduler._scheduler.start(paused=True)
    try:
        scheduler.sweep_reminders()
        assert scheduler._scheduler.get_job("reminders-wake") is None
    finally:
        scheduler._scheduler.shutdown(wait=False)
