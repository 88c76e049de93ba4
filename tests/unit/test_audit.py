"""The keyed audit chain: what someone who can write the database can and cannot get
past `verify`, the key file, the one-time re-chaining of an old chain, and checkpoints."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from bot import audit
from bot.audit import AuditKeyError, Checkpoint, Checkpoints
from bot.domain import Audience, Recipient
from bot.store import Store
from tests.harness import wait_for
from tests.unit.builders import retract

ROOT = Path(__file__).resolve().parents[2]
KEY = b"k" * 40
OTHER_KEY = b"o" * 40


def _fill(store: Store, clock, people: int = 3) -> int:
    """A memo with a few recipients, retracted: a dozen audit entries. Its id."""
    memo = store.create_memo(
        title="t",
        body="b",
        sender_id="UCOMMS",
        sender_platform="slack",
        ask_ack=False,
        ack_deadline=None,
        audience=Audience(platform="slack", everyone=True),
        now=clock.now(),
    )
    store.add_recipients(memo.id, [Recipient("slack", f"U{i}") for i in range(people)], clock.now())
    retract(store, clock, memo.id, by="UCOMMS")
    return memo.id


@pytest.fixture
def keyed(tmp_path, clock):
    store = Store(str(tmp_path / "errata.db"), audit_key=KEY)
    store.migrate()
    _fill(store, clock)
    yield store
    store.close()


def _rewrite(path: str, sql: str, hasher) -> None:
    """What someone with write access does: change rows, then recompute every hash
    (and the head) with `hasher`, so the chain links up again."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    conn.executescript(sql)
    prev = audit.GENESIS
    rows = [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY id")]
    for row in rows:
        row["prev_hash"] = prev
        row["hash"] = prev = hasher(row)
        conn.execute(
            "UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?",
            [row["prev_hash"], row["hash"], row["id"]],
        )
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", [f"{rows[-1]['id']}:{prev}"])
    conn.commit()
    conn.close()


def test_the_chain_verifies_only_with_its_key(keyed):
    assert keyed.verify_audit().ok
    entries = list(keyed.audit_entries())
    wrong = audit.verify(
        entries, OTHER_KEY, keyed.audit_head(), expected_key_check=keyed.audit_key_check()
    )
    assert not wrong.ok and "not the key" in str(wrong)
    # Even with the key check removed from meta, the wrong key fails at the first entry.
    unchecked = audit.verify(entries, OTHER_KEY, keyed.audit_head())
    assert not unchecked.ok and unchecked.broken_id == 1


def test_rows_rewritten_with_plain_sha256_hashes_fail(keyed):
    _rewrite(keyed.path, "UPDATE audit SET actor = 'UFORGED' WHERE id = 2", audit.plain_hash)
    verdict = keyed.verify_audit()
    assert not verdict.ok and verdict.broken_id == 1
    assert "without the audit key" in verdict.problem


def test_rows_rewritten_under_another_key_fail(keyed):
    _rewrite(
        keyed.path,
        "UPDATE audit SET actor = 'UFORGED' WHERE id = 2",
        lambda row: audit.entry_hash(row, OTHER_KEY),
    )
    verdict = keyed.verify_audit()
    assert not verdict.ok and verdict.broken_id == 1


def test_a_key_holder_rewriting_history_is_caught_by_a_checkpoint(keyed):
    count, digest = keyed.audit_head()
    posted = Checkpoint(count, digest, "CAUDIT", "1700000000.000100")
    assert keyed.verify_audit([posted]).ok and keyed.verify_audit([posted]).checkpoints == 1
    _rewrite(
        keyed.path,
        "UPDATE audit SET actor = 'UFORGED' WHERE id = 2",
        lambda row: audit.entry_hash(row, KEY),
    )
    assert keyed.verify_audit().ok  # the key alone cannot tell: that is what checkpoints are for
    verdict = keyed.verify_audit([posted])
    assert not verdict.ok and verdict.broken_id == count
    assert "CAUDIT" in str(verdict) and "1700000000.000100" in str(verdict)


def test_deleting_the_last_rows_is_caught(keyed):
    count, digest = keyed.audit_head()
    posted = Checkpoint(count, digest, "CAUDIT", "1700000000.000100")
    conn = sqlite3.connect(keyed.path)
    conn.execute("DELETE FROM audit WHERE id > ?", [count - 2])
    conn.commit()
    verdict = keyed.verify_audit()
    assert not verdict.ok and "deleted" in verdict.problem  # by the recorded head
    # The head rewritten to match what is left: the checkpoint still says more were written.
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", [f"{last[0]}:{last[1]}"])
    conn.commit()
    conn.close()
    assert keyed.verify_audit().ok
    verdict = keyed.verify_audit([posted])
    assert not verdict.ok and "CAUDIT" in verdict.problem and "deleted" in verdict.problem


# ---------------------------------------------------------------- migration


def _make_pre_key(store: Store, *, break_entry: int | None = None) -> None:
    """Turn a store into one written before the key: plain SHA-256 hashes, no scheme."""
    _rewrite(store.path, "", audit.plain_hash)
    conn = sqlite3.connect(store.path)
    conn.execute("DELETE FROM meta WHERE key IN ('audit_scheme', 'audit_key_check')")
    if break_entry is not None:
        conn.execute("UPDATE audit SET actor = 'UFORGED' WHERE id = ?", [break_entry])
    conn.commit()
    conn.close()


def test_a_pre_key_chain_is_checked_then_re_chained_once(tmp_path, clock):
    path = str(tmp_path / "old.db")
    old = Store(path, audit_key=KEY)
    old.migrate()
    _fill(old, clock)
    old.close()
    _make_pre_key(old)
    before = [(e["id"], e["action"], e["detail"]) for e in old.audit_entries()]
    old.close()

    store = Store(path, audit_key=KEY)
    assert not store.verify_audit().ok  # not keyed yet
    store.migrate()
    entries = list(store.audit_entries())
    assert [(e["id"], e["action"], e["detail"]) for e in entries[: len(before)]] == before
    keyed = [e for e in entries if e["action"] == "audit chain keyed"]
    assert len(keyed) == 1 and f'"rechained": {len(before)}' in keyed[0]["detail"]
    assert store.audit_scheme() == audit.KEYED
    assert store.verify_audit().ok
    store.migrate()  # once only
    assert [e["action"] for e in store.audit_entries()].count("audit chain keyed") == 1
    store.close()


def test_a_broken_pre_key_chain_is_never_blessed(tmp_path, clock, caplog):
    path = str(tmp_path / "old.db")
    old = Store(path, audit_key=KEY)
    old.migrate()
    _fill(old, clock)
    old.close()
    _make_pre_key(old, break_entry=3)
    old.close()

    store = Store(path, audit_key=KEY)
    with caplog.at_level(logging.ERROR, logger="bot.store"):
        store.migrate()
    assert "NOT keyed" in caplog.text and "entry 3" in caplog.text
    assert store.audit_scheme() is None
    assert "audit chain keyed" not in [e["action"] for e in store.audit_entries()]
    verdict = store.verify_audit()
    assert not verdict.ok and verdict.broken_id == 3 and "before the key" in verdict.problem
    store.close()


def test_a_keyed_chain_stripped_of_its_scheme_mark_is_not_re_keyed(keyed, clock, caplog):
    """Someone without the key re-hashes the log with plain SHA-256 and removes the mark
    that says it was keyed, hoping the next start blesses it: it does not."""
    count, digest = keyed.audit_head()
    keyed.record_audit_checkpoint(
        "CAUDIT", "1700000000.000100", count, digest, "first", clock.now()
    )
    _make_pre_key(keyed, break_entry=None)
    keyed.close()
    store = Store(keyed.path, audit_key=KEY)
    with caplog.at_level(logging.ERROR, logger="bot.store"):
        store.migrate()
    assert "NOT re-keyed" in caplog.text
    assert store.audit_scheme() is None and not store.verify_audit().ok
    assert "audit chain keyed" not in [e["action"] for e in store.audit_entries()]
    store.close()


# ---------------------------------------------------------------- the key file


def test_the_key_file_is_made_owner_only_and_announced(tmp_path, caplog):
    database = str(tmp_path / "errata.db")
    with caplog.at_level(logging.INFO, logger="bot.audit"):
        key = audit.load_key("", database)
    path = audit.key_file_for(database)
    assert path == tmp_path / "errata.db.auditkey"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) >= audit.MIN_KEY_LENGTH and key.decode() == path.read_text().strip()
    announced = [r.getMessage() for r in caplog.records if str(path) in r.getMessage()]
    assert len(announced) == 1 and "created" in announced[0]
    assert key.decode() not in caplog.text  # logs never carry the key
    assert audit.load_key("", database) == key  # the same key on the next start
    assert list(tmp_path.glob("*.tmp")) == []
    assert audit.load_key("", str(tmp_path / "none.db"), create=False) is None


