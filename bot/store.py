"""The store: the source of truth for everything that must survive a restart.

All SQL lives here, behind functions named for what they answer or change.
Each change that belongs together runs in one `BEGIN IMMEDIATE` transaction
together with its audit entry, so a crash never leaves half a change, and the
audit chain is appended by one writer at a time.

Connections are per thread (bolt listeners, the outbox workers and the
scheduler all run on their own threads).
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlite_utils

from bot import audit
from bot.clock import from_text, to_text
from bot.domain import (
    CANCELLED,
    DELIVERED,
    FAILED,
    MAX_ATTEMPTS,
    MEMO_RETRACTED,
    MEMO_RETRACTING,
    MEMO_SENDING,
    MEMO_SENT,
    PENDING,
    SENDING,
    WAITING,
    Audience,
    Copy,
    Edit,
    Failed,
    Memo,
    MemoCounts,
    NotFound,
    Notice,
    Outcome,
    Recipient,
    Retraction,
    RetractionCounts,
    Retry,
    Sent,
    Unknown,
    audiences_of,
    backoff,
)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- schema


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


MIGRATIONS = (
    ("001_initial", _m001_initial),
    ("002_reminders", _m002_reminders),
    ("003_events", _m003_events),
    ("004_retraction_requests", _m004_retraction_requests),
    ("005_status_posting", _m005_status_posting),
    ("006_teams", _m006_teams),
    ("007_notice_indexes", _m007_notice_indexes),
    ("008_audit_checkpoints", _m008_audit_checkpoints),
)


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Click:
    """What a click on Acknowledge or I've seen this came to."""

    outcome: str  # recorded | already | retracted | not_yours | unknown | closed
    at: datetime | None = None
    memo_id: int | None = None


KINDS = ("copies", "notices", "edits", "reminders", "escalations")
LABELS = {
    "copies": "copy",
    "notices": "notice",
    "edits": "edit",
    "reminders": "reminder",
    "escalations": "escalation",
}
RETRACTION_REMINDER, ACK_REMINDER = "retraction", "acknowledgement"
# Marks a person who will get no more reminders of that kind.
NEVER = "9999-12-31T00:00:00.000000Z"


