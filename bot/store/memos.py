"""Memos: creating one, its recipients (one copy each, once), reading memos, their
counts, and the bookkeeping of their status messages."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import sqlite_utils

from bot.clock import from_text, to_text
from bot.domain import (
    BEFORE_SENDING,
    CANCEL_REASONS,
    CANCELLED,
    FAILED,
    MEMO_AWAITING_APPROVAL,
    MEMO_SENDING,
    MEMO_SENT,
    PENDING,
    SENDING,
    WAITING,
    Audience,
    Memo,
    MemoCounts,
    Recipient,
    audiences_of,
    first_state,
)
from bot.store.rows import _memo


class MemosMixin:
    """A memo from its creation until it is sent."""

    def create_memo(
        self,
        *,
        title: str,
        body: str,
        sender_id: str,
        sender_platform: str,
        ask_ack: bool,
        ack_deadline: datetime | None,
        audience: Audience | Iterable[Audience],
        now: datetime,
        send_at: datetime | None = None,
        hold_seconds: float = 0.0,
        approval_possible: bool = False,
    ) -> Memo:
        """Store a new memo in the state `domain.first_state` gives it (sending, unless
        approval, a send time or an undo window holds it back)."""
        audiences = [a.to_json() for a in audiences_of(audience)]
        state, held_until = first_state(
            approval_possible=approval_possible,
            send_at=send_at,
            hold_seconds=hold_seconds,
            now=now,
        )
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO memos (title, body, sender_id, sender_platform, ask_ack, ack_deadline,"
                " audience, state, created_at, send_at, hold_seconds, held_until)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [
                    title,
                    body,
                    sender_id,
                    sender_platform,
                    int(ask_ack),
                    to_text(ack_deadline) if ack_deadline else None,
                    json.dumps(audiences),
                    state,
                    to_text(now),
                    to_text(send_at) if send_at else None,
                    hold_seconds,
                    to_text(held_until) if held_until else None,
                ],
            )
            memo_id = cursor.fetchone()[0]
            self._audit(
                db,
                now,
                "memo created",
                actor=sender_id,
                memo_id=memo_id,
                detail={
                    "title": title,
                    "body": body,
                    "ask_ack": ask_ack,
                    "ack_deadline": to_text(ack_deadline) if ack_deadline else None,
                    "audience": audiences,
                    "send_at": to_text(send_at) if send_at else None,
                    "undo_window_seconds": hold_seconds,
                },
            )
            if state != MEMO_SENDING:  # held back by a guard: say which
                self._audit_state(db, now, memo_id, state, held_until, send_at, actor=sender_id)
        return self.memo(memo_id)

    def memo(self, memo_id: int) -> Memo | None:
        row = self._row("SELECT * FROM memos WHERE id = ?", [memo_id])
        return _memo(row) if row else None

    def memo_by_status_message(self, channel: str | None, ts: str | None) -> Memo | None:
        row = self._row(
            "SELECT * FROM memos WHERE status_channel = ? AND status_ts = ?", [channel, ts]
        )
        return _memo(row) if row else None

    def memos_awaiting_recipients(self) -> list[Memo]:
        return [
            _memo(row)
            for row in self._rows(
                "SELECT * FROM memos WHERE recipients_added_at IS NULL ORDER BY id"
            )
        ]

    def memos_in_states(self, *states: str) -> list[Memo]:
        marks = ",".join("?" * len(states))
        return [
            _memo(row)
            for row in self._rows(
                f"SELECT * FROM memos WHERE state IN ({marks}) ORDER BY id", states
            )
        ]

    def recent_memos(self, limit: int = 20, *, sender_id: str | None = None) -> list[Memo]:
        if sender_id:
            rows = self._rows(
                "SELECT * FROM memos WHERE sender_id = ? ORDER BY id DESC LIMIT ?",
                [sender_id, limit],
            )
        else:
            rows = self._rows("SELECT * FROM memos ORDER BY id DESC LIMIT ?", [limit])
        return [_memo(row) for row in rows]

    def add_recipients(
        self,
        memo_id: int,
        recipients: list[Recipient],
        now: datetime,
        *,
        approval_over: int | None = None,
        approvers: list[tuple[str, str]] | None = None,
    ) -> int:
        """Create one copy per recipient, in one transaction, exactly once per memo.

        A memo awaiting approval learns here whether it needs it (`APPROVAL_OVER`): if so
        its `approvers` ((platform, id), the sender left out) are queued an approval
        request each in the same transaction; if not it goes on its way.

        A memo retracted before its audience was resolved gets cancelled copies;
        a recipient known to be unreachable gets a failed copy with the reason.
        """
        stamp = to_text(now)
        with self._write() as db:
            memo = db.execute(
                "SELECT state, recipients_added_at FROM memos WHERE id = ?", [memo_id]
            ).fetchone()
            if memo is None or memo[1] is not None:
                return 0
            # Copies of a memo not sending yet wait, unclaimed, until it is; a memo that
            # will never send (retracted, rejected, undone) gets cancelled ones.
            open_state = PENDING if memo[0] in (MEMO_SENDING, *BEFORE_SENDING) else CANCELLED
            reason = CANCEL_REASONS.get(memo[0])
            rows = []
            for person in recipients:
                state = FAILED if person.error else open_state
                rows.append(
                    (
                        memo_id,
                        person.platform,
                        person.id,
                        person.name,
                        state,
                        person.error or (reason if state == CANCELLED else None),
                        stamp,
                        stamp if state == CANCELLED else None,
                    )
                )
            db.conn.executemany(
                "INSERT INTO copies (memo_id, platform, recipient_id, recipient_name, state,"
                " error, next_attempt_at, cancelled_at, attempts, in_doubt)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0) ON CONFLICT DO NOTHING",
                rows,
            )
            for person in recipients:
                if person.error:
                    self._audit(
                        db,
                        now,
                        "copy failed",
                        memo_id=memo_id,
                        subject=f"{person.platform}:{person.id}",
                        detail={"error": person.error},
                    )
            db.execute("UPDATE memos SET recipients_added_at = ? WHERE id = ?", [stamp, memo_id])
            self._audit(
                db,
                now,
                "recipients resolved",
                memo_id=memo_id,
                detail={
                    "recipients": len(rows),
                    "unreachable": sum(1 for p in recipients if p.error),
                },
            )
            if memo[0] == MEMO_AWAITING_APPROVAL:
                self._approval_or_on_its_way(
                    db, memo_id, len(rows), approval_over, approvers or [], now
                )
            self._close_memo_if_done(db, memo_id, now)
        return len(rows)

    def status_posting(self, memo_id: int, kind: str, now: datetime | None) -> datetime | None:
        """When a status message of `kind` was last about to be posted; with `now`, mark it."""
        table, key = ("memos", "id") if kind == "memo" else ("retractions", "memo_id")
        if now is not None:
            with self._write() as db:
                db.execute(
                    f"UPDATE {table} SET status_posting_at = ? WHERE {key} = ?",
                    [to_text(now), memo_id],
                )
            return now
        row = self._row(f"SELECT status_posting_at FROM {table} WHERE {key} = ?", [memo_id])
        return from_text(row["status_posting_at"]) if row else None

    def set_memo_status_message(self, memo_id: int, channel: str, ts: str) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE memos SET status_channel = ?, status_ts = ? WHERE id = ?",
                [channel, ts, memo_id],
            )

    def _close_memo_if_done(self, db: sqlite_utils.Database, memo_id: int, now: datetime) -> None:
        # The memo and whether a copy is still open, in one read (waiting: for its post).
        row = db.execute(
            "SELECT state, recipients_added_at, EXISTS (SELECT 1 FROM copies WHERE memo_id = ?"
            " AND state IN (?, ?, ?)) FROM memos WHERE id = ?",
            [memo_id, PENDING, SENDING, WAITING, memo_id],
        ).fetchone()
        if not row or row[0] != MEMO_SENDING or row[1] is None:
            return
        open_copies = (
            row[2]
            or db.execute(
                "SELECT 1 FROM posts WHERE memo_id = ? AND state IN (?, ?, ?) LIMIT 1",
                [memo_id, PENDING, SENDING, WAITING],
            ).fetchone()
        )
        if open_copies:
            return
        db.execute(
            "UPDATE memos SET state = ?, sent_at = ? WHERE id = ?",
            [MEMO_SENT, to_text(now), memo_id],
        )
        self._audit(db, now, "memo sent", memo_id=memo_id)

    def memo_counts(self, memo_id: int) -> MemoCounts:
        counts = MemoCounts()
        for row in self.db.query(
            "SELECT state, count(*) AS n, count(acknowledged_at) AS acked FROM copies"
            " WHERE memo_id = ? GROUP BY state",
            [memo_id],
        ):
            counts.recipients += row["n"]
            counts.acknowledged += row["acked"]
            if row["state"] in (PENDING, SENDING, WAITING):  # waiting: for its channel post
                counts.pending += row["n"]
            else:
                setattr(counts, row["state"], getattr(counts, row["state"]) + row["n"])
        for row in self.db.query(
            "SELECT error, count(*) AS n FROM copies WHERE memo_id = ? AND state = ?"
            " GROUP BY error ORDER BY n DESC",
            [memo_id, FAILED],
        ):
            counts.failures[row["error"] or "unknown"] = row["n"]
        return counts
