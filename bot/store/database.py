"""The database itself: connections, the one write transaction, the audit append.

Each change that belongs together runs in one `BEGIN IMMEDIATE` transaction
(`_write()`) together with its audit entry (`_audit()`), so a crash never leaves
half a change, and the audit chain is appended by one writer at a time.
Connections are per thread (bolt listeners, the outbox workers and the scheduler
all run on their own threads).

The one dialect spot, with postgres.py (`path` may be a postgresql:// URL: then the
same functions run on PostgreSQL, for several instances). What is SQLite's alone, and
what PostgreSQL does instead:
- here: the PRAGMAs on connect (busy_timeout, foreign_keys, synchronous) and
  `journal_mode = WAL` in `migrate`; `BEGIN IMMEDIATE` in `_write()` (PostgreSQL: a
  transaction under `pg_advisory_xact_lock`); `backup()` (SQLite's online backup;
  PostgreSQL: pg_dump); the sender's lease (always held on SQLite; a row on PostgreSQL);
- schema.py: the tables are made with sqlite-utils' `create`/`add_column` (PostgreSQL:
  the schema they make is read back and translated, postgres.py says how);
- the parameters are sqlite3's `?` and `:name`, and the mixins call sqlite-utils'
  `db.query`/`db.execute`/`db.conn.executemany`: postgres.Connection offers those calls
  and translates the parameters;
- claims add `FOR UPDATE OF x SKIP LOCKED` on PostgreSQL (outbox._claim, by `dialect`);
- times are ISO-8601 text (bot.clock.to_text), compared as text: portable as it is.
Already portable: `INSERT ... ON CONFLICT DO NOTHING` / `DO UPDATE` (SQLite >= 3.24;
the store once used `INSERT OR IGNORE`), `INSERT/UPDATE ... RETURNING` (SQLite >= 3.35;
new ids are read with `RETURNING id`, never `lastrowid`), CASE instead of scalar
`max(a, b)`, the time to seen computed in Python (no julianday), and times passed as
parameters, never `datetime('now')`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import sqlite_utils

from bot import audit
from bot.clock import to_text
from bot.store.rows import _one
from bot.store.schema import MIGRATIONS


def postgres_url(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://"))


class Database:
    """The connections (one per thread), the one write transaction, the audit append,
    the migrations, and the backup. The aggregates' mixins build on these."""

    def __init__(self, path: str, *, audit_key: bytes | None = None):
        """`audit_key` keys the audit chain (bot.audit.load_key); without one, the key
        file beside the database is used, made on first need."""
        self.path = path
        self._audit_key = audit_key
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        # `path` may be a postgresql:// URL: the same functions over PostgreSQL.
        self._pg = None
        if postgres_url(path):
            from bot.store import postgres

            self._pg = postgres.Connection(path)
        self.dialect = "postgresql" if self._pg is not None else "sqlite"

    @property
    def shared(self) -> bool:
        """Several instances may share this database (PostgreSQL): one leads at a time."""
        return self._pg is not None

    @property
    def db(self) -> sqlite_utils.Database:
        if self._pg is not None:
            return self._pg.current()
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
        if self._pg is not None:
            self._pg.close()
            return
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
        if self._pg is not None:
            # PostgreSQL: a transaction that first takes the advisory write lock (postgres.py).
            with self._write_lock, self._pg.transaction() as tx:
                yield tx
            return
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

    def _later(self, db: sqlite_utils.Database, sql: str, params: Any = ()) -> None:
        """A write in the transaction `db` whose result is not read: on PostgreSQL it waits
        to go to the server with the next statement (postgres.Transaction), saving a round
        trip; on SQLite there is none to save."""
        if self._pg is not None:
            db.execute_later(sql, params)
        else:
            db.execute(sql, params)

    def _claim_row(self, sql: str, params: Any) -> dict | None:
        """Run a claim, one `UPDATE ... RETURNING *` that marks a due row as on its way;
        the row, or None.

        SQLite: a write transaction like every write. PostgreSQL: the statement alone, as
        its own transaction, outside the write lock (the in-process one and the advisory
        one), so that claims run beside each other and beside the outcomes being recorded
        (each claim under the lock was a transaction of three round trips that every
        writer queued behind). The lock is not needed there: a claim appends no audit
        entry, and writes nothing but the row it picked, which it locks as it picks it
        (`FOR UPDATE ... SKIP LOCKED`, outbox._claim), so two claimers, even in two
        instances, never take one row. A retraction that races a claim (its transaction
        cancels every pending copy of the memo) either changed the row first, and the
        claim passes it over (skipped while locked, its condition checked again on the
        committed row after), or waits for the claim and leaves the row `sending`: the
        send gate, closed before that transaction began, then turns the claimer back
        (release_copy cancels the copy, under the lock), or the copy was already on its
        way and its outcome, recorded under the lock, queues its notice."""
        if self._pg is not None:
            return _one(self._pg.execute(sql, params))
        with self._write() as db:
            return _one(db.execute(sql, params))

    # ------------------------------------------------------------ the sender's lease

    def take_lease(self, holder: str, seconds: float) -> bool:
        """Take or renew the lease of the one instance that sends (the outbox, the
        scheduler, the sweeps); True while `holder` holds it. On SQLite one process owns
        the file: it always holds it. On PostgreSQL it is a row renewed by its holder."""
        if self._pg is None:
            return True
        from bot.store import postgres

        return postgres.take_lease(self._pg, holder, seconds)

    def release_lease(self, holder: str) -> None:
        if self._pg is not None:
            from bot.store import postgres

            postgres.release_lease(self._pg, holder)

    def lease_holder(self) -> str | None:
        if self._pg is None:
            return None
        from bot.store import postgres

        return postgres.lease_holder(self._pg)

    def _rows(self, sql: str, params: Any = ()) -> list[dict]:
        return list(self.db.query(sql, params))

    def _row(self, sql: str, params: Any = ()) -> dict | None:
        for row in self.db.query(sql, params):
            return row
        return None

    def _meta(self, key: str) -> str | None:
        row = self._row("SELECT value FROM meta WHERE key = ?", [key])
        return row["value"] if row else None

    @property
    def audit_key(self) -> bytes:
        if self._audit_key is None:
            if self._pg is not None:
                raise audit.AuditKeyError(
                    "AUDIT_KEY is required with DATABASE_URL: every instance keys the one chain"
                )
            with self._lock:
                if self._audit_key is None:
                    self._audit_key = audit.load_key("", self.path)
        return self._audit_key

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
        self._audit_many(
            db,
            at,
            [
                {
                    "action": action,
                    "actor": actor,
                    "memo_id": memo_id,
                    "subject": subject,
                    "detail": detail,
                }
            ],
        )

    def _audit_many(self, db: sqlite_utils.Database, at: datetime, entries: list[dict]) -> None:
        """Append entries (action, and optionally actor, memo_id, subject, detail) to the
        chain in order, reading its head once: a sweep that defers thousands of reminders
        appends thousands of entries in one transaction, under the write lock."""
        if not entries:
            return
        last = next(db.query("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1"), None)
        next_id, prev_hash = ((last["id"] + 1), last["hash"]) if last else (1, audit.GENESIS)
        stamp = to_text(at)
        for given in entries:
            entry = {
                "id": next_id,
                "at": stamp,
                "actor": given.get("actor", ""),
                "action": given["action"],
                "memo_id": given.get("memo_id"),
                "subject": given.get("subject", ""),
                "detail": json.dumps(given.get("detail") or {}, sort_keys=True, ensure_ascii=False),
                "prev_hash": prev_hash,
            }
            entry["hash"] = audit.entry_hash(entry, self.audit_key)
            self._later(
                db,
                "INSERT INTO audit (id, at, actor, action, memo_id, subject, detail, prev_hash,"
                " hash) VALUES (:id, :at, :actor, :action, :memo_id, :subject, :detail,"
                " :prev_hash, :hash)",
                entry,
            )
            next_id, prev_hash = next_id + 1, entry["hash"]
        # The head lets `audit verify` notice entries deleted from the end of the chain.
        self._later(
            db,
            "INSERT INTO meta (key, value) VALUES ('audit_head', ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [f"{next_id - 1}:{prev_hash}"],
        )

    def migrate(self, *, key_audit_chain: bool = True) -> None:
        """Apply the schema migrations not yet applied; then, unless told not to (the CLI
        only reads), key an audit chain written before the key existed.

        Our own runner, not sqlite-utils' `Migrations` (4.x), for two reasons. Each
        migration and its record commit in `_write()`, the same BEGIN IMMEDIATE
        transaction behind this process's write lock as every other write, so it
        never interleaves with a worker's write; sqlite-utils' runner uses
        `db.atomic()` (a deferred BEGIN) outside that lock. And every database made
        so far records its migrations in `migrations(name, applied_at)`, whereas
        sqlite-utils keeps `_sqlite_migrations(migration_set, name, applied_at)`:
        switching means copying those rows across first, a risk for no gain."""
        if self._pg is not None:
            from bot.store import postgres

            postgres.migrate(self._pg, MIGRATIONS)
            if key_audit_chain:
                self.key_audit_chain(datetime.now(UTC))
            return
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
                    "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                    [name, datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")],
                )
        if key_audit_chain:
            self.key_audit_chain(datetime.now(UTC))

    def backup(self, path: str) -> None:
        """A consistent copy of the live database (SQLite's online backup)."""
        if self._pg is not None:
            raise NotImplementedError("on PostgreSQL, back up with pg_dump")
        target = sqlite3.connect(path)
        try:
            self.db.conn.backup(target)
        finally:
            target.close()