class Store:
    def __init__(self, path: str, *, audit_key: bytes | None = None):
        """`audit_key` keys the audit chain (bot.audit.load_key); without one, the key
        file beside the database is used, made on first need."""
        self.path = path
        self._audit_key = audit_key
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()

    # ------------------------------------------------------------ connections

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = sqlite3.connect(self.path, timeout=60, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            db = sqlite_utils.Database(conn, execute_plugins=False)
            self._local.db = db
            with self._lock:
                self._connections.append(conn)
        return db

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                with suppress(sqlite3.ProgrammingError):
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def _write(self) -> Iterator[sqlite_utils.Database]:
        """One write transaction; taken IMMEDIATE so read-then-write never deadlocks.

        Writers of this process queue on a lock first: SQLite's own busy handler
        retries with sleeps and no fairness, so under load one writer could starve
        for its whole timeout. The busy timeout still covers other processes."""
        db = self.db
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.rollback()
                raise
            else:
                db.execute("COMMIT")

    def _rows(self, sql: str, params: Any = ()) -> list[dict]:
        return list(self.db.query(sql, params))

    def _row(self, sql: str, params: Any = ()) -> dict | None:
        for row in self.db.query(sql, params):
            return row
        return None

    # ------------------------------------------------------------ migrations

    def migrate(self, *, key_audit_chain: bool = True) -> None:
        """Apply the schema migrations not yet applied; then, unless told not to (the CLI
        only reads), key an audit chain written before the key existed."""
        db = self.db
        db.execute("PRAGMA journal_mode = WAL")
        db["migrations"].create({"name": str, "applied_at": str}, pk="name", if_not_exists=True)
        done = {row["name"] for row in db["migrations"].rows}
        for name, migration in MIGRATIONS:
            if name in done:
                continue
            with self._write() as tx:
                migration(tx)
                tx.execute(
                    "INSERT INTO migrations (name, applied_at) VALUES (?, datetime('now'))",
                    [name],
                )
        if key_audit_chain:
            self.key_audit_chain(datetime.now(UTC))

    # ------------------------------------------------------------ audit

    def _audit(
        self,
        db: sqlite_utils.Database,
        at: datetime,
        action: str,
        *,
        actor: str = "",
        memo_id: int | None = None,
        subject: str = "",
        detail: dict | None = None,
    ) -> None:
        """Append one entry to the hash chain; only ever inside a write transaction."""
        last = next(db.query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"), None)
        entry = {
            "id": (last["id"] + 1) if last else 1,
            "at": to_text(at),
            "actor": actor,
            "action": action,
            "memo_id": memo_id,
            "subject": subject,
            "detail": json.dumps(detail or {}, sort_keys=True, ensure_ascii=False),
            "prev_hash": last["hash"] if last else audit.GENESIS,
        }
        entry["hash"] = audit.entry_hash(entry, self.audit_key)
        db.execute(
            "INSERT INTO audit (id, at, actor, action, memo_id, subject, detail, prev_hash, hash)"
            " VALUES (:id, :at, :actor, :action, :memo_id, :subject, :detail, :prev_hash, :hash)",
            entry,
        )
        # The head lets `audit verify` notice entries deleted from the end of the chain.
        db.execute(
            "INSERT INTO meta (key, value) VALUES ('audit_head', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [f"{entry['id']}:{entry['hash']}"],
        )

    def record_denial(self, at: datetime, actor: str, attempt: str, detail: dict) -> None:
        with self._write() as db:
            self._audit(db, at, "denied", actor=actor, subject=attempt, detail=detail)

    def record_report_download(
        self, at: datetime, memo_id: int, issued_to: str, detail: dict
    ) -> None:
        """A signed report link was used: who it was issued to, and from where."""
        with self._write() as db:
            self._audit(
                db, at, "report downloaded", actor=issued_to, memo_id=memo_id, detail=detail
            )

    def audit_entries(self, after_id: int = 0, batch: int = 1000) -> Iterator[dict]:
        """Every audit entry in order, read in batches so memory stays flat."""
        last = after_id
        while True:
            rows = self._rows("SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", [last, batch])
            if not rows:
                return
            yield from rows
            last = rows[-1]["id"]

    def audit_head(self) -> tuple[int, str] | None:
        row = self._row("SELECT value FROM meta WHERE key = 'audit_head'")
        if not row:
            return None
        entry_id, _, digest = row["value"].partition(":")
        return int(entry_id), digest

    def audit_for_memo(self, memo_id: int) -> list[dict]:
        return self._rows("SELECT * FROM audit WHERE memo_id = ? ORDER BY id", [memo_id])

    @property
    def audit_key(self) -> bytes:
        if self._audit_key is None:
            with self._lock:
                if self._audit_key is None:
                    self._audit_key = audit.load_key("", self.path)
        return self._audit_key

    def _meta(self, key: str) -> str | None:
        row = self._row("SELECT value FROM meta WHERE key = ?", [key])
        return row["value"] if row else None

    def audit_scheme(self) -> str | None:
        """The scheme, "hmac-sha256" once keyed; None for a chain from before the key."""
        return self._meta("audit_scheme")

    def audit_key_check(self) -> str | None:
        return self._meta("audit_key_check")

    def verify_audit(self, checkpoints: Iterable[audit.Checkpoint] = ()) -> audit.Verdict:
        """The chain checked with this store's key (and any posted checkpoints). A chain
        never keyed fails too; when its old part is broken, that is what it names."""
        if self.audit_scheme() is None and self.audit_head() is not None:
            old = audit.verify(self.audit_entries(), None, self.audit_head())
            if not old.ok:
                return audit.Verdict(
                    False,
                    old.count,
                    old.broken_id,
                    f"{old.problem} (in the chain from before the key, so it was never keyed)",
                )
        return audit.verify(
            self.audit_entries(),
            self.audit_key,
            self.audit_head(),
            checkpoints=checkpoints,
            expected_key_check=self.audit_key_check(),
        )

    def key_audit_chain(self, now: datetime) -> int | None:
        """Once: re-hash a chain written before the key existed (plain SHA-256) under the
        key, in one transaction, with an entry saying so. The old chain is checked first
        under its own scheme; a broken one is never blessed: it is left as it is (and
        `audit verify` reports it). Returns how many entries were re-chained, or None."""
        if self.audit_scheme() == audit.KEYED:
            return None
        key = self.audit_key
        settings = [("audit_scheme", audit.KEYED), ("audit_key_check", audit.key_check(key))]
        with self._write() as db:
            if next(db.query("SELECT value FROM meta WHERE key = 'audit_scheme'"), None):
                return None  # another process keyed it meanwhile
            head = next(db.query("SELECT value FROM meta WHERE key = 'audit_head'"), None)
            recorded = None
            if head:
                entry_id, _, digest = head["value"].partition(":")
                recorded = (int(entry_id), digest)
            rows = list(db.query("SELECT * FROM audit ORDER BY id"))
            keyed_before = [
                r["id"]
                for r in rows
                if r["action"] in ("audit chain keyed", "audit checkpoint posted")
            ]
            if rows and audit.verify(rows, key, recorded).ok:
                rows = []  # already under this key (its scheme was not recorded): nothing to redo
            elif rows:
                verdict = audit.verify(rows, None, recorded)
                if keyed_before:  # its scheme mark was removed: never re-key what was keyed
                    log.error(
                        "audit chain NOT re-keyed: it was keyed before (entry %d) but no longer"
                        " verifies under this key; `audit verify` reports it",
                        keyed_before[0],
                    )
                    return None
                if not verdict.ok:
                    log.error(
                        "audit chain NOT keyed: the chain from before the key is broken (%s);"
                        " it is kept as it is, and `audit verify` reports it",
                        verdict,
                    )
                    return None
                prev = audit.GENESIS
                for row in rows:
                    row["prev_hash"] = prev
                    row["hash"] = prev = audit.entry_hash(row, key)
                db.conn.executemany(
                    "UPDATE audit SET prev_hash = :prev_hash, hash = :hash WHERE id = :id", rows
                )
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('audit_head', ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [f"{rows[-1]['id']}:{prev}"],
                )
            for name, value in settings:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    [name, value],
                )
            if rows:
                self._audit(
                    db,
                    now,
                    "audit chain keyed",
                    detail={"rechained": len(rows), "scheme": audit.KEYED},
                )
        if rows:
            log.warning(
                "audit chain keyed: %d entries written before the key were checked and"
                " re-chained under it",
                len(rows),
            )
        return len(rows)

    def record_audit_checkpoint(
        self, channel: str, ts: str, count: int, digest: str, reason: str, now: datetime
    ) -> None:
        """A checkpoint was posted: kept in its table, and an audit entry itself."""
        with self._write() as db:
            db.execute(
                "INSERT INTO audit_checkpoints (channel, ts, count, hash, reason, posted_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [channel, ts, count, digest, reason, to_text(now)],
            )
            self._audit(
                db,
                now,
                "audit checkpoint posted",
                subject=channel,
                detail={"ts": ts, "count": count, "hash": digest, "reason": reason},
            )

    def last_audit_checkpoint(self, channel: str) -> dict | None:
        row = self._row(
            "SELECT * FROM audit_checkpoints WHERE channel = ? ORDER BY count DESC, id DESC"
            " LIMIT 1",
            [channel],
        )
        if row:
            row["posted_at"] = from_text(row["posted_at"])
        return row

    def audit_checkpoints(self) -> list[dict]:
        """Every checkpoint this database says it posted, oldest first."""
        return self._rows("SELECT * FROM audit_checkpoints ORDER BY id")

    def retracted_since(self, entry_id: int) -> bool:
        """Whether a retraction was applied after audit entry `entry_id`."""
        return (
            self._row(
                "SELECT 1 FROM audit WHERE id > ? AND action = 'memo retracted' LIMIT 1",
                [entry_id],
            )
            is not None
        )

    # ------------------------------------------------------------ directory

    def replace_people(self, platform: str, people: Iterable[dict], at: datetime) -> int:
        """Store a full directory listing, page by page as it arrives (short transactions,
        little memory); at the end, people no longer listed are marked deleted."""
        stamp = to_text(at)
        count = 0
        rows: list[dict] = []
        for person in people:
            rows.append({**person, "platform": platform, "updated_at": stamp})
            count += 1
            if len(rows) >= 1000:
                with self._write() as db:
                    self._upsert_people(db, rows)
                rows = []
        with self._write() as db:
            self._upsert_people(db, rows)
            db.execute(
                "UPDATE people SET deleted = 1 WHERE platform = ? AND updated_at < ?",
                [platform, stamp],
            )
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [f"directory_synced_at:{platform}", stamp],
            )
        return count

    def update_person(self, platform: str, person: dict, at: datetime) -> None:
        """One person as the platform shows them now (a look-up between directory refreshes)."""
        with self._write() as db:
            self._upsert_people(db, [{**person, "platform": platform, "updated_at": to_text(at)}])

    def _upsert_people(self, db: sqlite_utils.Database, rows: list[dict]) -> None:
        if not rows:
            return
        db.conn.executemany(
            "INSERT INTO people (platform, id, name, real_name, email, tz, deleted, is_bot, updated_at)"
            " VALUES (:platform, :id, :name, :real_name, :email, :tz, :deleted, :is_bot, :updated_at)"
            " ON CONFLICT(platform, id) DO UPDATE SET name = excluded.name,"
            " real_name = excluded.real_name, email = excluded.email, tz = excluded.tz,"
            " deleted = excluded.deleted, is_bot = excluded.is_bot, updated_at = excluded.updated_at",
            [
                {
                    "name": "",
                    "real_name": "",
                    "email": "",
                    "tz": "",
                    "deleted": 0,
                    "is_bot": 0,
                    **row,
                }
                for row in rows
            ],
        )

    def replace_groups(self, platform: str, groups: Iterable[dict], at: datetime) -> None:
        stamp = to_text(at)
        with self._write() as db:
            db.execute("DELETE FROM groups WHERE platform = ?", [platform])
            for group in groups:
                db.execute(
                    "INSERT INTO groups (platform, id, handle, name, updated_at) VALUES (?, ?, ?, ?, ?)",
                    [platform, group["id"], group.get("handle", ""), group.get("name", ""), stamp],
                )

    def groups(self, platform: str) -> list[dict]:
        return self._rows(
            "SELECT id, handle, name FROM groups WHERE platform = ? ORDER BY name", [platform]
        )

    def directory_synced_at(self, platform: str) -> datetime | None:
        row = self._row("SELECT value FROM meta WHERE key = ?", [f"directory_synced_at:{platform}"])
        return from_text(row["value"]) if row else None

    def everyone(self, platform: str) -> list[Recipient]:
        """Every active human in the directory (bots and deactivated accounts excluded)."""
        return [
            Recipient(platform, row["id"], row["real_name"] or row["name"])
            for row in self.db.query(
                "SELECT id, name, real_name FROM people WHERE platform = ? AND deleted = 0"
                " AND is_bot = 0 ORDER BY id",
                [platform],
            )
        ]

    def people(self, platform: str, ids: Iterable[str]) -> dict[str, dict]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                f"SELECT * FROM people WHERE platform = ? AND id IN ({marks})", [platform, *chunk]
            ):
                found[row["id"]] = row
        return found

    def person(self, platform: str, person_id: str) -> dict | None:
        return self._row(
            "SELECT * FROM people WHERE platform = ? AND id = ?", [platform, person_id]
        )

    def remember_person(
        self,
        platform: str,
        person_id: str,
        *,
        name: str = "",
        email: str = "",
        tz: str | None = None,
        reference: dict | None = None,
        installed: bool | None = None,
        now: datetime | None = None,
    ) -> None:
        """Learn of a person as the platform shows them (an install, a roster): keep
        what is known, add what is new. `installed=False` marks an uninstall; the
        person is kept, so reports and past copies still name them."""
        with self._write() as db:
            row = db.execute(
                "SELECT name, email, tz, reference FROM people WHERE platform = ? AND id = ?",
                [platform, person_id],
            ).fetchone()
            merged = json.loads(row[3] or "{}") if row else {}
            merged.update(reference or {})
            values = {
                "platform": platform,
                "id": person_id,
                "name": name or (row[0] if row else ""),
                "real_name": name or (row[0] if row else ""),
                "email": email or (row[1] if row else ""),
                "tz": tz or (row[2] if row else ""),
                "reference": json.dumps(merged),
                "conversation_id": merged.get("conversation_id"),
                "updated_at": to_text(now) if now else None,
            }
            db.execute(
                "INSERT INTO people (platform, id, name, real_name, email, tz, deleted, is_bot, reference,"
                " conversation_id, updated_at) VALUES (:platform, :id, :name, :real_name, :email, :tz, 0, 0,"
                " :reference, :conversation_id, :updated_at) ON CONFLICT(platform, id) DO UPDATE SET"
                " name = excluded.name, real_name = excluded.real_name, email = excluded.email,"
                " tz = excluded.tz, reference = excluded.reference,"
                " conversation_id = excluded.conversation_id",
                values,
            )
            if installed is True:
                db.execute(
                    "UPDATE people SET deleted = 0, uninstalled_at = NULL WHERE platform = ? AND id = ?",
                    [platform, person_id],
                )
            elif installed is False:
                db.execute(
                    "UPDATE people SET deleted = 1, uninstalled_at = ? WHERE platform = ? AND id = ?",
                    [to_text(now) if now else None, platform, person_id],
                )

    def remember_reference(self, platform: str, person_id: str, reference: dict) -> None:
        self.remember_person(platform, person_id, reference=reference)

    def person_by_conversation(self, platform: str, conversation_id: str) -> dict | None:
        return self._row(
            "SELECT * FROM people WHERE platform = ? AND conversation_id = ?",
            [platform, conversation_id],
        )

    def remember_group(
        self, platform: str, group_id: str, name: str, reference: dict, now: datetime
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO groups (platform, id, handle, name, updated_at, reference) VALUES (?, ?, '', ?, ?, ?)"
                " ON CONFLICT(platform, id) DO UPDATE SET name = excluded.name,"
                " reference = excluded.reference, updated_at = excluded.updated_at",
                [platform, group_id, name, to_text(now), json.dumps(reference)],
            )

    def forget_group(self, platform: str, group_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM groups WHERE platform = ? AND id = ?", [platform, group_id])

    def group(self, platform: str, group_id: str) -> dict | None:
        return self._row("SELECT * FROM groups WHERE platform = ? AND id = ?", [platform, group_id])

    def dm_channel(self, platform: str, person_id: str) -> str | None:
        """A person's DM channel: from any message delivered to them, or learnt on its own."""
        row = self._row(
            "SELECT channel FROM copies WHERE platform = ? AND recipient_id = ? AND channel IS NOT NULL"
            " LIMIT 1",
            [platform, person_id],
        ) or self._row(
            "SELECT dm_channel AS channel FROM people WHERE platform = ? AND id = ?"
            " AND dm_channel IS NOT NULL",
            [platform, person_id],
        )
        return row["channel"] if row else None

    def remember_dm_channel(self, platform: str, person_id: str, channel: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO people (platform, id, dm_channel, deleted, is_bot) VALUES (?, ?, ?, 0, 0)"
                " ON CONFLICT(platform, id) DO UPDATE SET dm_channel = excluded.dm_channel",
                [platform, person_id, channel],
            )

    # ------------------------------------------------------------ memos

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
    ) -> Memo:
        audiences = [a.to_json() for a in audiences_of(audience)]
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO memos (title, body, sender_id, sender_platform, ask_ack, ack_deadline,"
                " audience, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    title,
                    body,
                    sender_id,
                    sender_platform,
                    int(ask_ack),
                    to_text(ack_deadline) if ack_deadline else None,
                    json.dumps(audiences),
                    MEMO_SENDING,
                    to_text(now),
                ],
            )
            memo_id = cursor.lastrowid
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
                },
            )
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

    def add_recipients(self, memo_id: int, recipients: list[Recipient], now: datetime) -> int:
        """Create one copy per recipient, in one transaction, exactly once per memo.

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
            open_state = PENDING if memo[0] == MEMO_SENDING else CANCELLED
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
                        person.error,
                        stamp,
                        stamp if state == CANCELLED else None,
                    )
                )
            db.conn.executemany(
                "INSERT OR IGNORE INTO copies (memo_id, platform, recipient_id, recipient_name, state,"
                " error, next_attempt_at, cancelled_at, attempts, in_doubt)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
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
        row = db.execute(
            "SELECT state, recipients_added_at FROM memos WHERE id = ?", [memo_id]
        ).fetchone()
        if not row or row[0] != MEMO_SENDING or row[1] is None:
            return
        open_copies = db.execute(
            "SELECT 1 FROM copies WHERE memo_id = ? AND state IN (?, ?) LIMIT 1",
            [memo_id, PENDING, SENDING],
        ).fetchone()
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
            if row["state"] in (PENDING, SENDING):
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

    # ------------------------------------------------------------ the outbox: claims

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

    # ------------------------------------------------------------ the outbox: results

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

    def _count_reminder(self, db, reminder: dict, now: datetime, *, delivered: bool) -> None:
        """A reminder that went (or finally failed) counts; the next one is scheduled afresh."""
        target = "notices" if reminder["kind"] == RETRACTION_REMINDER else "copies"
        last = ", last_reminder_at = :now" if delivered else ""
        db.execute(
            f"UPDATE {target} SET reminders_sent = reminders_sent + 1, next_reminder_at = NULL{last}"
            " WHERE id = :id",
            {"now": to_text(now), "id": reminder["target_id"]},
        )

    def _subject(self, db, kind: str, item: dict) -> str:
        if kind == "edits":
            row = db.execute(
                "SELECT platform, recipient_id FROM copies WHERE id = ?", [item["id"]]
            ).fetchone()
            return f"{row[0]}:{row[1]}"
        return f"{item['platform']}:{item['recipient_id']}"

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
            "INSERT OR IGNORE INTO notices (copy_id, memo_id, platform, recipient_id, state,"
            " priority, attempts, in_doubt, next_attempt_at, reminders_sent)"
            f" SELECT id, memo_id, platform, recipient_id, '{PENDING}',"
            " CASE WHEN acknowledged_at IS NULL THEN 1 ELSE 0 END, 0, 0, ?, 0"
            f" FROM copies WHERE memo_id = ? AND state = ?{only}",
            params,
        )
        db.execute(
            "INSERT OR IGNORE INTO edits (id, memo_id, platform, state, attempts, in_doubt,"
            f" next_attempt_at) SELECT id, memo_id, platform, '{WAITING}', 0, 0, ?"
            f" FROM copies WHERE memo_id = ? AND state = ?{only}",
            params,
        )
        return cursor.rowcount

    # ------------------------------------------------------------ retraction

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
            queued = self._queue_notices_and_edits(db, memo_id, now)
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

    def retract(
        self,
        memo_id: int,
        *,
        by: str,
        by_platform: str,
        reason: str,
        corrections: str,
        now: datetime,
    ) -> Retraction | None:
        """Request and apply at once (no copy can be in flight: tests, tools)."""
        if not self.request_retraction(
            memo_id, by=by, by_platform=by_platform, reason=reason, corrections=corrections, now=now
        ):
            return None
        return self.apply_retraction(memo_id, now)

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
            for kind in ("notices", "edits")
        )
        if busy:
            return
        db.execute("UPDATE memos SET state = ? WHERE id = ?", [MEMO_RETRACTED, memo_id])
        db.execute("UPDATE retractions SET done_at = ? WHERE memo_id = ?", [to_text(now), memo_id])
        self._audit(db, now, "retraction completed", memo_id=memo_id)

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

    # ------------------------------------------------------------ clicks

    def acknowledge(self, copy_id: int, user_id: str, platform: str, now: datetime) -> Click:
        """Record the first acknowledgement of a copy by its own recipient."""
        with self._write() as db:
            row = db.execute(
                "SELECT c.recipient_id, c.platform, c.acknowledged_at, c.state, m.state, c.memo_id,"
                " m.ask_ack FROM copies c JOIN memos m ON m.id = c.memo_id WHERE c.id = ?",
                [copy_id],
            ).fetchone()
            if row is None:
                return Click("unknown")
            recipient, copy_platform, acked, state, memo_state, memo_id, ask_ack = row
            if recipient != user_id or copy_platform != platform:
                self._audit(
                    db,
                    now,
                    "denied",
                    actor=user_id,
                    memo_id=memo_id,
                    subject="acknowledge",
                    detail={"copy_id": copy_id, "recipient": recipient},
                )
                return Click("not_yours", memo_id=memo_id)
            if memo_state in (MEMO_RETRACTING, MEMO_RETRACTED):
                return Click("retracted", memo_id=memo_id)
            if db.execute("SELECT 1 FROM retractions WHERE memo_id = ?", [memo_id]).fetchone():
                # Asked for and confirmed to the retractor, not applied yet (the sends in
                # flight are still landing): from that moment nothing is acknowledged.
                self._audit(
                    db,
                    now,
                    "acknowledgement refused",
                    actor=user_id,
                    memo_id=memo_id,
                    subject=f"{platform}:{user_id}",
                    detail={"copy_id": copy_id, "why": "the memo is being retracted"},
                )
                return Click("retracting", memo_id=memo_id)
            if acked:
                return Click("already", from_text(acked), memo_id)
            # A click proves the copy arrived, even if its send is not recorded yet.
            if state == CANCELLED or not ask_ack:
                return Click("closed", memo_id=memo_id)
            db.execute(
                "UPDATE copies SET acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL",
                [to_text(now), copy_id],
            )
            self._cancel_reminders(db, ACK_REMINDER, "target_id = ?", [copy_id])
            self._audit(
                db,
                now,
                "acknowledged",
                actor=user_id,
                memo_id=memo_id,
                subject=f"{platform}:{user_id}",
            )
        return Click("recorded", now, memo_id)

    def mark_seen(self, notice_id: int, user_id: str, platform: str, now: datetime) -> Click:
        """Record the first "I've seen this" on a notice by its own recipient."""
        with self._write() as db:
            row = db.execute(
                "SELECT recipient_id, platform, seen_at, state, memo_id FROM notices WHERE id = ?",
                [notice_id],
            ).fetchone()
            if row is None:
                return Click("unknown")
            recipient, notice_platform, seen, state, memo_id = row
            if recipient != user_id or notice_platform != platform:
                self._audit(
                    db,
                    now,
                    "denied",
                    actor=user_id,
                    memo_id=memo_id,
                    subject="seen",
                    detail={"notice_id": notice_id, "recipient": recipient},
                )
                return Click("not_yours", memo_id=memo_id)
            if seen:
                return Click("already", from_text(seen), memo_id)
            db.execute(
                "UPDATE notices SET seen_at = ? WHERE id = ? AND seen_at IS NULL",
                [to_text(now), notice_id],
            )
            self._cancel_reminders(db, RETRACTION_REMINDER, "target_id = ?", [notice_id])
            self._audit(
                db, now, "seen", actor=user_id, memo_id=memo_id, subject=f"{platform}:{user_id}"
            )
        return Click("recorded", now, memo_id)

    # ------------------------------------------------------------ reminders and escalations

    def _cancel_reminders(self, db, kind: str, where: str, params: list) -> None:
        """Reminders not yet on their way stop at once (acknowledged, seen, retracted)."""
        db.execute(
            f"UPDATE reminders SET state = ? WHERE kind = ? AND state = ? AND in_doubt = 0 AND {where}",
            [CANCELLED, kind, PENDING, *params],
        )

    def reminder_targets_to_schedule(self, kind: str, max_reminders: int) -> list[dict]:
        """People owed a reminder whose next one has no time yet, with what is needed to
        compute it: when they got the message, how many reminders so far, their time zone."""
        if kind == RETRACTION_REMINDER:
            sql = (
                "SELECT n.id, n.delivered_at AS anchor, n.reminders_sent, n.last_reminder_at,"
                " NULL AS deadline, p.tz FROM notices n JOIN memos m ON m.id = n.memo_id"
                " LEFT JOIN people p ON p.platform = n.platform AND p.id = n.recipient_id"
                " WHERE n.state = ? AND n.seen_at IS NULL AND n.next_reminder_at IS NULL"
                " AND n.reminders_sent < ? AND m.state IN (?, ?)"
            )
            params = [DELIVERED, max_reminders, MEMO_RETRACTING, MEMO_RETRACTED]
        else:
            sql = (
                "SELECT c.id, c.delivered_at AS anchor, c.reminders_sent, c.last_reminder_at,"
                " m.ack_deadline AS deadline, p.tz FROM copies c JOIN memos m ON m.id = c.memo_id"
                " LEFT JOIN people p ON p.platform = c.platform AND p.id = c.recipient_id"
                " WHERE c.state = ? AND c.acknowledged_at IS NULL AND c.next_reminder_at IS NULL"
                " AND m.ask_ack = 1 AND c.reminders_sent < ? AND m.state IN (?, ?)"
            )
            params = [DELIVERED, max_reminders, MEMO_SENDING, MEMO_SENT]
        return [
            {
                **row,
                "anchor": from_text(row["anchor"]),
                "last_reminder_at": from_text(row["last_reminder_at"]),
                "deadline": from_text(row["deadline"]),
            }
            for row in self.db.query(sql, params)
        ]

    def schedule_reminders(
        self, kind: str, schedule: list[tuple[int, datetime | None, datetime | None]], now: datetime
    ) -> None:
        """Store when each person's next reminder goes: (target, at or None for never,
        the time it fell due when the working-hours window pushed it later)."""
        target = "notices" if kind == RETRACTION_REMINDER else "copies"
        with self._write() as db:
            for target_id, at, deferred_from in schedule:
                db.execute(
                    f"UPDATE {target} SET next_reminder_at = ? WHERE id = ?",
                    [to_text(at) if at else NEVER, target_id],
                )
                if deferred_from is not None and at is not None:
                    row = db.execute(
                        f"SELECT memo_id, platform, recipient_id FROM {target} WHERE id = ?",
                        [target_id],
                    ).fetchone()
                    self._audit(
                        db,
                        now,
                        "reminder deferred",
                        memo_id=row[0],
                        subject=f"{row[1]}:{row[2]}",
                        detail={
                            "kind": kind,
                            "due": to_text(deferred_from),
                            "scheduled": to_text(at),
                            "why": "outside working hours",
                        },
                    )

    def due_reminder_targets(self, kind: str, max_reminders: int, now: datetime) -> list[dict]:
        """People whose next reminder time has come, with their time zone."""
        table, alias, open_ = (
            ("notices", "n", "n.seen_at IS NULL")
            if kind == RETRACTION_REMINDER
            else ("copies", "c", "c.acknowledged_at IS NULL")
        )
        return self._rows(
            f"SELECT {alias}.id, p.tz FROM {table} {alias}"
            f" LEFT JOIN people p ON p.platform = {alias}.platform AND p.id = {alias}.recipient_id"
            f" WHERE {alias}.state = ? AND {alias}.next_reminder_at <= ? AND {alias}.reminders_sent < ?"
            f" AND {open_}",
            [DELIVERED, to_text(now), max_reminders],
        )

    def queue_due_reminders(self, kind: str, max_reminders: int, now: datetime) -> int:
        """One reminder row per person whose next reminder is due; the unique
        (kind, target, seq) key means a double fire or an overlap queues nothing twice."""
        stamp = to_text(now)
        if kind == RETRACTION_REMINDER:
            sql = (
                "INSERT OR IGNORE INTO reminders (kind, target_id, seq, memo_id, platform,"
                " recipient_id, state, attempts, in_doubt, next_attempt_at, created_at)"
                " SELECT ?, n.id, n.reminders_sent + 1, n.memo_id, n.platform, n.recipient_id,"
                " ?, 0, 0, ?, ? FROM notices n JOIN memos m ON m.id = n.memo_id"
                " WHERE n.state = ? AND n.seen_at IS NULL AND n.next_reminder_at <= ?"
                " AND n.reminders_sent < ? AND m.state IN (?, ?)"
            )
            params = [
                kind,
                PENDING,
                stamp,
                stamp,
                DELIVERED,
                stamp,
                max_reminders,
                MEMO_RETRACTING,
                MEMO_RETRACTED,
            ]
        else:
            sql = (
                "INSERT OR IGNORE INTO reminders (kind, target_id, seq, memo_id, platform,"
                " recipient_id, state, attempts, in_doubt, next_attempt_at, created_at)"
                " SELECT ?, c.id, c.reminders_sent + 1, c.memo_id, c.platform, c.recipient_id,"
                " ?, 0, 0, ?, ? FROM copies c JOIN memos m ON m.id = c.memo_id"
                " WHERE c.state = ? AND c.acknowledged_at IS NULL AND c.next_reminder_at <= ?"
                " AND c.reminders_sent < ? AND m.ask_ack = 1 AND m.state IN (?, ?)"
                " AND (m.ack_deadline IS NULL OR m.ack_deadline > ?)"
            )
            params = [
                kind,
                PENDING,
                stamp,
                stamp,
                DELIVERED,
                stamp,
                max_reminders,
                MEMO_SENDING,
                MEMO_SENT,
                stamp,
            ]
        with self._write() as db:
            return db.execute(sql, params).rowcount

    def claim_reminder(self, platform: str, now: datetime) -> dict | None:
        """Take the next due reminder that is still wanted (in-doubt ones are always checked)."""
        return self._claim(
            "reminders",
            platform,
            now,
            joins="JOIN memos m ON m.id = x.memo_id"
            " LEFT JOIN notices n ON x.kind = ? AND n.id = x.target_id"
            " LEFT JOIN copies c ON x.kind = ? AND c.id = x.target_id",
            join_params=(RETRACTION_REMINDER, ACK_REMINDER),
            where=" AND (x.in_doubt = 1 OR (x.kind = ? AND n.seen_at IS NULL)"
            "  OR (x.kind = ? AND c.acknowledged_at IS NULL AND m.state IN (?, ?)"
            "      AND (m.ack_deadline IS NULL OR m.ack_deadline > ?)))",
            params=(RETRACTION_REMINDER, ACK_REMINDER, MEMO_SENDING, MEMO_SENT, to_text(now)),
        )

    def cancel_unwanted_reminders(self, now: datetime) -> int:
        """Reminders queued for someone who has since confirmed, or for a memo since retracted."""
        with self._write() as db:
            return db.execute(
                "UPDATE reminders SET state = ? WHERE state = ? AND in_doubt = 0 AND id IN ("
                " SELECT r.id FROM reminders r JOIN memos m ON m.id = r.memo_id"
                " LEFT JOIN notices n ON r.kind = ? AND n.id = r.target_id"
                " LEFT JOIN copies c ON r.kind = ? AND c.id = r.target_id"
                " WHERE r.state = ? AND ((r.kind = ? AND n.seen_at IS NOT NULL)"
                "  OR (r.kind = ? AND (c.acknowledged_at IS NOT NULL OR m.state NOT IN (?, ?)"
                "      OR m.ack_deadline <= ?))))",
                [
                    CANCELLED,
                    PENDING,
                    RETRACTION_REMINDER,
                    ACK_REMINDER,
                    PENDING,
                    RETRACTION_REMINDER,
                    ACK_REMINDER,
                    MEMO_SENDING,
                    MEMO_SENT,
                    to_text(now),
                ],
            ).rowcount

    def next_reminder_time(self) -> datetime | None:
        """The earliest scheduled reminder, so the scheduler can wake exactly then."""
        times = []
        for table in ("notices", "copies"):
            row = self._row(
                f"SELECT min(next_reminder_at) AS at FROM {table} WHERE next_reminder_at IS NOT NULL"
                " AND next_reminder_at < ?",
                [NEVER],
            )
            if row and row["at"]:
                times.append(from_text(row["at"]))
        return min(times) if times else None

    def queue_escalations(
        self, *, max_reminders: int, cutoff: datetime, channel: str | None, now: datetime
    ) -> list[int]:
        """Escalate, once, everyone who still has not confirmed after the last reminder
        (and `cutoff` has passed since it): one escalation per memo, to its retractor and
        to the escalation channel when there is one. Returns the memos escalated."""
        stamp = to_text(now)
        escalated = []
        with self._write() as db:
            due = db.execute(
                "SELECT n.memo_id, n.id, n.platform, n.recipient_id, n.reminders_sent"
                " FROM notices n JOIN memos m ON m.id = n.memo_id"
                " WHERE n.state = ? AND n.seen_at IS NULL AND n.escalation_id IS NULL"
                " AND n.reminders_sent >= ? AND coalesce(n.last_reminder_at, n.delivered_at) <= ?"
                " AND m.state IN (?, ?) ORDER BY n.memo_id, n.id",
                [DELIVERED, max_reminders, to_text(cutoff), MEMO_RETRACTING, MEMO_RETRACTED],
            ).fetchall()
            by_memo: dict[int, list] = {}
            for memo_id, notice_id, platform, recipient, sent in due:
                by_memo.setdefault(memo_id, []).append((notice_id, platform, recipient, sent))
            for memo_id, people in by_memo.items():
                retraction = db.execute(
                    "SELECT retracted_by, retracted_by_platform FROM retractions WHERE memo_id = ?",
                    [memo_id],
                ).fetchone()
                listed = json.dumps([f"{p}:{r}" for _, p, r, _ in people])
                targets = [(retraction[1], retraction[0])]
                if channel:
                    targets.append(("slack", channel))
                group_id = None
                for platform, recipient in targets:
                    cursor = db.execute(
                        "INSERT INTO escalations (memo_id, platform, recipient_id, people, state,"
                        " attempts, in_doubt, next_attempt_at, created_at, group_id)"
                        " VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?)",
                        [memo_id, platform, recipient, listed, PENDING, stamp, stamp, group_id],
                    )
                    if group_id is None:
                        group_id = cursor.lastrowid
                        db.execute(
                            "UPDATE escalations SET group_id = ? WHERE id = ?", [group_id, group_id]
                        )
                marks = ",".join("?" * len(people))
                db.execute(
                    f"UPDATE notices SET escalation_id = ? WHERE id IN ({marks})",
                    [group_id, *(n for n, _, _, _ in people)],
                )
                self._audit(
                    db,
                    now,
                    "escalation",
                    memo_id=memo_id,
                    detail={"people": len(people), "to": [f"{p}:{r}" for p, r in targets]},
                )
                escalated.append(memo_id)
        return escalated

    def claim_escalation(self, platform: str, now: datetime) -> dict | None:
        claimed = self._claim("escalations", platform, now)
        if claimed:
            claimed["people"] = json.loads(claimed["people"] or "[]")
        return claimed

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
                " max(coalesce(n.last_reminder_at, ''), coalesce(c.last_reminder_at, '')) AS last_reminder_at,"
                " n.escalated_at"
                " FROM copies c LEFT JOIN notices n ON n.copy_id = c.id"
                " WHERE c.memo_id = ? AND c.id > ? ORDER BY c.id LIMIT ?",
                [memo_id, last, batch],
            )
            if not rows:
                return
            yield from rows
            last = rows[-1]["copy_id"]

    def median_seconds_to_seen(self, memo_id: int) -> float | None:
        row = self._row(
            "SELECT count(*) AS n FROM notices WHERE memo_id = ? AND seen_at IS NOT NULL", [memo_id]
        )
        if not row or not row["n"]:
            return None
        middle = self._row(
            "SELECT (julianday(seen_at) - julianday(delivered_at)) * 86400.0 AS s FROM notices"
            " WHERE memo_id = ? AND seen_at IS NOT NULL AND delivered_at IS NOT NULL"
            " ORDER BY s LIMIT 1 OFFSET ?",
            [memo_id, (row["n"] - 1) // 2],
        )
        return middle["s"] if middle else None

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

    def first_delivery_of_event(self, event_id: str, now: datetime) -> bool:
        """True the first time an Events API delivery is seen; False for its retries."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO events (id, received_at) VALUES (?, ?)",
                [event_id, to_text(now)],
            )
            # Keep a week: Slack retries within minutes.
            db.execute(
                "DELETE FROM events WHERE received_at < ?", [to_text(now - timedelta(days=7))]
            )
            return cursor.rowcount == 1

    def secret(self, name: str) -> bytes:
        """A random key made once and kept (e.g. to sign report links across restarts)."""
        key = f"secret:{name}"
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [key, secrets.token_hex(32)],
            )
            return bytes.fromhex(
                db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()[0]
            )

    def backup(self, path: str) -> None:
        """A consistent copy of the live database (SQLite's online backup)."""
        target = sqlite3.connect(path)
        try:
            self.db.conn.backup(target)
        finally:
            target.close()

    # ------------------------------------------------------------ reads

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


