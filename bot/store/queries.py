"""Read-only queries: the report's rows, what a person received or still owes,
and single copies and notices read back."""

from __future__ import annotations

from collections.abc import Iterator

from bot.clock import from_text
from bot.domain import (
    DELIVERED,
    MEMO_SENDING,
    MEMO_SENT,
    SENDING,
    Copy,
    Memo,
    Notice,
)
from bot.store.rows import _copy, _notice


class QueriesMixin:
    """Reads that change nothing."""

    def report_rows(self, memo_id: int, batch: int = 2000) -> Iterator[dict]:
        """One row per recipient, in recipient order, read in batches (bounded memory)."""
        last = 0
        while True:
            rows = self._rows(
                "SELECT c.id AS copy_id, c.memo_id, c.recipient_id, c.recipient_name, c.platform,"
                " c.state AS delivery_status, c.error AS delivery_error, c.delivered_at,"
                " c.acknowledged_at, c.in_doubt AS copy_in_doubt,"
                " n.state AS retraction_status, n.error AS retraction_error,"
                " n.delivered_at AS retraction_delivered_at, n.seen_at,"
                " coalesce(n.reminders_sent, 0) + coalesce(c.reminders_sent, 0) AS reminders_sent,"
                " CASE WHEN coalesce(n.last_reminder_at, '') > coalesce(c.last_reminder_at, '')"
                " THEN n.last_reminder_at ELSE coalesce(c.last_reminder_at, '') END AS last_reminder_at,"
                " n.escalated_at,"
                " CASE WHEN c.post_id IS NULL THEN 'DM'"
                "  ELSE '#' || coalesce(nullif(p.channel_name, ''), p.recipient_id) END"
                " AS delivered_in"
                " FROM copies c LEFT JOIN notices n ON n.copy_id = c.id"
                " LEFT JOIN posts p ON p.id = c.post_id"
                " WHERE c.memo_id = ? AND c.id > ? ORDER BY c.id LIMIT ?",
                [memo_id, last, batch],
            )
            if not rows:
                return
            yield from rows
            last = rows[-1]["copy_id"]

    def median_seconds_to_seen(self, memo_id: int) -> float | None:
        """Computed here, not in SQL: the time between two stored texts is not portable
        (SQLite's julianday, PostgreSQL's extract(epoch ...))."""
        rows = self._rows(
            "SELECT seen_at, delivered_at FROM notices"
            " WHERE memo_id = ? AND seen_at IS NOT NULL AND delivered_at IS NOT NULL",
            [memo_id],
        )
        if not rows:
            return None
        seconds = sorted(
            (from_text(r["seen_at"]) - from_text(r["delivered_at"])).total_seconds() for r in rows
        )
        return seconds[(len(seconds) - 1) // 2]

    def memos_received_by(
        self, platform: str, person_id: str, limit: int = 10
    ) -> list[tuple[Memo, Copy]]:
        rows = self._rows(
            "SELECT c.id AS copy_id FROM copies c WHERE c.platform = ? AND c.recipient_id = ?"
            " AND c.state = ? ORDER BY c.memo_id DESC LIMIT ?",
            [platform, person_id, DELIVERED, limit],
        )
        result = []
        for row in rows:
            copy = self.copy(row["copy_id"])
            result.append((self.memo(copy.memo_id), copy))
        return result

    def awaiting_acknowledgement(
        self, platform: str, person_id: str, limit: int = 20
    ) -> list[tuple[Memo, Copy]]:
        rows = self._rows(
            "SELECT c.id FROM copies c JOIN memos m ON m.id = c.memo_id WHERE c.platform = ?"
            " AND c.recipient_id = ? AND c.state = ? AND c.acknowledged_at IS NULL AND m.ask_ack = 1"
            " AND m.state IN (?, ?) ORDER BY c.memo_id DESC LIMIT ?",
            [platform, person_id, DELIVERED, MEMO_SENDING, MEMO_SENT, limit],
        )
        return [(self.memo(c.memo_id), c) for c in (self.copy(r["id"]) for r in rows)]

    def unconfirmed_notices(
        self, platform: str, person_id: str, limit: int = 20
    ) -> list[tuple[Memo, Notice]]:
        rows = self._rows(
            "SELECT id FROM notices WHERE platform = ? AND recipient_id = ? AND state = ?"
            " AND seen_at IS NULL ORDER BY memo_id DESC LIMIT ?",
            [platform, person_id, DELIVERED, limit],
        )
        return [(self.memo(n.memo_id), n) for n in (self.notice(r["id"]) for r in rows)]

    def received(self, memo_id: int, platform: str, person_id: str) -> bool:
        return bool(
            self._row(
                "SELECT 1 FROM copies WHERE memo_id = ? AND platform = ? AND recipient_id = ?"
                " AND state IN (?, ?)",
                [memo_id, platform, person_id, DELIVERED, SENDING],
            )
        )

    def copy(self, copy_id: int) -> Copy | None:
        row = self._row("SELECT * FROM copies WHERE id = ?", [copy_id])
        return _copy(row) if row else None

    def notice(self, notice_id: int) -> Notice | None:
        row = self._row("SELECT * FROM notices WHERE id = ?", [notice_id])
        return _notice(row) if row else None

    def notice_for_copy(self, copy_id: int) -> Notice | None:
        row = self._row("SELECT * FROM notices WHERE copy_id = ?", [copy_id])
        return _notice(row) if row else None

    def copies_of(self, memo_id: int) -> list[Copy]:
        return [
            _copy(row)
            for row in self._rows("SELECT * FROM copies WHERE memo_id = ? ORDER BY id", [memo_id])
        ]

    def notices_of(self, memo_id: int) -> list[Notice]:
        return [
            _notice(row)
            for row in self._rows("SELECT * FROM notices WHERE memo_id = ? ORDER BY id", [memo_id])
        ]
