"""Periodic sweeps on APScheduler 3.x. The scheduler holds no state that matters:
each job asks the store what is due, claims it, and acts, so a double fire, a
slow run overlapping the next, or a restart changes nothing.

Jobs use an in-memory job store on purpose: what is due lives in our own
tables. `coalesce=True` turns a backlog of missed runs into one run, and
`misfire_grace_time` lets a run that is late (a busy machine, a long sweep)
still happen instead of being skipped; a restart catches up on its first run.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30
# A worker settles a claim within its request timeout; one older than this lost its outcome.
STALE_CLAIM_SECONDS = 300
# A checkpoint is due daily or after a retraction; this sweep posts it, or retries one that failed.
CHECKPOINT_SWEEP_SECONDS = 300


class Scheduler:
    def __init__(self, core: Core):
        self.core = core
        self._scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )

    def start(self) -> None:
        settings = self.core.settings
        never_synced = any(
            self.core.store.directory_synced_at(name) is None for name in self.core.platforms
        )
        # A first start loads the directory at once, so "Everyone" never waits for it.
        # (APScheduler reads an explicit next_run_time=None as "paused": leave it out.)
        first_run = {"next_run_time": _wall_clock_now()} if never_synced else {}
        self._scheduler.add_job(
            self.refresh_directories,
            IntervalTrigger(seconds=settings.directory_refresh_every.total_seconds()),
            id="directory",
            name="refresh the people directory",
            **first_run,
        )
        self._scheduler.add_job(
            self.core.resume_audiences,
            IntervalTrigger(seconds=SWEEP_SECONDS),
            id="audiences",
            name="resolve audiences left unresolved",
        )
        self._scheduler.add_job(
            self.recover_stale_claims,
            IntervalTrigger(seconds=STALE_CLAIM_SECONDS),
            id="stale-claims",
            name="put back sends whose worker lost their outcome",
        )
        self._scheduler.add_job(
            self.sweep_reminders,
            IntervalTrigger(seconds=SWEEP_SECONDS),
            id="reminders",
            name="queue due reminders and escalations",
            next_run_time=_wall_clock_now(),  # catch up at once after a restart
        )
        if self.core.checkpoints is not None:
            self._scheduler.add_job(
                self.core.checkpoints.sweep,
                IntervalTrigger(seconds=CHECKPOINT_SWEEP_SECONDS),
                id="audit-checkpoint",
                name="post the audit chain's head when due (daily, after a retraction)",
                coalesce=True,
                misfire_grace_time=CHECKPOINT_SWEEP_SECONDS,
                next_run_time=_wall_clock_now(),
            )
        self._scheduler.start()

    def recover_stale_claims(self) -> None:
        now = self.core.clock.now()
        found = self.core.store.recover_in_flight(
            now, claimed_before=now - timedelta(seconds=STALE_CLAIM_SECONDS)
        )
        if any(found.values()):
            log.warning("claims left on their way, now in doubt and to be checked: %s", found)
            self.core.outbox.kick()

    def sweep_reminders(self) -> None:
        self.core.reminders.sweep()
        wake = self.core.reminders.next_wake()
        now = self.core.clock.now()
        if wake is not None and wake > now:
            # A reminder due at a window's opening goes then, not at the next periodic
            # tick. Replacing this wake-up job is safe: the periodic sweep still runs.
            # What is due is decided on the bot's clock; APScheduler waits on the wall
            # clock, so the wake-up is "this long from now" on it.
            self._scheduler.add_job(
                self.sweep_reminders,
                DateTrigger(run_date=_wall_clock_now() + (wake - now)),
                id="reminders-wake",
                replace_existing=True,
                misfire_grace_time=None,
            )

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def refresh_directories(self) -> None:
        for name, platform in self.core.platforms.items():
            try:
                count = platform.refresh_directory()
                log.info("directory of %s refreshed: %d people", name, count)
            except Exception:
                log.exception("directory refresh of %s failed", name)


def _wall_clock_now() -> datetime:
    """APScheduler's own time (its triggers run on the wall clock): only to say "run
    this job now" or "in so long"; what is due is always decided on the bot's clock."""
    return datetime.now(UTC)
