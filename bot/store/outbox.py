"""The outbox: claiming what is due, giving it back, recovering what was in flight,
and recording each send's outcome with what follows from it, for every kind of
outbox item (copies, notices, edits, reminders, escalations)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlite_utils

from bot.clock import to_text
from bot.domain import (
    CANCELLED,
    DELIVERED,
    FAILED,
    MAX_ATTEMPTS,
    MEMO_SENDING,
    PENDING,
    SENDING,
    WAITING,
    Copy,
    Edit,
    Failed,
    Memo,
    NotFound,
    Notice,
    Outcome,
    Retry,
    Sent,
    Unknown,
    backoff,
)
from bot.store.rows import _copy, _edit, _notice, _one

# The outbox's tables, one per kind of item, and what the audit calls one of each.
KINDS = ("copies", "notices", "edits", "reminders", "escalations")
LABELS = {
    "copies": "copy",
    "notices": "notice",
    "edits": "edit",
    "reminders": "reminder",
    "escalations": "escalation",
}


class OutboxMixin:
    """Claims and outcomes, the same for every kind of outbox item."""

    def _claim(
        self,
        table: str,
        platform: str,
        now: datetime,
        *,
        joins: str = "",
        join_params: tuple = (),
        where: str = "",
        params: tuple = (),
        order: str = "x.id",
    ) -> dict | None:
        """Mark the first due, pending row of `table` (alias x) that also meets `where`
        as on its way, atomically, and return it; None when nothing is due."""
        stamp = to_text(now)
        with self._write() as db:
            return _one(
                db.execute(
                    f"UPDATE {table} SET state = ?, claimed_at = ? WHERE id = ("
                    f" SELECT x.id FROM {table} x {joins} WHERE x.state = ? AND x.platform = ?"
                    f" AND x.next_attempt_at <= ?{where} ORDER BY {order} LIMIT 1) RETURNING *",
                    [SENDING, stamp, *join_params, PENDING, platform, stamp, *params],
                )
            )

    def claim_copy(self, platform: str, now: datetime) -> tuple[Copy, Memo] | None:
        """Take the next due copy for sending. Only copies of a memo still sending
        qualify, except in-doubt ones, which must be checked whatever happened since."""
        claimed = self._claim(
            "copies",
            platform,
            now,
            joins="JOIN memos m ON m.id = x.memo_id",
            where=" AND (m.state = ? OR x.in_doubt = 1)",
            params=(MEMO_SENDING,),
        )
        if claimed is None:
            return None
        return _copy(claimed), self.memo(claimed["memo_id"])

    def claim_notice(self, platform: str, now: datetime) -> tuple[Notice, Copy, Memo] | None:
        """Take the next due notice: everyone who acknowledged the memo (priority 0)
        is notified before anyone else (priority 1) is started. A first-priority notice
        only waiting out a 429 still holds the others back; one that has failed and
        waits for a retry does not."""
        stamp = to_text(now)
        claimed = self._claim(
            "notices",
            platform,
            now,
            # The memos whose acknowledgers are still being notified, computed once per
            # claim (a correlated check per candidate held the write lock for tens of ms).
            where=" AND NOT (x.priority > 0 AND x.memo_id IN ("
            "  SELECT f.memo_id FROM notices f WHERE f.priority = 0 AND (f.state = ?"
            "  OR (f.state = ? AND (f.next_attempt_at <= ? OR f.attempts = 0)))))",
            params=(SENDING, PENDING, stamp),
            order="x.priority, x.id",
        )
        if claimed is None:
            return None
        notice = _notice(claimed)
        return notice, self.copy(notice.copy_id), self.memo(notice.memo_id)

    def claim_edit(
        self, platform: str, now: datetime
    ) -> tuple[Edit, Copy, Notice | None, Memo] | None:
        """Take the next due edit. An edit is `waiting` until its notice has settled
        (so the edited original can point at the notice), then `pending`."""
        claimed = self._claim("edits", platform, now)
        if claimed is None:
            return None
        edit = _edit(claimed)
        copy = self.copy(edit.copy_id)
        return edit, copy, self.notice_for_copy(edit.copy_id), self.memo(edit.memo_id)

    def release_copy(self, copy_id: int, now: datetime) -> None:
        """Give back a claimed copy that was not sent (its memo is being retracted)."""
        with self._write() as db:
            memo_state = db.execute(
                "SELECT m.state FROM memos m JOIN copies c ON c.memo_id = m.id WHERE c.id = ?",
                [copy_id],
            ).fetchone()[0]
            if memo_state == MEMO_SENDING:
                db.execute(
                    "UPDATE copies SET state = ? WHERE id = ? AND state = ?",
                    [PENDING, copy_id, SENDING],
                )
            else:
                self._cancel_copy(db, copy_id, now)
                memo_id = db.execute(
                    "SELECT memo_id FROM copies WHERE id = ?", [copy_id]
                ).fetchone()[0]
                self._close_retraction_if_done(db, memo_id, now)

    def _cancel_copy(self, db: sqlite_utils.Database, copy_id: int, now: datetime) -> None:
        row = db.execute(
            "UPDATE copies SET state = ?, cancelled_at = ?, in_doubt = 0 WHERE id = ?"
            " AND state IN (?, ?) RETURNING memo_id, platform, recipient_id",
            [CANCELLED, to_text(now), copy_id, PENDING, SENDING],
        ).fetchone()
        if row:
            self._audit(db, now, "copy cancelled", memo_id=row[0], subject=f"{row[1]}:{row[2]}")

    def recover_in_flight(
        self, now: datetime, claimed_before: datetime | None = None
    ) -> dict[str, int]:
        """Whatever is `sending` may or may not have reached the platform: put it back as
        in doubt, to be checked before any resend. At a restart that is everything; while
        running, only claims older than `claimed_before` (a worker that lost its outcome)."""
        counts = {}
        older = " AND claimed_at < ?" if claimed_before else ""
        extra = [to_text(claimed_before)] if claimed_before else []
        with self._write() as db:
            for kind in KINDS:
                cursor = db.execute(
                    f"UPDATE {kind} SET state = ?, in_doubt = 1, next_attempt_at = ?"
                    f" WHERE state = ?{older}",
                    [PENDING, to_text(now), SENDING, *extra],
                )
                counts[kind] = cursor.rowcount
        return counts

    def has_due_work(self, platform: str, now: datetime, kinds: tuple[str, ...] = KINDS) -> bool:
        """A read-only look before claiming: idle workers need not take the write lock."""
        stamp = to_text(now)
        return any(
            self._row(
                f"SELECT 1 FROM {kind} WHERE state = ? AND platform = ? AND next_attempt_at <= ? LIMIT 1",
                [PENDING, platform, stamp],
            )
            for kind in kinds
        )

    def record(self, kind: str, item_id: int, outcome: Outcome, now: datetime) -> str:
        """Store the outcome of one send (or of the check of an in-doubt send).

        Returns the item's new state. Side effects that must not be lost are in
        the same transaction: a copy delivered after its memo's retraction began
        immediately gets a notice and an edit queued.
        """
        assert kind in KINDS
        stamp = to_text(now)
        with self._write() as db:
            row = db.execute(f"SELECT * FROM {kind} WHERE id = ?", [item_id]).fetchone()
            if row is None:
                return "missing"
            columns = [d[0] for d in db.conn.execute(f"SELECT * FROM {kind} LIMIT 0").description]
            item = dict(zip(columns, row, strict=True))
            if item["state"] != SENDING:
                return item["state"]
            memo_id = item["memo_id"]
            subject = self._subject(db, kind, item)
            label = LABELS[kind]
            if isinstance(outcome, Sent):
                extra = ", channel = :channel, ts = :ts" if kind != "edits" else ""
                db.execute(
                    f"UPDATE {kind} SET state = :state, delivered_at = :at, in_doubt = 0,"
                    f" error = :note{extra} WHERE id = :id",
                    {
                        "state": DELIVERED,
                        "at": stamp,
                        "id": item_id,
                        "channel": outcome.channel,
                        "ts": outcome.ts,
                        "note": outcome.note or None,
                    },
                )
                detail = {"channel": outcome.channel, "ts": outcome.ts}
                if outcome.note:
                    detail["note"] = outcome.note
                if item["in_doubt"]:
                    detail["confirmed_after_doubt"] = True
                if kind == "reminders":
                    detail.update(kind=item["kind"], seq=item["seq"])
                self._audit(
                    db, now, f"{label} delivered", memo_id=memo_id, subject=subject, detail=detail
                )
                if kind == "copies":
                    self._queue_retraction_of_copy(db, item_id, now)
                elif kind == "reminders":
                    self._count_reminder(db, item, now, delivered=True)
                elif kind == "escalations":
                    db.execute(
                        "UPDATE notices SET escalated_at = coalesce(escalated_at, ?)"
                        " WHERE escalation_id = ?",
                        [stamp, item["group_id"]],
                    )
                new_state = DELIVERED
            elif isinstance(outcome, Failed):
                new_state = self._fail(db, kind, item, outcome.reason, now, subject)
            elif isinstance(outcome, NotFound):
                memo_state = db.execute(
                    "SELECT state FROM memos WHERE id = ?", [memo_id]
                ).fetchone()[0]
                if kind == "copies" and memo_state != MEMO_SENDING:
                    db.execute("UPDATE copies SET in_doubt = 0 WHERE id = ?", [item_id])
                    self._cancel_copy(db, item_id, now)
                    new_state = CANCELLED
                elif item["attempts"] >= MAX_ATTEMPTS:
                    # Checked: it never arrived, and the tries are used up.
                    new_state = self._fail(
                        db, kind, item, item["error"] or "not delivered", now, subject
                    )
                else:
                    db.execute(
                        f"UPDATE {kind} SET state = ?, in_doubt = 0, next_attempt_at = ? WHERE id = ?",
                        [PENDING, stamp, item_id],
                    )
                    new_state = PENDING
            else:
                new_state = self._retry_later(db, kind, item, outcome, now, subject)
            if kind == "copies":
                self._close_memo_if_done(db, memo_id, now)
            elif kind == "notices" and new_state in (DELIVERED, FAILED, CANCELLED):
                db.execute(
                    "UPDATE edits SET state = ?, next_attempt_at = ? WHERE id = ? AND state = ?",
                    [PENDING, stamp, item["copy_id"], WAITING],
                )
            self._close_retraction_if_done(db, memo_id, now)
        return new_state

    def _retry_later(
        self, db, kind: str, item: dict, outcome: Retry | Unknown, now: datetime, subject: str
    ) -> str:
        """A transient outcome. Rate limits and failed checks of an in-doubt send do not
        use up tries; an unknown fate is never failed before it has been checked."""
        attempts = item["attempts"]
        in_doubt = item["in_doubt"]
        error = outcome.reason
        if isinstance(outcome, Unknown):
            attempts += 1
            in_doubt = 1
            delay = max(backoff(attempts), outcome.check_after)
        elif outcome.rate_limited:
            delay = outcome.after
        elif in_doubt:
            delay = max(outcome.after, backoff(3))  # the check itself could not run
            error = item["error"]
        else:
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                return self._fail(db, kind, item, outcome.reason, now, subject)
            delay = outcome.after or backoff(attempts)
        db.execute(
            f"UPDATE {kind} SET state = ?, attempts = ?, in_doubt = ?, error = ?,"
            " next_attempt_at = ? WHERE id = ?",
            [
                PENDING,
                attempts,
                in_doubt,
                error,
                to_text(now + timedelta(seconds=delay)),
                item["id"],
            ],
        )
        return PENDING

    def _fail(self, db, kind: str, item: dict, reason: str, now: datetime, subject: str) -> str:
        db.execute(
            f"UPDATE {kind} SET state = ?, error = ?, in_doubt = 0 WHERE id = ?",
            [FAILED, reason, item["id"]],
        )
        if kind == "reminders":
            self._count_reminder(db, item, now, delivered=False)
        label = LABELS[kind]
        self._audit(
            db,
            now,
            f"{label} failed",
            memo_id=item["memo_id"],
            subject=subject,
            detail={"error": reason},
        )
        return FAILED

    def _subject(self, db, kind: str, item: dict) -> str:
        if kind == "edits":
            row = db.execute(
                "SELECT platform, recipient_id FROM copies WHERE id = ?", [item["id"]]
            ).fetchone()
            return f"{row[0]}:{row[1]}"
        return f"{item['platform']}:{item['recipient_id']}"
