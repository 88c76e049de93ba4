"""What listeners show: read-only answers from the store (a memo's status, a person's
home, the lists, what a click was about), so that listeners talk to the core and never
query the store themselves. Nothing here writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import reports
from bot.domain import Copy, Memo, MemoCounts, Notice, Retraction, seconds_left
from bot.platform import StatusReport

if TYPE_CHECKING:
    from bot.core import Core


@dataclass(frozen=True)
class Home:
    """A person's own memos: to acknowledge, to confirm, received; and, for comms staff
    and auditors, the recent memos with their counts."""

    role: str
    awaiting: list
    unconfirmed: list
    received: list
    overview: list | None


class Answers:
    def __init__(self, core: Core):
        self._core = core
        self._store = core.store

    def memo(self, memo_id: int) -> Memo | None:
        return self._store.memo(memo_id)

    def memo_by_status_message(self, channel: str | None, ts: str | None) -> Memo | None:
        return self._store.memo_by_status_message(channel, ts)

    def retraction(self, memo_id: int) -> Retraction | None:
        return self._store.retraction(memo_id)

    def status(self, memo_id: int) -> StatusReport | None:
        """A memo with its counts, and its retraction's when there is one."""
        memo = self._store.memo(memo_id)
        if memo is None:
            return None
        retraction = self._store.retraction(memo_id)
        return StatusReport(
            memo,
            self._store.memo_counts(memo_id),
            retraction,
            self._store.retraction_counts(memo_id) if retraction else None,
            seconds_left=seconds_left(memo, self._core.clock.now()),
        )

    def received_by(
        self, platform: str, person_id: str, limit: int = 20
    ) -> list[tuple[Memo, MemoCounts, None]]:
        """The memos a person received, with their counts (an employee's `memo list`)."""
        return [
            (memo, self._store.memo_counts(memo.id), None)
            for memo, _ in self._store.memos_received_by(platform, person_id, limit)
        ]

    def home(self, platform: str, person_id: str) -> Home:
        core = self._core
        return Home(
            role=core.role(platform, person_id),
            awaiting=self._store.awaiting_acknowledgement(platform, person_id),
            unconfirmed=self._store.unconfirmed_notices(platform, person_id),
            received=self._store.memos_received_by(platform, person_id),
            overview=core.overview() if core.may_oversee(platform, person_id) else None,
        )

    def groups(self, platform: str) -> list[dict]:
        """The groups (Slack user groups, Teams teams) a compose form offers."""
        return self._store.groups(platform) if platform in self._core.platforms else []

    def report_summary(self, memo_id: int) -> reports.Summary:
        return reports.summary(self._store, memo_id)

    def report_rows(self, memo_id: int) -> Iterator[dict]:
        """One memo's report, row by row (streamed: bounded memory at any size)."""
        return reports.rows(self._store, memo_id)

    def copy(self, copy_id: int) -> tuple[Memo, Copy] | None:
        copy = self._store.copy(copy_id)
        return (self._store.memo(copy.memo_id), copy) if copy else None

    def notice(self, notice_id: int) -> tuple[Memo, Retraction, Copy, Notice] | None:
        """A notice with its memo, retraction and the copy it is about."""
        notice = self._store.notice(notice_id)
        if notice is None:
            return None
        memo = self._store.memo(notice.memo_id)
        return memo, self._store.retraction(memo.id), self._store.copy(notice.copy_id), notice

    def person(self, platform: str, person_id: str) -> dict:
        """What the directory knows of a person (name, email, tz, and `reference`: how their
        platform reaches them, as it asked to have it stored); {} for a stranger."""
        return _decoded(self._store.person(platform, person_id))

    def reference(self, platform: str, person_id: str) -> dict:
        """How the platform reaches a person (on Teams: their user ID, service URL, tenant,
        1:1 chat); {} when nothing is stored."""
        return self.person(platform, person_id).get("reference") or {}

    def group(self, platform: str, group_id: str) -> dict:
        """A group the bot was added to (a Teams team): name and `reference`; {} if unknown."""
        return _decoded(self._store.group(platform, group_id))

    def time_zone(self, platform: str, person_id: str) -> ZoneInfo:
        """The person's time zone as their platform last told it, else the default one."""
        tz = self.person(platform, person_id).get("tz")
        default = self._core.settings.default_timezone
        try:
            return ZoneInfo(tz) if tz else default
        except (ZoneInfoNotFoundError, ValueError):
            return default


def _decoded(row: dict | None) -> dict:
    """A directory row with its stored `reference` as a dict."""
    if row is None:
        return {}
    return {**row, "reference": json.loads(row.get("reference") or "{}")}
