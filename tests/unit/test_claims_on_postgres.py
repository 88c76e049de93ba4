"""Claims on PostgreSQL run outside the write lock (each its own transaction, its row
locked as it is picked, FOR UPDATE SKIP LOCKED): two instances claiming at once never
take one copy twice, and a claim that races a retraction's transaction is still right.
The writes that wait to travel with the next statement fail loudly."""

from __future__ import annotations

import threading

import psycopg
import pytest

from bot.domain import CANCELLED, DELIVERED, SENDING, Sent
from bot.store import Store
from tests.conftest import PG_KEY
from tests.unit.builders import memo_to


@pytest.fixture
def stores(postgres_url):
    """Two stores on one database, as two instances have."""
    first, second = Store(postgres_url, audit_key=PG_KEY), Store(postgres_url, audit_key=PG_KEY)
    first.migrate()
    second.migrate()
    yield first, second
    first.close()
    second.close()


def _in_thread(work) -> tuple[threading.Thread, list]:
    result: list = []

    def run():
        try:
            result.append(work())
        except BaseException as error:  # handed to the test, which asserts on it
            result.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _blocked(thread: threading.Thread) -> bool:
    thread.join(0.5)
    return thread.is_alive()


def test_two_instances_claiming_at_once_take_every_copy_once(stores, clock):
    first, second = stores
    memo = memo_to(first, clock, [f"U{n}" for n in range(120)])
    claimed: list[int] = []
    lock = threading.Lock()

    def worker(store):
        while claim := store.claim_copy("slack", clock.now()):
            copy = claim[0]
            with lock:
                claimed.append(copy.id)
            store.record(
                "copies", copy.id, Sent("D" + copy.recipient_id, f"1.{copy.id}"), clock.now()
            )

    threads = [threading.Thread(target=worker, args=(s,)) for s in (first, second) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(claimed) == 120 and len(set(claimed)) == 120
    assert first.memo(memo.id).state == "sent"
    assert first.memo_counts(memo.id).delivered == 120
    assert first.verify_audit().ok


def test_a_claim_passes_over_the_copies_a_retraction_is_cancelling(stores, clock, postgres_url):
    """The retraction has cancelled the pending copies but not committed yet: a claim
    skips them at once (it neither waits for the retraction nor takes one)."""
    store, _ = stores
    memo = memo_to(store, clock, ["U1", "U2", "U3"])
    first = store.claim_copy("slack", clock.now())[0]
    store.record("copies", first.id, Sent("DU1", "1.1"), clock.now())
    assert store.request_retraction(
        memo.id, by="UC", by_platform="slack", reason="r", corrections="", now=clock.now()
    )
    # Another transaction holds the notice the retraction will insert for the delivered
    # copy: the retraction stops there, its copies cancelled but not yet committed.
    blocker = psycopg.connect(postgres_url)
    blocker.execute(
        "INSERT INTO notices (copy_id, memo_id, platform, recipient_id, state, priority,"
        " attempts, in_doubt, next_attempt_at, reminders_sent)"
        " VALUES (%s, %s, 'slack', 'U1', 'pending', 0, 0, 0, '', 0)",
        [first.id, memo.id],
    )
    thread, result = _in_thread(lambda: store.apply_retraction(memo.id, clock.now()))
    try:
        assert _blocked(thread), "the retraction should wait for the blocking transaction"
        assert store.claim_copy("slack", clock.now()) is None
    finally:
        blocker.rollback()
        blocker.close()
    thread.join(10)
    assert result and result[0] is not None and result[0].applied
    assert [c.state for c in store.copies_of(memo.id)] == [DELIVERED, CANCELLED, CANCELLED]
    assert store.claim_copy("slack", clock.now()) is None
    assert store.verify_audit().ok


def test_a_copy_claimed_while_the_retraction_runs_is_given_back_and_cancelled(
    stores, clock, postgres_url
):
    """The claim commits while the retraction's transaction is open: the retraction then
    leaves that copy `sending` (its worker finds the send gate closed and gives it back,
    which cancels it) and cancels the others; the retraction completes after that."""
    store, _ = stores
    memo = memo_to(store, clock, ["U1", "U2", "U3"])
    assert store.request_retraction(
        memo.id, by="UC", by_platform="slack", reason="r", corrections="", now=clock.now()
    )
    # Hold the memo's row: the retraction, under the write lock, waits to change it.
    blocker = psycopg.connect(postgres_url)
    blocker.execute("SELECT 1 FROM memos WHERE id = %s FOR UPDATE", [memo.id])
    thread, result = _in_thread(lambda: store.apply_retraction(memo.id, clock.now()))
    try:
        assert _blocked(thread), "the retraction should wait for the memo's row"
        claimed = store.claim_copy("slack", clock.now())  # needs neither lock: it goes ahead
        assert claimed is not None and claimed[0].state == SENDING
    finally:
        blocker.rollback()
        blocker.close()
    thread.join(10)
    assert result and result[0] is not None and result[0].applied
    copy = claimed[0]
    states = {c.id: c.state for c in store.copies_of(memo.id)}
    assert states.pop(copy.id) == SENDING and set(states.values()) == {CANCELLED}
    assert store.memo(memo.id).state == "retracting"  # a copy is still on its way
    store.release_copy(copy.id, clock.now())  # what the worker does at the closed gate
    assert store.copy(copy.id).state == CANCELLED
    assert store.memo(memo.id).state == "retracted"
    assert store.verify_audit().ok


def test_a_claimed_copy_delivered_during_the_retraction_gets_its_notice(
    stores, clock, postgres_url
):
    """Claimed and sent while the retraction's transaction was open: its outcome, recorded
    after the retraction, queues its notice."""
    store, _ = stores
    memo = memo_to(store, clock, ["U1", "U2"])
    assert store.request_retraction(
        memo.id, by="UC", by_platform="slack", reason="r", corrections="", now=clock.now()
    )
    blocker = psycopg.connect(postgres_url)
    blocker.execute("SELECT 1 FROM memos WHERE id = %s FOR UPDATE", [memo.id])
    thread, result = _in_thread(lambda: store.apply_retraction(memo.id, clock.now()))
    try:
        assert _blocked(thread)
        copy = store.claim_copy("slack", clock.now())[0]
        # The outcome waits for the retraction: it needs the write lock.
        recording, recorded = _in_thread(
            lambda: store.record("copies", copy.id, Sent("DU", "1.1"), clock.now())
        )
        assert _blocked(recording)
    finally:
        blocker.rollback()
        blocker.close()
    thread.join(10)
    recording.join(10)
    assert recorded == [DELIVERED]
    notices = store._rows("SELECT copy_id, state FROM notices WHERE memo_id = ?", [memo.id])
    assert notices == [{"copy_id": copy.id, "state": "pending"}]
    assert store.memo(memo.id).state == "retracting"
    assert store.verify_audit().ok


def test_a_write_waiting_for_the_next_statement_fails_loudly_and_changes_nothing(stores):
    store, _ = stores
    with pytest.raises(psycopg.errors.UniqueViolation), store._write() as db:
        store._later(db, "INSERT INTO meta (key, value) VALUES ('x', '1')")
        store._later(db, "INSERT INTO meta (key, value) VALUES ('x', '2')")  # at COMMIT
    assert store._meta("x") is None
    with pytest.raises(psycopg.errors.UniqueViolation), store._write() as db:
        store._later(db, "INSERT INTO meta (key, value) VALUES ('y', '1')")
        store._later(db, "INSERT INTO meta (key, value) VALUES ('y', '2')")
        db.execute("SELECT 1")  # sent with this read, which raises
    assert store._meta("y") is None
    with store._write() as db:
        store._later(db, "INSERT INTO meta (key, value) VALUES ('z', '1')")
        assert db.execute("SELECT value FROM meta WHERE key = 'z'").fetchone() == ("1",)
    assert store._meta("z") == "1"
