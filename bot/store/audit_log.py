"""The audit log: reading and verifying the hash chain, keying an old chain once,
checkpoints posted elsewhere, and the entries that are nothing but an audit entry
(denials, report downloads). Appending is `Database._audit`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime

from bot import audit
from bot.clock import from_text, to_text

log = logging.getLogger(__name__)


class AuditLogMixin:
    """The audit chain read, verified, keyed and checkpointed."""

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
