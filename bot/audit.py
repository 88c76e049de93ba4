"""The audit log: append-only entries, each hashed together with the one before,
under a key kept outside the database, and checkpoints of its head posted elsewhere.

Each entry's hash is an HMAC-SHA256 with the audit key (`AUDIT_KEY`, or a key
file beside the database). Changing, deleting or inserting a row breaks the
chain at that row, and `verify` names the first entry that does not match;
someone who can write the database but does not hold the key cannot recompute
the hashes. A checkpoint (the entry count and the head's hash, posted to a
Slack channel the database cannot reach) pins what came before it, so even a
holder of the key cannot rewrite that part unnoticed.

Databases written before the key existed hold plain SHA-256 hashes: the store
checks them under that scheme and re-chains them once under the key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import secrets
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

GENESIS = "0" * 64
KEYED = "hmac-sha256"  # the scheme recorded in meta once the chain is keyed
MIN_KEY_LENGTH = 32

_HASHED = ("id", "at", "actor", "action", "memo_id", "subject", "detail", "prev_hash")


def _canonical(entry: dict) -> bytes:
    return json.dumps([entry[name] for name in _HASHED], ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict, key: bytes) -> str:
    """HMAC-SHA256 over the entry's fields (its id included, so a row cannot move)."""
    return hmac.new(key, _canonical(entry), hashlib.sha256).hexdigest()


def plain_hash(entry: dict) -> str:
    """The scheme before the key: SHA-256 over the same fields. Anyone can compute it."""
    return hashlib.sha256(_canonical(entry)).hexdigest()


def key_check(key: bytes) -> str:
    """A value that tells one key from another without revealing it (kept in meta, so
    that `verify` can say "wrong key" rather than "entry 1 does not match")."""
    return hmac.new(key, b"errata audit key check", hashlib.sha256).hexdigest()


# ---------------------------------------------------------------- the key


class AuditKeyError(Exception):
    """The audit key cannot be used; the message says why in one line."""


def key_file_for(database_path: str) -> Path:
    """Where the key lives when AUDIT_KEY is unset: beside the database."""
    return Path(f"{database_path}.auditkey")


def load_key(audit_key: str, database_path: str, *, create: bool = True) -> bytes | None:
    """The audit key: AUDIT_KEY when set, else the key file beside the database, made
    (mode 0600, atomically) when missing and `create`. None when there is none to read.
    Logs one line naming where the key comes from, never the key."""
    if audit_key:
        if len(audit_key) < MIN_KEY_LENGTH:
            raise AuditKeyError(f"AUDIT_KEY must be at least {MIN_KEY_LENGTH} characters")
        log.info("audit chain keyed with AUDIT_KEY")
        return audit_key.encode("utf-8")
    path = key_file_for(database_path)
    if not path.exists():
        if not create:
            return None
        if _create_key_file(path):
            log.warning(
                "audit key file created at %s (owner-only); keep it secret and back it up"
                " outside the database: without it `audit verify` cannot prove the chain",
                path,
            )
            return _read_key_file(path)
    key = _read_key_file(path)
    log.info("audit chain keyed with the key file %s", path)
    return key


