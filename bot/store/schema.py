"""The schema: the tables, and the migrations that make them, in order.

`Database.migrate` applies each one once, in its own write transaction, and
records it in the `migrations` table (it says why this is not sqlite-utils'
`Migrations`). A new migration goes at the end of `MIGRATIONS`; applied ones
are never edited.
"""

from __future__ import annotations

import sqlite_utils

# Every outbox table (copies, notices, reminders, escalations) has these.
_DELIVERY_COLUMNS = {
    "memo_id": int,
    "platform": str,
    "recipient_id": str,
    "state": str,
    "attempts": int,
    "in_doubt": int,
    "next_attempt_at": str,
    "claimed_at": str,
    "error": str,
    "channel": str,
    "ts": str,
    "delivered_at": str,
}


def _m001_initial(db: sqlite_utils.Database) -> None:
    db["memos"].create(
        {
            "id": int,
            "title": str,
            "body": str,
            "sender_id": str,
            "sender_platform": str,
            "ask_ack": int,
            "ack_deadline": str,
            "audience": str,
            "state": str,
            "created_at": str,
            "recipients_added_at": str,
            "sent_at": str,
            "status_channel": str,
            "status_ts": str,
        },
        pk="id",
        not_null={"title", "body", "sender_id", "state", "created_at"},
        if_not_exists=True,
    )
    db["retractions"].create(
        {
            "memo_id": int,
            "retracted_by": str,
            "retracted_by_platform": str,
            "reason": str,
            "corrections": str,
            "retracted_at": str,
            "done_at": str,
            "status_channel": str,
            "status_ts": str,
        },
        pk="memo_id",
        foreign_keys=[("memo_id", "memos", "id")],
        if_not_exists=True,
    )
    db["copies"].create(
        {
            "id": int,
            **_DELIVERY_COLUMNS,
            "recipient_name": str,
            "acknowledged_at": str,
            "cancelled_at": str,
        },
        pk="id",
        foreign_keys=[("memo_id", "memos", "id")],
        not_null={"memo_id", "platform", "recipient_id", "state"},
        defaults={"attempts": 0, "in_doubt": 0},
        if_not_exists=True,
    )
    db["copies"].create_index(
        ["memo_id", "platform", "recipient_id"], unique=True, if_not_exists=True
    )
    db["copies"].create_index(["state", "platform", "id"], if_not_exists=True)
    db["copies"].create_index(["memo_id", "state"], if_not_exists=True)
    db["copies"].create_index(["platform", "recipient_id"], if_not_exists=True)
    db["notices"].create(
        {
            "id": int,
            "copy_id": int,
            **_DELIVERY_COLUMNS,
            "priority": int,
            "seen_at": str,
            "reminders_sent": int,
            "last_reminder_at": str,
            "escalated_at": str,
        },
        pk="id",
        foreign_keys=[("copy_id", "copies", "id"), ("memo_id", "memos", "id")],
        not_null={"copy_id", "memo_id", "state"},
        defaults={"attempts": 0, "in_doubt": 0, "reminders_sent": 0, "priority": 1},
        if_not_exists=True,
    )
    db["notices"].create_index(["copy_id"], unique=True, if_not_exists=True)
    db["notices"].create_index(["state", "platform", "priority", "id"], if_not_exists=True)
    db["notices"].create_index(["memo_id", "priority", "state"], if_not_exists=True)
    # An edit is the retraction applied to one delivered copy; its id is the copy's.
    db["edits"].create(
        {
            "id": int,
            "memo_id": int,
            "platform": str,
            "state": str,
            "attempts": int,
            "in_doubt": int,
            "next_attempt_at": str,
            "claimed_at": str,
            "error": str,
            "delivered_at": str,
        },
        pk="id",
        foreign_keys=[("id", "copies", "id"), ("memo_id", "memos", "id")],
        defaults={"attempts": 0, "in_doubt": 0},
        if_not_exists=True,
    )
    db["edits"].create_index(["state", "platform", "id"], if_not_exists=True)
    db["edits"].create_index(["memo_id", "state"], if_not_exists=True)
    db["people"].create(
        {
            "platform": str,
            "id": str,
            "name": str,
            "real_name": str,
            "email": str,
            "tz": str,
            "deleted": int,
            "is_bot": int,
            "dm_channel": str,
            "updated_at": str,
        },
        pk=("platform", "id"),
        if_not_exists=True,
    )
    db["groups"].create(
        {"platform": str, "id": str, "handle": str, "name": str, "updated_at": str},
        pk=("platform", "id"),
        if_not_exists=True,
    )
    db["audit"].create(
        {
            "id": int,
            "at": str,
            "actor": str,
            "action": str,
            "memo_id": int,
            "subject": str,
            "detail": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="id",
        not_null={"at", "action", "prev_hash", "hash"},
        if_not_exists=True,
    )
    db["audit"].create_index(["memo_id"], if_not_exists=True)
    db["meta"].create({"key": str, "value": str}, pk="key", if_not_exists=True)


def _m002_reminders(db: sqlite_utils.Database) -> None:
    """Reminders (retraction and acknowledgement) and escalations, as outbox rows."""
    db["notices"].add_column("next_reminder_at", str)
    db["notices"].add_column("escalation_id", int)
    db["copies"].add_column("reminders_sent", int, not_null_default=0)
    db["copies"].add_column("last_reminder_at", str)
    db["copies"].add_column("next_reminder_at", str)
    db["reminders"].create(
        {
            "id": int,
            "kind": str,  # retraction (target: a notice) | acknowledgement (target: a copy)
            "target_id": int,
            "seq": int,
            **_DELIVERY_COLUMNS,
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("memo_id", "memos", "id")],
        defaults={"attempts": 0, "in_doubt": 0},
        if_not_exists=True,
    )
    db["reminders"].create_index(["kind", "target_id", "seq"], unique=True, if_not_exists=True)
    db["reminders"].create_index(["state", "platform", "id"], if_not_exists=True)
    db["escalations"].create(
        {
            "id": int,
            **_DELIVERY_COLUMNS,  # recipient_id: the retractor, or the escalation channel
            "people": str,  # JSON: the people escalated, "platform:id"
            "group_id": int,  # the escalation's first row; notices point at it
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("memo_id", "memos", "id")],
        defaults={"attempts": 0, "in_doubt": 0},
        if_not_exists=True,
    )
    db["escalations"].create_index(["state", "platform", "id"], if_not_exists=True)
    db["notices"].create_index(["state", "next_reminder_at"], if_not_exists=True)
    db["copies"].create_index(["state", "next_reminder_at"], if_not_exists=True)


def _m003_events(db: sqlite_utils.Database) -> None:
    """Events API deliveries already handled, so Slack's retries are processed once."""
    db["events"].create({"id": str, "received_at": str}, pk="id", if_not_exists=True)


def _m004_retraction_requests(db: sqlite_utils.Database) -> None:
    """A retraction is stored the moment it is asked for, before Slack is answered."""
    db["retractions"].add_column("requested_at", str)


def _m005_status_posting(db: sqlite_utils.Database) -> None:
    """When a status message was last asked for, so a crash cannot leave two."""
    db["memos"].add_column("status_posting_at", str)
    db["retractions"].add_column("status_posting_at", str)


def _m006_teams(db: sqlite_utils.Database) -> None:
    """How to reach people and teams on Teams: conversation references, installs."""
    db["people"].add_column("reference", str)  # JSON: service URL, tenant, user and chat IDs
    db["people"].add_column("conversation_id", str)
    db["people"].add_column("uninstalled_at", str)
    db["people"].create_index(["platform", "conversation_id"], if_not_exists=True)
    db["groups"].add_column("reference", str)


def _m007_notice_indexes(db: sqlite_utils.Database) -> None:
    """For the checks every claim and every record make on a memo's notices."""
    db["notices"].create_index(["memo_id", "state"], if_not_exists=True)
    db["notices"].create_index(["priority", "state", "memo_id"], if_not_exists=True)
    db["edits"].create_index(["memo_id", "state"], if_not_exists=True)


def _m008_audit_checkpoints(db: sqlite_utils.Database) -> None:
    """The audit chain's head as posted elsewhere (AUDIT_CHECKPOINT_CHANNEL)."""
    db["audit_checkpoints"].create(
        {
            "id": int,
            "channel": str,
            "ts": str,
            "count": int,  # the chain had this many entries
            "hash": str,  # and entry `count` had this hash
            "reason": str,  # first | daily | retraction
            "posted_at": str,
        },
        pk="id",
        not_null={"channel", "count", "hash", "posted_at"},
        if_not_exists=True,
    )
    db["audit_checkpoints"].create_index(["channel", "count"], if_not_exists=True)


def _m009_audience_platforms(db: sqlite_utils.Database) -> None:
    """Name the platform in every stored audience. Memos written before Teams existed
    stored audiences without one, and they were all Slack's: this is the one place
    that says so, so that nothing reading a memo has to guess a platform."""
    import json

    for memo_id, stored in db.execute("SELECT id, audience FROM memos").fetchall():
        audiences = json.loads(stored or "[]")
        listed = audiences if isinstance(audiences, list) else [audiences]
        if all(isinstance(a, dict) and a.get("platform") for a in listed):
            continue
        fixed = [{**a, "platform": a.get("platform") or "slack"} for a in listed]
        db.execute("UPDATE memos SET audience = ? WHERE id = ?", [json.dumps(fixed), memo_id])


def _m010_sending_safely(db: sqlite_utils.Database) -> None:
    """Sending safely: a memo's send time, undo window and approval decision; approval
    requests to comms staff as outbox items."""
    for column, kind in (
        ("send_at", str),
        ("held_until", str),
        ("hold_seconds", float),
        ("decision", str),
        ("decided_by", str),
        ("decided_by_platform", str),
        ("decided_by_name", str),
        ("decided_at", str),
        ("decision_reason", str),
        ("stopped_by_name", str),
        ("stopped_at", str),
    ):
        if column not in db["memos"].columns_dict:
            db["memos"].add_column(column, kind)
    db["memos"].create_index(["state", "send_at"], if_not_exists=True)
    db["approvals"].create(
        {
            "id": int,
            **_DELIVERY_COLUMNS,  # recipient_id: the member of comms staff asked
            "created_at": str,
            "cancelled_at": str,
        },
        pk="id",
        foreign_keys=[("memo_id", "memos", "id")],
        defaults={"attempts": 0, "in_doubt": 0},
        if_not_exists=True,
    )
    db["approvals"].create_index(
        ["memo_id", "platform", "recipient_id"], unique=True, if_not_exists=True
    )
    db["approvals"].create_index(["state", "platform", "id"], if_not_exists=True)


def _m011_learned_rates(db: sqlite_utils.Database) -> None:
    """The rate each paced method was last found to sustain (bot.pacing), and when."""
    db["learned_rates"].create(
        {"key": str, "per_minute": float, "learned_at": str},
        pk="key",
        not_null={"per_minute", "learned_at"},
        if_not_exists=True,
    )


def _m012_channel_posts(db: sqlite_utils.Database) -> None:
    """Channel announcements: a memo posted once per channel (`posts`, recipient_id the
    channel), its retraction notice in the post's thread (`post_notices`) and the post's
    edit into its retracted form (`post_edits`, both keyed by the post's id). A copy or
    notice reached through a post names it (`post_id`); no DM is sent for it."""
    db["posts"].create(
        {
            "id": int,
            **_DELIVERY_COLUMNS,  # recipient_id: the channel; channel and ts: the post
            "channel_name": str,
            "thread_ts": str,  # a person's post tracked as a memo: the bot replies in its thread
            "author_id": str,  # ... written by this person
            "acknowledged_shown": int,  # the count the post shows now
            "created_at": str,
            "cancelled_at": str,
        },
        pk="id",
        foreign_keys=[("memo_id", "memos", "id")],
        not_null={"memo_id", "platform", "recipient_id", "state"},
        defaults={"attempts": 0, "in_doubt": 0, "acknowledged_shown": 0},
        if_not_exists=True,
    )
    db["posts"].create_index(
        ["memo_id", "platform", "recipient_id"], unique=True, if_not_exists=True
    )
    db["posts"].create_index(["state", "platform", "id"], if_not_exists=True)
    for table in ("post_notices", "post_edits"):
        db[table].create(
            {"id": int, **_DELIVERY_COLUMNS, "created_at": str, "cancelled_at": str},
            pk="id",
            foreign_keys=[("id", "posts", "id"), ("memo_id", "memos", "id")],
            defaults={"attempts": 0, "in_doubt": 0},
            if_not_exists=True,
        )
        db[table].create_index(["state", "platform", "id"], if_not_exists=True)
        db[table].create_index(["memo_id", "state"], if_not_exists=True)
    for table in ("copies", "notices"):
        if "post_id" not in db[table].columns_dict:
            db[table].add_column("post_id", int)
        db[table].create_index(["post_id", "state"], if_not_exists=True)


MIGRATIONS = (
    ("001_initial", _m001_initial),
    ("002_reminders", _m002_reminders),
    ("003_events", _m003_events),
    ("004_retraction_requests", _m004_retraction_requests),
    ("005_status_posting", _m005_status_posting),
    ("006_teams", _m006_teams),
    ("007_notice_indexes", _m007_notice_indexes),
    ("008_audit_checkpoints", _m008_audit_checkpoints),
    ("009_audience_platforms", _m009_audience_platforms),
    ("010_sending_safely", _m010_sending_safely),
    ("011_learned_rates", _m011_learned_rates),
    ("012_channel_posts", _m012_channel_posts),
)