# ---------------------------------------------------------------- row mapping


def _one(cursor: sqlite3.Cursor) -> dict | None:
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cursor.description], row, strict=True))


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
    )


def _copy(row: dict) -> Copy:
    return Copy(
        id=row["id"],
        memo_id=row["memo_id"],
        platform=row["platform"],
        recipient_id=row["recipient_id"],
        recipient_name=row["recipient_name"] or "",
        state=row["state"],
        attempts=row["attempts"] or 0,
        in_doubt=bool(row["in_doubt"]),
        channel=row["channel"],
        ts=row["ts"],
        error=row["error"],
        delivered_at=from_text(row["delivered_at"]),
        acknowledged_at=from_text(row["acknowledged_at"]),
        claimed_at=from_text(row["claimed_at"]),
    )


def _notice(row: dict) -> Notice:
    return Notice(
        id=row["id"],
        copy_id=row["copy_id"],
        memo_id=row["memo_id"],
        platform=row["platform"],
        recipient_id=row["recipient_id"],
        priority=row["priority"],
        state=row["state"],
        attempts=row["attempts"] or 0,
        in_doubt=bool(row["in_doubt"]),
        channel=row["channel"],
        ts=row["ts"],
        error=row["error"],
        delivered_at=from_text(row["delivered_at"]),
        seen_at=from_text(row["seen_at"]),
        claimed_at=from_text(row["claimed_at"]),
        reminders_sent=row["reminders_sent"] or 0,
        last_reminder_at=from_text(row["last_reminder_at"]),
        escalated_at=from_text(row["escalated_at"]),
    )


def _edit(row: dict) -> Edit:
    return Edit(
        copy_id=row["id"],
        memo_id=row["memo_id"],
        state=row["state"],
        attempts=row["attempts"] or 0,
        error=row["error"],
    )