def test_a_key_file_others_can_read_is_refused(tmp_path):
    database = str(tmp_path / "errata.db")
    audit.load_key("", database)
    path = audit.key_file_for(database)
    path.chmod(0o640)
    with pytest.raises(AuditKeyError, match="chmod 600"):
        audit.load_key("", database)


def test_the_bot_refuses_to_start_with_a_group_readable_key_file(tmp_path):
    database = tmp_path / "errata.db"
    key_file = audit.key_file_for(str(database))
    key_file.write_text("x" * 64)
    key_file.chmod(0o644)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_PATH": str(database),
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # never reached
    }
    out = subprocess.run(
        [sys.executable, "-m", "bot"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(key_file) in lines[0] and "chmod 600" in lines[0]
    assert not database.exists()  # refused before anything was written


def test_a_short_audit_key_is_refused():
    with pytest.raises(AuditKeyError):
        audit.load_key("too short", "/nonexistent/errata.db")


# ---------------------------------------------------------------- checkpoints


class Poster:
    def __init__(self):
        self.posted: list[tuple[str, int, str]] = []
        self.failing = False

    def __call__(self, channel, count, digest, at):
        if self.failing:
            raise RuntimeError("not_in_channel")
        self.posted.append((channel, count, digest))
        return f"1700000000.{len(self.posted):06d}"


def test_checkpoints_are_due_daily_and_after_a_retraction(store, clock, caplog):
    poster = Poster()
    checkpoints = Checkpoints(store, clock, "CAUDIT", poster)
    memo = store.create_memo(
        title="t",
        body="b",
        sender_id="UCOMMS",
        sender_platform="slack",
        ask_ack=False,
        ack_deadline=None,
        audience=Audience(platform="slack", everyone=True),
        now=clock.now(),
    )
    assert checkpoints.sweep() and checkpoints.due(clock.now()) is None
    count, digest = poster.posted[-1][1:]
    assert (count, digest) == (1, next(store.audit_entries())["hash"])
    recorded = store.last_audit_checkpoint("CAUDIT")
    assert (recorded["count"], recorded["hash"], recorded["reason"]) == (count, digest, "first")
    entry = list(store.audit_entries())[-1]
    assert entry["action"] == "audit checkpoint posted" and '"count": 1' in entry["detail"]

    clock.advance(timedelta(hours=23))
    assert not checkpoints.sweep() and len(poster.posted) == 1

    retract(store, clock, memo.id, by="UCOMMS")
    assert checkpoints.due(clock.now()) == "retraction"
    poster.failing = True
    with caplog.at_level(logging.WARNING, logger="bot.audit"):
        assert not checkpoints.sweep()
    assert "not_in_channel" in caplog.text and "tries again" in caplog.text
    assert checkpoints.due(clock.now()) == "retraction"  # still due: the next sweep retries
    poster.failing = False
    assert checkpoints.sweep() and store.last_audit_checkpoint("CAUDIT")["reason"] == "retraction"
    assert poster.posted[-1][1:] == (
        store.last_audit_checkpoint("CAUDIT")["count"],
        store.last_audit_checkpoint("CAUDIT")["hash"],
    )
    assert not checkpoints.sweep()

    clock.advance(timedelta(hours=24))
    assert checkpoints.due(clock.now()) == "daily" and checkpoints.sweep()
    assert len(poster.posted) == 3
    posted = [
        Checkpoint(r["count"], r["hash"], r["channel"], r["ts"]) for r in store.audit_checkpoints()
    ]
    assert store.verify_audit(posted).ok and store.verify_audit(posted).checkpoints == 3


def test_the_scheduler_runs_the_checkpoint_sweep(store, clock):
    from bot.scheduler import CHECKPOINT_SWEEP_SECONDS, Scheduler

    _fill(store, clock)
    poster = Poster()
    checkpoints = Checkpoints(store, clock, "CAUDIT", poster)
    core = SimpleNamespace(
        settings=SimpleNamespace(directory_refresh_every=timedelta(hours=6)),
        store=SimpleNamespace(directory_synced_at=lambda name: clock.now()),
        platforms={},
        checkpoints=checkpoints,
        resume_audiences=lambda: None,
        reminders=SimpleNamespace(sweep=lambda: None, next_wake=lambda: None),
        clock=clock,
    )
    scheduler = Scheduler(core)
    scheduler.start()
    try:
        job = scheduler._scheduler.get_job("audit-checkpoint")
        assert job.coalesce and job.misfire_grace_time == CHECKPOINT_SWEEP_SECONDS
        assert job.trigger.interval == timedelta(seconds=CHECKPOINT_SWEEP_SECONDS)
        # It runs at once after a start: the first checkpoint goes out.
        wait_for(lambda: poster.posted, timeout=10, what="the first checkpoint")
    finally:
        scheduler.stop()


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_instances_writing_at_once_keep_one_chain(database, tmp_path, request, clock):
    """Two stores on one database (two instances), three writers each: the appends are
    serialised (BEGIN IMMEDIATE on SQLite, the advisory write lock on PostgreSQL), so the
    chain stays one chain with no gap and no fork."""
    import threading

    from tests.conftest import open_store

    first = open_store(database, tmp_path, request, audit_key=KEY)
    first.migrate()
    second = Store(first.path, audit_key=KEY)
    second.migrate()
    errors = []

    def write(store):
        try:
            for _ in range(4):
                _fill(store, clock, people=2)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(s,)) for s in (first, second) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    entries = list(first.audit_entries())
    assert [e["id"] for e in entries] == list(range(1, len(entries) + 1))
    assert sum(e["action"] == "memo created" for e in entries) == 24
    assert first.verify_audit().ok and second.verify_audit().ok
    first.close()
    second.close()
