"""Reminders and escalation: who is owed a reminder, and when, in their own working hours.

The sweep is safe to run at any moment, twice at once, or after a long
downtime: times live in the store, reminder rows are unique per
(kind, person, number), and the outbox sends each row once.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.clock import Clock
from bot.config import Settings
from bot.hours import reminder_due
from bot.store import ACK_REMINDER, RETRACTION_REMINDER, Store

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1024)
def _zone(name: str | None) -> ZoneInfo | None:
    """A time zone by name, None when unknown. ZoneInfo keeps only 8 zones for sure: a
    sweep over people in many zones read their files from disk again, person by person."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


class Reminders:
    def __init__(
        self, store: Store, clock: Clock, settings: Settings, on_queued: Callable[[], None]
    ):
        self.store = store
        self.clock = clock
        self.settings = settings
        self.on_queued = on_queued

    def zone(self, name: str | None) -> ZoneInfo:
        return _zone(name) or self.settings.default_timezone

    def plan(self, target: dict, now: datetime) -> tuple[int, datetime | None, datetime | None]:
        """When this person's next reminder goes: (target, when or None, due time if deferred)."""
        due = reminder_due(
            anchor=target["anchor"],
            reminders_sent=target["reminders_sent"],
            last_reminder_at=target["last_reminder_at"],
            first_after=self.settings.retraction_remind_after,
            every=self.settings.remind_every,
        )
        earliest = max(due, now)
        at = self.settings.working_hours.next_open(earliest, self.zone(target["tz"]))
        if target["deadline"] is not None and at >= target["deadline"]:
            return target["id"], None, None  # acknowledgement reminders stop at the deadline
        return target["id"], at, (due if at > earliest else None)

    def sweep(self) -> dict[str, int]:
        now = self.clock.now()
        limit = self.settings.max_reminders
        self.store.cancel_unwanted_reminders(now)
        queued = {}
        for kind in (RETRACTION_REMINDER, ACK_REMINDER):
            targets = self.store.reminder_targets_to_schedule(kind, limit)
            if targets:
                self.store.schedule_reminders(kind, [self.plan(t, now) for t in targets], now)
            # Someone due while the bot was down, or whose window has just closed, waits for
            # their next window rather than getting a reminder at night.
            closed = [
                t
                for t in self.store.due_reminder_targets(kind, limit, now)
                if self.settings.working_hours.next_open(now, self.zone(t["tz"])) > now
            ]
            if closed:
                self.store.schedule_reminders(
                    kind,
                    [
                        (
                            t["id"],
                            self.settings.working_hours.next_open(now, self.zone(t["tz"])),
                            now,
                        )
                        for t in closed
                    ],
                    now,
                )
            queued[kind] = self.store.queue_due_reminders(kind, limit, now)
        grace = self.settings.remind_every if limit else self.settings.retraction_remind_after
        escalated = self.store.queue_escalations(
            max_reminders=limit,
            cutoff=now - grace,
            channel=self.settings.escalation_channel,
            now=now,
        )
        queued["escalations"] = len(escalated)
        if any(queued.values()):
            log.info("reminders queued: %s", queued)
            self.on_queued()
        return queued

    def next_wake(self) -> datetime | None:
        return self.store.next_reminder_time()
