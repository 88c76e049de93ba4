"""Rows to values: the mapping from a stored row to the domain's Memo, Copy, Notice
and Edit, shared by every aggregate that reads them."""

from __future__ import annotations

import json
import sqlite3

from bot.clock import from_text
from bot.domain import Copy, Edit, Memo, Notice, Post, audiences_of


def _one(cursor: sqlite3.Cursor) -> dict | None:
    row = cursor.fetchone()
    if row is None:
        return None
    names = getattr(cursor, "names", None)  # PostgreSQL's Result has them ready
    if names is None:
        names = [d[0] for d in cursor.description]
    return dict(zip(names, row, strict=True))


def _memo(row: dict) -> Memo:
    return Memo(
        id=row["id"],
        title=row["title"],
        body=row["body"],
        sender_id=row["sender_id"],
        sender_platform=row["sender_platform"],
        ask_ack=bool(row["ask_ack"]),
        ack_deadline=from_text(row["ack_deadline"]),
        audiences=audiences_of(json.loads(row["audience"] or "[]")),
        state=row["state"],
        created_at=from_text(row["created_at"]),
        status_channel=row["status_channel"],
        status_ts=row["status_ts"],
        sent_at=from_text(row["sent_at"]),
        send_at=from_text(row.get("send_at")),
        held_until=from_text(row.get("held_until")),
        hold_seconds=row.get("hold_seconds") or 0.0,
        recipients_added=row.get("recipients_added_at") is not None,
        decision=row.get("decision"),
        decided_by=row.get("decided_by"),
        decided_by_platform=row.get("decided_by_platform"),
        decided_by_name=row.get("decided_by_name"),
        decided_at=from_text(row.get("decided_at")),
        decision_reason=row.get("decision_reason"),
        stopped_by_name=row.get("stopped_by_name"),
        stopped_at=from_text(row.get("stopped_at")),
    )


def _delivery(row: dict) -> dict:
    """What every delivered outbox item's row says the same way (copies, notices, posts)."""
    return {
        "id": row["id"],
        "memo_id": row["memo_id"],
        "platform": row["platform"],
        "recipient_id": row["recipient_id"],
        "state": row["state"],
        "attempts": row["attempts"] or 0,
        "in_doubt": bool(row["in_doubt"]),
        "channel": row["channel"],
        "ts": row["ts"],
        "error": row["error"],
        "delivered_at": from_text(row["delivered_at"]),
        "claimed_at": from_text(row["claimed_at"]),
    }


def _copy(row: dict) -> Copy:
    return Copy(
        **_delivery(row),
        recipient_name=row["recipient_name"] or "",
        acknowledged_at=from_text(row["acknowledged_at"]),
        post_id=row.get("post_id"),
    )


def _notice(row: dict) -> Notice:
    return Notice(
        **_delivery(row),
        copy_id=row["copy_id"],
        priority=row["priority"],
        seen_at=from_text(row["seen_at"]),
        reminders_sent=row["reminders_sent"] or 0,
        last_reminder_at=from_text(row["last_reminder_at"]),
        escalated_at=from_text(row["escalated_at"]),
        post_id=row.get("post_id"),
    )


def _edit(row: dict) -> Edit:
    return Edit(
        copy_id=row["id"],
        memo_id=row["memo_id"],
        state=row["state"],
        attempts=row["attempts"] or 0,
        error=row["error"],
    )


def _post(row: dict) -> Post:
    return Post(
        **_delivery(row),
        channel_name=row["channel_name"] or "",
        thread_ts=row["thread_ts"],
        author_id=row["author_id"],
        acknowledged_shown=row["acknowledged_shown"] or 0,
    )