def _create_key_file(path: Path) -> bool:
    """Write a new random key to `path`, never half-written and never readable by others:
    a temporary file made with O_EXCL and mode 0600, then linked into place (which fails
    if another process got there first). False when the file already existed."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        temporary.unlink(missing_ok=True)


def _read_key_file(path: Path) -> bytes:
    info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise AuditKeyError(f"audit key file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise AuditKeyError(
            f"audit key file {path} is readable or writable by others"
            f" (mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {path}`"
        )
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_KEY_LENGTH:
        raise AuditKeyError(f"audit key file {path} holds no key (under {MIN_KEY_LENGTH} chars)")
    return key.encode("utf-8")


# ---------------------------------------------------------------- verifying


@dataclass(frozen=True)
class Checkpoint:
    """A posted checkpoint: the chain had `count` entries, the last hashing to `hash`."""

    count: int
    hash: str
    channel: str
    ts: str

    def __str__(self) -> str:
        return f"the checkpoint posted in {self.channel} (message {self.ts})"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    broken_id: int | None = None
    problem: str = ""
    checkpoints: int = 0  # posted checkpoints that were compared and matched

    def __str__(self) -> str:
        if self.ok:
            matched = f"; {self.checkpoints} posted checkpoint(s) match" if self.checkpoints else ""
            return f"OK: {self.count} audit entries, chain intact under the audit key{matched}"
        if self.broken_id is None:
            return f"BROKEN: {self.problem}"
        return f"BROKEN at audit entry {self.broken_id}: {self.problem}"


def verify(
    entries: Iterable[dict],
    key: bytes | None,
    head: tuple[int, str] | None = None,
    *,
    checkpoints: Iterable[Checkpoint] = (),
    expected_key_check: str | None = None,
) -> Verdict:
    """Walk the chain in id order; stop at the first entry that does not match.

    `key` None checks the old, unkeyed scheme (only the migration does that).
    `head` (last id and hash, kept beside the log) catches entries cut from the end;
    `checkpoints` (read back from where they were posted) pin entries the key holder
    could otherwise rewrite; `expected_key_check` (from meta) tells a wrong key apart."""
    if key is not None and expected_key_check and key_check(key) != expected_key_check:
        return Verdict(
            False,
            0,
            problem="this is not the key the audit log was written with"
            " (check AUDIT_KEY, or the key file beside the database)",
        )
    pinned: dict[int, list[Checkpoint]] = {}
    for checkpoint in checkpoints:
        pinned.setdefault(checkpoint.count, []).append(checkpoint)
    expected_prev = GENESIS
    expected_id = 1
    count = 0
    matched = 0
    for entry in entries:
        if entry["id"] != expected_id:
            problem = (
                f"expected entry {expected_id} next, found {entry['id']} (a row was deleted)"
                if entry["id"] > expected_id
                else f"entry id {entry['id']} out of order (a row was inserted)"
            )
            return Verdict(False, count, expected_id, problem)
        if entry["prev_hash"] != expected_prev:
            return Verdict(
                False, count, entry["id"], "its link to the previous entry does not match"
            )
        if key is None:
            if plain_hash(entry) != entry["hash"]:
                return Verdict(False, count, entry["id"], "its content does not match its hash")
        elif not hmac.compare_digest(entry_hash(entry, key), entry["hash"]):
            if plain_hash(entry) == entry["hash"]:
                problem = (
                    "it is hashed without the audit key (plain SHA-256): written before the"
                    " chain was keyed, or rewritten by someone who does not hold the key"
                )
            else:
                problem = "its content does not match its hash under this audit key"
            return Verdict(False, count, entry["id"], problem)
        for checkpoint in pinned.get(entry["id"], ()):
            if checkpoint.hash != entry["hash"]:
                return Verdict(
                    False,
                    count,
                    entry["id"],
                    f"{checkpoint} says entry {checkpoint.count} had hash"
                    f" {checkpoint.hash[:16]}..., the log now has {entry['hash'][:16]}..."
                    " (history before that checkpoint was rewritten)",
                )
            matched += 1
        expected_prev = entry["hash"]
        expected_id += 1
        count += 1
    beyond = [c for c in sorted(pinned) if c > count]
    if beyond:
        checkpoint = pinned[beyond[-1]][0]
        problem = (
            f"{checkpoint} says the log had {checkpoint.count} entries; it ends at entry"
            f" {count} (entries deleted)"
        )
        return Verdict(False, count, count + 1, problem)
    if head is not None and (head[0] != count or head[1] != expected_prev):
        if head[0] > count:
            problem = f"the chain ends at entry {count} but {head[0]} were written (rows deleted)"
            return Verdict(False, count, count + 1, problem)
        return Verdict(False, count, head[0], "the last entry does not match the recorded head")
    return Verdict(True, count, checkpoints=matched)


def export_lines(entries: Iterable[dict]) -> Iterable[str]:
    """The log as JSON lines, detail decoded, in chain order."""
    for entry in entries:
        row = dict(entry)
        with contextlib.suppress(json.JSONDecodeError):
            row["detail"] = json.loads(row["detail"] or "{}")
        yield json.dumps(row, ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- checkpoints

CHECKPOINT_EVERY = timedelta(days=1)


@dataclass
class Checkpoints:
    """Posts the chain's head to `channel` every day and after every retraction.

    Stateless like every sweep: whether one is due is read from the store (the last
    checkpoint posted there, and any retraction applied since it). `kick` asks for a
    sweep on a thread of its own, so a retraction never waits for Slack or fails
    because of it; a failure is logged and the next sweep (bot/scheduler.py) retries.
    `post(channel, count, hash, at)` returns the posted message's ts, or raises."""

    store: Store
    clock: object
    channel: str
    post: Callable[[str, int, str, datetime], str]
    every: timedelta = CHECKPOINT_EVERY
    _sweeping: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _state: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _wanted: bool = False
    _thread: threading.Thread | None = None

    def due(self, now: datetime) -> str | None:
        """Why a checkpoint is due now ("first", "daily", "retraction"), or None."""
        last = self.store.last_audit_checkpoint(self.channel)
        if last is None:
            return "first"
        if now - last["posted_at"] >= self.every:
            return "daily"
        if self.store.retracted_since(last["count"]):
            return "retraction"
        return None

    def sweep(self) -> bool:
        """Post a checkpoint if one is due; True if one was posted. Never raises."""
        with self._sweeping:
            try:
                now = self.clock.now()
                reason = self.due(now)
                head = self.store.audit_head() if reason else None
                if head is None:
                    return False
                count, digest = head
                ts = self.post(self.channel, count, digest, now)
                self.store.record_audit_checkpoint(self.channel, ts, count, digest, reason, now)
                log.info(
                    "audit checkpoint posted to %s: entry %d (%s)", self.channel, count, reason
                )
                return True
            except Exception as exc:
                log.warning(
                    "audit checkpoint not posted to %s (%s); the next sweep tries again",
                    self.channel,
                    exc,
                )
                return False

    def kick(self) -> None:
        """Ask for a sweep soon, off the caller's path; never blocks, never raises."""
        with self._state:
            self._wanted = True
            if self._thread is not None:
                return
            try:
                self._thread = threading.Thread(
                    target=self._drain, name="audit-checkpoint", daemon=True
                )
                self._thread.start()
            except RuntimeError as exc:  # interpreter shutting down: the sweep job retries
                self._thread = None
                log.warning("audit checkpoint sweep not started: %s", exc)

    def _drain(self) -> None:
        while True:
            with self._state:
                if not self._wanted:
                    self._thread = None
                    return
                self._wanted = False
            self.sweep()

    def idle(self) -> bool:
        """No sweep asked for or running (tests wait on this)."""
        with self._state:
            return self._thread is None and not self._wanted
