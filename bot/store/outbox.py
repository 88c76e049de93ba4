"""The outbox: claiming what is due, giving it back, recovering what was in flight,
and recording each send's outcome with what follows from it, for every kind of
outbox item (copies, notices, edits, reminders, escalations, approval requests)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlite_utils

from bot.clock import to_text
from bot.domain import (
    CANCELLED,
    DELIVERED,
    FAILED,
    ITEM_KINDS,
    MEMO_RETRACTED,
    MEMO_RETRACTING,
    MEMO_SENDING,
    PENDING,
    SENDING,
    WAITING,
    Copy,
    Edit,
    Item,
    ItemKind,
    Memo,
    Notice,
    Outcome,
    Step,
    step,
)
from bot.store.channels import FOLLOWS as _CHANNEL_FOLLOWS
from bot.store.rows import _copy, _edit, _notice, _one

# The outbox's tables, one per kind of item, and what the audit calls one of each.
KINDS = tuple(ITEM_KINDS)
LABELS = {table: kind.label for table, kind in ITEM_KINDS.items()}


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
        # PostgreSQL: the row is locked as it is chosen, and a row another transaction holds
        # is passed over (two leaders by mistake still could not take one item twice).
        lock = " FOR UPDATE OF x SKIP LOCKED" if self.dialect == "postgresql" else ""
        return self._claim_row(
            f"UPDATE {table} SET state = ?, claimed_at = ? WHERE id = ("
            f" SELECT x.id FROM {table} x {joins} WHERE x.state = ? AND x.platform = ?"
            f" AND x.next_attempt_at <= ?{where} ORDER BY {order} LIMIT 1{lock}) RETURNING *",
            [SENDING, stamp, *join_params, PENDING, platform, stamp, *params],
        )

    def claim_copy(
        self, platform: str, now: datetime, closed: frozenset[int] = frozenset()
    ) -> tuple[Copy, Memo] | None:
        """Take the next due copy for sending. Only copies of a memo still sending
        qualify, except in-doubt ones, which must be checked whatever happened since;
        none of a memo `closed` to new sends (its retraction is being applied)."""
        claimed = self._claim(
            "copies",
            platform,
            now,
            joins="JOIN memos m ON m.id = x.memo_id",
            where=" AND (m.state = ? OR x.in_doubt = 1)" + _not_in("x.memo_id", closed),
            params=(MEMO_SENDING, *sorted(closed)),
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

    def has_due_work(
        self,
        platform: str,
        now: datetime,
        kinds: tuple[str, ...] = KINDS,
        closed: frozenset[int] = frozenset(),
    ) -> bool:
        """A read-only look before claiming: idle workers need not take the write lock
        (copies of memos `closed` to new sends are not work)."""
        return bool(self.due_kinds(platform, now, kinds, closed))

    def due_kinds(
        self,
        platform: str,
        now: datetime,
        kinds: tuple[str, ...] = KINDS,
        closed: frozenset[int] = frozenset(),
    ) -> set[str]:
        """Which of `kinds` have an item due, in one read: a worker then claims only
        from those (each claim is a write, and in a fan-out only copies are due)."""
        stamp = to_text(now)
        parts, params = [], []
        for kind in kinds:
            parts.append(
                f"SELECT '{kind}' AS kind WHERE EXISTS (SELECT 1 FROM {kind} WHERE state = ?"
                " AND platform = ? AND next_attempt_at <= ?"
                + (_not_in("memo_id", closed) if kind == "copies" else "")
                + ")"
            )
            params += [PENDING, platform, stamp, *(sorted(closed) if kind == "copies" else ())]
        return {row["kind"] for row in self._rows(" UNION ALL ".join(parts), params)}

    def record(self, kind: str, item_id: int, outcome: Outcome, now: datetime) -> str:
        """Store the outcome of one send (or of the check of an in-doubt send), as
        `domain.step` says, with what follows from it in the same transaction (e.g. a
        copy delivered after its memo's retraction began gets a notice and an edit).

        Returns the item's new state."""
        item_kind = ITEM_KINDS[kind]
        with self._write() as db:
            # The item and its memo's state in one read (`memo_state`: as the memo was when
            # this transaction began; only this transaction can change it until it ends).
            item = _one(
                db.execute(
                    f"SELECT x.*, m.state AS memo_state FROM {kind} x"
                    " JOIN memos m ON m.id = x.memo_id WHERE x.id = ?",
                    [item_id],
                )
            )
            if item is None:
                return "missing"
            memo_state = item["memo_state"]
            change = step(
                item_kind,
                Item(item["state"], item["attempts"], bool(item["in_doubt"]), item["error"]),
                outcome,
                memo_sending=memo_state == MEMO_SENDING,
            )
            if change is None:
                return item["state"]  # an outcome that arrived late: nothing changes
            self._apply_step(db, item_kind, item, change, now)
            _FOLLOWS[kind](self, db, item, change, now)
            # Only a retraction under way can be completed by an outcome (what follows an
            # outcome turns a retracted memo back to retracting, never a sending one).
            if memo_state in (MEMO_RETRACTING, MEMO_RETRACTED):
                self._close_retraction_if_done(db, item["memo_id"], now)
        return change.state

    def _apply_step(self, db, kind: ItemKind, item: dict, change: Step, now: datetime) -> None:
        """Write the item's new state, and its audit entry when it settled."""
        values = {
            "id": item["id"],
            "state": change.state,
            "attempts": change.attempts,
            "in_doubt": int(change.in_doubt),
            "error": change.error,
            "next": to_text(now + timedelta(seconds=change.retry_after or 0.0)),
        }
        located = ""
        if change.sent is not None:
            values.update(at=to_text(now), channel=change.sent.channel, ts=change.sent.ts)
            # An edit is the copy itself, edited: it keeps the copy's place.
            located = ", delivered_at = :at" + (
                ", channel = :channel, ts = :ts" if kind.table != "edits" else ""
            )
        self._later(
            db,
            f"UPDATE {kind.table} SET state = :state, attempts = :attempts,"
            f" in_doubt = :in_doubt, error = :error, next_attempt_at = :next{located}"
            " WHERE id = :id",
            values,
        )
        subject = self._subject(db, kind.table, item)
        if change.state == CANCELLED:
            self._later(
                db,
                f"UPDATE {kind.table} SET cancelled_at = ? WHERE id = ?",
                [to_text(now), item["id"]],
            )
            self._audit(
                db, now, f"{kind.label} cancelled", memo_id=item["memo_id"], subject=subject
            )
        elif change.audit == "delivered":
            detail = {"channel": change.sent.channel, "ts": change.sent.ts}
            if change.sent.note:
                detail["note"] = change.sent.note
            if item["in_doubt"]:
                detail["confirmed_after_doubt"] = True
            if kind.table == "reminders":
                detail.update(kind=item["kind"], seq=item["seq"])
            self._audit(
                db,
                now,
                f"{kind.label} delivered",
                memo_id=item["memo_id"],
                subject=subject,
                detail=detail,
            )
        elif change.audit == "failed":
            self._audit(
                db,
                now,
                f"{kind.label} failed",
                memo_id=item["memo_id"],
                subject=subject,
                detail={"error": change.error},
            )

    def _subject(self, db, kind: str, item: dict) -> str:
        if kind == "edits":
            row = db.execute(
                "SELECT platform, recipient_id FROM copies WHERE id = ?", [item["id"]]
            ).fetchone()
            return f"{row[0]}:{row[1]}"
        return f"{item['platform']}:{item['recipient_id']}"


def _not_in(column: str, ids: frozenset[int]) -> str:
    """Copies of memos closed to new sends are left alone, except the ones in doubt:
    those must be checked whatever happened since (a retraction waits on them)."""
    prefix = column.rpartition(".")[0]
    doubt = f"{prefix}.in_doubt" if prefix else "in_doubt"
    return f" AND ({doubt} = 1 OR {column} NOT IN ({','.join('?' * len(ids))}))" if ids else ""


# ---------------------------------------------------------------- what follows an outcome, by kind


def _after_copy(store, db, item: dict, change: Step, now: datetime) -> None:
    if change.state == DELIVERED and item["memo_state"] in (MEMO_RETRACTING, MEMO_RETRACTED):
        store._queue_retraction_of_copy(db, item["id"], now)  # delivered while retracted
    store._close_memo_if_done(db, item["memo_id"], now)


def _after_notice(store, db, item: dict, change: Step, now: datetime) -> None:
    if change.settled:  # its edit may go now: the edited original points at the notice
        db.execute(
            "UPDATE edits SET state = ?, next_attempt_at = ? WHERE id = ? AND state = ?",
            [PENDING, to_text(now), item["copy_id"], WAITING],
        )


def _after_reminder(store, db, item: dict, change: Step, now: datetime) -> None:
    if change.state in (DELIVERED, FAILED):  # it counts, and the next one is scheduled afresh
        store._count_reminder(db, item, now, delivered=change.state == DELIVERED)


def _after_escalation(store, db, item: dict, change: Step, now: datetime) -> None:
    if change.state == DELIVERED:
        db.execute(
            "UPDATE notices SET escalated_at = coalesce(escalated_at, ?) WHERE escalation_id = ?",
            [to_text(now), item["group_id"]],
        )


def _nothing(store, db, item: dict, change: Step, now: datetime) -> None:
    return None


_FOLLOWS = {
    "copies": _after_copy,
    "notices": _after_notice,
    "edits": _nothing,
    "reminders": _after_reminder,
    "escalations": _after_escalation,
    "approvals": _nothing,  # the decision, not the request, moves the memo on
    **_CHANNEL_FOLLOWS,  # posts in channels, their notices and edits (store/channels.py)
}
