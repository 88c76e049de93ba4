"""Retractions: asked for, applied (copies cancelled, notices and edits queued),
read, counted and closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import from_text, to_text
from bot.domain import (
    CANCELLED,
    DELIVERED,
    FAILED,
    MEMO_RETRACTED,
    MEMO_RETRACTING,
    PENDING,
    SENDING,
    WAITING,
    Retraction,
    RetractionCounts,
)
from bot.store.reminders import ACK_REMINDER


class RetractionsMixin:
    """A retraction from its request until its last notice and edit settle."""

    def request_retraction(
        self,
        memo_id: int,
        *,
        by: str,
        by_platform: str,
        reason: str,
        corrections: str,
        now: datetime,
    ) -> bool:
        """Store that `by` retracts the memo; False if it was already retracted (or asked).
        From here on the retraction stands, whatever happens to the process."""
        with self._write() as db:
            row = db.execute("SELECT state FROM memos WHERE id = ?", [memo_id]).fetchone()
            exists = db.execute("SELECT 1 FROM retractions WHERE memo_id = ?", [memo_id]).fetchone()
            if row is None or exists or row[0] in (MEMO_RETRACTING, MEMO_RETRACTED):
                return False
            db.execute(
                "INSERT INTO retractions (memo_id, retracted_by, retracted_by_platform, reason,"
                " corrections, requested_at) VALUES (?, ?, ?, ?, ?, ?)",
                [memo_id, by, by_platform, reason, corrections, to_text(now)],
            )
            self._audit(
                db,
                now,
                "retraction requested",
                actor=by,
                memo_id=memo_id,
                detail={"reason": reason, "corrections": corrections},
            )
        return True

    def unapplied_retractions(self) -> list[int]:
        return [
            row["memo_id"]
            for row in self._rows("SELECT memo_id FROM retractions WHERE retracted_at IS NULL")
        ]

    def apply_retraction(self, memo_id: int, now: datetime) -> Retraction | None:
        """The retraction, in one transaction: the memo stops sending, every copy
        not yet on its way is cancelled, and notices and edits are queued for
        every delivered copy. None if there is no request or it was applied."""
        with self._write() as db:
            request = db.execute(
                "SELECT retracted_by, reason, corrections, retracted_at FROM retractions"
                " WHERE memo_id = ?",
                [memo_id],
            ).fetchone()
            if request is None or request[3] is not None:
                return None
            by, reason, corrections, _ = request
            db.execute("UPDATE memos SET state = ? WHERE id = ?", [MEMO_RETRACTING, memo_id])
            db.execute(
                "UPDATE retractions SET retracted_at = ? WHERE memo_id = ?", [to_text(now), memo_id]
            )
            cancelled = db.execute(
                "UPDATE copies SET state = ?, cancelled_at = ? WHERE memo_id = ? AND state = ?"
                " AND in_doubt = 0 RETURNING platform, recipient_id",
                [CANCELLED, to_text(now), memo_id, PENDING],
            ).fetchall()
            self._cancel_posts(db, memo_id, now)
            queued = self._queue_notices_and_edits(db, memo_id, now)
            queued += self._queue_channel_retraction(db, memo_id, now)
            self._cancel_reminders(db, ACK_REMINDER, "memo_id = ?", [memo_id])
            self._audit(
                db,
                now,
                "memo retracted",
                actor=by,
                memo_id=memo_id,
                detail={
                    "reason": reason,
                    "corrections": corrections,
                    "cancelled": len(cancelled),
                    "notices": queued,
                },
            )
            for platform, recipient in cancelled:
                self._audit(
                    db, now, "copy cancelled", memo_id=memo_id, subject=f"{platform}:{recipient}"
                )
            self._close_retraction_if_done(db, memo_id, now)
        return self.retraction(memo_id)

    def retraction(self, memo_id: int) -> Retraction | None:
        row = self._row("SELECT * FROM retractions WHERE memo_id = ?", [memo_id])
        if row is None:
            return None
        return Retraction(
            memo_id=row["memo_id"],
            retracted_by=row["retracted_by"],
            retracted_by_platform=row["retracted_by_platform"],
            reason=row["reason"],
            corrections=row["corrections"] or "",
            retracted_at=from_text(row["retracted_at"]) or from_text(row["requested_at"]),
            applied=row["retracted_at"] is not None,
            status_channel=row["status_channel"],
            status_ts=row["status_ts"],
            done_at=from_text(row["done_at"]),
        )

    def set_retraction_status_message(self, memo_id: int, channel: str, ts: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE retractions SET status_channel = ?, status_ts = ? WHERE memo_id = ?",
                [channel, ts, memo_id],
            )

    def retraction_counts(self, memo_id: int) -> RetractionCounts:
        counts = RetractionCounts()
        for row in self.db.query(
            "SELECT state, count(*) AS n, count(seen_at) AS seen FROM notices WHERE memo_id = ?"
            " GROUP BY state",
            [memo_id],
        ):
            counts.to_notify += row["n"]
            counts.seen += row["seen"]
            if row["state"] == DELIVERED:
                counts.notified += row["n"]
            elif row["state"] == FAILED:
                counts.failed += row["n"]
            else:
                counts.pending += row["n"]
        for row in self.db.query(
            "SELECT state, count(*) AS n FROM edits WHERE memo_id = ? GROUP BY state", [memo_id]
        ):
            counts.edits_total += row["n"]
            if row["state"] == DELIVERED:
                counts.edits_done += row["n"]
            elif row["state"] == FAILED:
                counts.edits_failed += row["n"]
        row = self._row(
            "SELECT count(*) AS n FROM copies WHERE memo_id = ? AND state = ?", [memo_id, CANCELLED]
        )
        counts.cancelled = row["n"]
        return counts

    def _close_retraction_if_done(self, db, memo_id: int, now: datetime) -> None:
        state = db.execute("SELECT state FROM memos WHERE id = ?", [memo_id]).fetchone()
        if not state or state[0] != MEMO_RETRACTING:
            return
        busy = db.execute(
            "SELECT 1 FROM copies WHERE memo_id = ? AND state IN (?, ?) LIMIT 1",
            [memo_id, PENDING, SENDING],
        ).fetchone() or any(
            db.execute(
                f"SELECT 1 FROM {kind} WHERE memo_id = ? AND state IN (?, ?, ?) LIMIT 1",
                [memo_id, PENDING, SENDING, WAITING],
            ).fetchone()
            for kind in ("notices", "edits", "posts", "post_notices", "post_edits")
        )
        if busy:
            return
        db.execute("UPDATE memos SET state = ? WHERE id = ?", [MEMO_RETRACTED, memo_id])
        db.execute("UPDATE retractions SET done_at = ? WHERE memo_id = ?", [to_text(now), memo_id])
        self._audit(db, now, "retraction completed", memo_id=memo_id)

    def _queue_retraction_of_copy(self, db, copy_id: int, now: datetime) -> None:
        """A copy delivered while its memo is being retracted needs its notice and edit."""
        row = db.execute(
            "SELECT m.state, c.memo_id, c.platform, c.recipient_id, c.acknowledged_at"
            " FROM copies c JOIN memos m ON m.id = c.memo_id WHERE c.id = ?",
            [copy_id],
        ).fetchone()
        if row and row[0] in (MEMO_RETRACTING, MEMO_RETRACTED):
            self._queue_notices_and_edits(db, row[1], now, copy_ids=[copy_id])
            if row[0] == MEMO_RETRACTED:
                db.execute("UPDATE memos SET state = ? WHERE id = ?", [MEMO_RETRACTING, row[1]])
                db.execute("UPDATE retractions SET done_at = NULL WHERE memo_id = ?", [row[1]])

    def _queue_notices_and_edits(
        self, db, memo_id: int, now: datetime, copy_ids: list[int] | None = None
    ) -> int:
        stamp = to_text(now)
        only = ""
        params: list[Any] = [stamp, memo_id, DELIVERED]
        if copy_ids is not None:
            only = f" AND id IN ({','.join('?' * len(copy_ids))})"
            params += copy_ids
        cursor = db.execute(
            "INSERT INTO notices (copy_id, memo_id, platform, recipient_id, state,"
            " priority, attempts, in_doubt, next_attempt_at, reminders_sent)"
            f" SELECT id, memo_id, platform, recipient_id, '{PENDING}',"
            " CASE WHEN acknowledged_at IS NULL THEN 1 ELSE 0 END, 0, 0, ?, 0"
            f" FROM copies WHERE memo_id = ? AND state = ?{only} AND post_id IS NULL"
            " ON CONFLICT DO NOTHING",
            params,
        )
        db.execute(
            "INSERT INTO edits (id, memo_id, platform, state, attempts, in_doubt,"
            f" next_attempt_at) SELECT id, memo_id, platform, '{WAITING}', 0, 0, ?"
            f" FROM copies WHERE memo_id = ? AND state = ?{only} AND post_id IS NULL"
            " ON CONFLICT DO NOTHING",
            params,
        )
        return cursor.rowcount
