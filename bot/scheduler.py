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
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

SWEEP_SECONDS = 30


class Scheduler:
    def __init__(self, core: Core):
        self.core = core
        self._scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )

    def start(self) -> None:
        settings = self.core.settings
        self._scheduler.add_job(
            self.refresh_directories,
            IntervalTrigger(seconds=settings.directory_refresh_every.total_seconds()),
            id="directory",
            name="refresh the people directory",
        )
        self._scheduler.add_job(
            self.core.resume_audiences,
            IntervalTrigger(seconds=SWEEP_SECONDS),
            id="audiences",
            name="resolve audiences left unresolved",
        )
        self._scheduler.start()

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
