"""The store's rules, on both databases (a real SQLite file, and PostgreSQL when it is
installed): claims, outcomes, retraction, clicks, audit."""

from datetime import timedelta

import pytest

from bot.domain import (
    CANCELLED,
    FAILED,
    MAX_ATTEMPTS,
    PENDING,
    SENDING,
    Audience,
    Failed,
    NotFound,
    Recipient,
    Retry,
    Sent,
    Unknown,
)
from tests.conftest import open_store
from tests.unit.builders import deliver, memo_to, retract


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    store = open_store(request.param, tmp_path, request)
    store.migrate()
    yield store
    store.close()


def _memo(store, clock, people=3, ask_ack=True):
    return memo_to(store, clock, [(f"U{n}", f"Person {n}") for n in range(people)], ask_ack=ask_ack)


def test_each_recipient_once_and_the_memo_closes_when_all_settle(store, clock):
    memo = _memo(store, clock)
    again = store.add_recipients(memo.id, [Recipient("slack", "U0", "x")], clock.now())
    assert again == 0  # recipients are added once per memo
    assert store.memo_counts(memo.id).pending == 3
    deliver(store, clock)
    assert store.memo(memo.id).state == "sent"
    assert store.memo_counts(memo.id).delivered == 3


def test_unreachable_recipients_are_failed_with_the_reason(store, clock):
    memo = store.create_memo(
        title="t",
        body="b",
        sender_id="UC",
        sender_platform="slack",
        ask_ack=False,
        ack_deadline=None,
        audience=Audience(people=("U1", "UB"), platform="slack"),
        now=clock.now(),
    )
    store.add_recipients(
        memo.id,
        [Recipient("slack", "U1"), Recipient("slack", "UB", "bot", "cannot_dm_bot")],
        clock.now(),
    )
    counts = store.memo_counts(memo.id)
    assert counts.failed == 1 and counts.failures == {"cannot_dm_bot": 1}


def test_transient_faults_retry_then_fail_with_the_reason(store, clock):
    _memo(store, clock, people=1)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        copy, _ = store.claim_copy("slack", clock.now())
        state = store.record("copies", copy.id, Retry(0, "http_503"), clock.now())
        clock.advance(timedelta(minutes=5))
        assert state == (FAILED if attempt == MAX_ATTEMPTS else PENDING)
    assert store.copy(copy.id).error == "http_503"
    assert store.claim_copy("slack", clock.now()) is None


def test_rate_limits_do_not_use_up_attempts(store, clock):
    _memo(store, clock, people=1)
    for _ in range(MAX_ATTEMPTS * 2):
        copy, _ = store.claim_copy("slack", clock.now())
        store.record("copies", copy.id, Retry(1.5, "ratelimited", rate_limited=True), clock.now())
        assert store.claim_copy("slack", clock.now()) is None  # not before Retry-After
        clock.advance(timedelta(seconds=2))
    assert store.copy(copy.id).state == PENDING and store.copy(copy.id).attempts == 0


def test_permanent_errors_are_final(store, clock):
    memo = _memo(store, clock, people=1)
    copy, _ = store.claim_copy("slack", clock.now())
    assert store.record("copies", copy.id, Failed("account_inactive"), clock.now()) == FAILED
    assert store.memo(memo.id).state == "sent"


def test_in_doubt_copies_are_checked_not_resent(store, clock):
    _memo(store, clock, people=2)
    first, _ = store.claim_copy("slack", clock.now())
    second, _ = store.claim_copy("slack", clock.now())
    store.record("copies", first.id, Unknown("connection lost"), clock.now())
    # second is mid-flight when the process dies:
    assert store.recover_in_flight(clock.now())["copies"] == 1
    clock.advance(timedelta(minutes=1))
    claimed = [store.claim_copy("slack", clock.now())[0] for _ in range(2)]
    assert all(c.in_doubt for c in claimed)
    store.record("copies", claimed[0].id, Sent("D1", "1.1"), clock.now())  # found in the DM
    store.record("copies", claimed[1].id, NotFound(), clock.now())  # never arrived: send it
    resend, _ = store.claim_copy("slack", clock.now())
    assert resend.id == claimed[1].id and not resend.in_doubt


def test_retraction_cancels_pending_and_queues_notices_acknowledgers_first(store, clock):
    memo = _memo(store, clock, people=5)
    copies = [store.claim_copy("slack", clock.now())[0] for _ in range(3)]
    for c in copies:
        store.record("copies", c.id, Sent(f"D{c.id}", f"1.{c.id}"), clock.now())
    store.acknowledge(copies[2].id, copies[2].recipient_id, "slack", clock.now())
    retraction = retract(store, clock, memo.id, by="UCOMMS", reason="wrong")
    assert retraction.reason == "wrong"
    assert retract(store, clock, memo.id, by="UX", reason="again") is None
    counts = store.memo_counts(memo.id)
    assert counts.cancelled == 2 and counts.delivered == 3
    assert store.claim_copy("slack", clock.now()) is None  # nothing more of the original goes out
    notice, copy, _ = store.claim_notice("slack", clock.now())
    assert copy.id == copies[2].id  # the acknowledger first
    # Everyone else waits until the acknowledgers' notices have settled.
    assert store.claim_notice("slack", clock.now()) is None
    store.record("notices", notice.id, Sent("D", "2.1"), clock.now())
    rest = [store.claim_notice("slack", clock.now()) for _ in range(2)]
    assert {n[1].id for n in rest} == {copies[0].id, copies[1].id}


def test_a_claimed_copy_released_after_retraction_is_cancelled(store, clock):
    memo = _memo(store, clock, people=2)
    claimed, _ = store.claim_copy("slack", clock.now())
    retract(store, clock, memo.id)
    assert store.copy(claimed.id).state == SENDING
    store.release_copy(claimed.id, clock.now())
    assert store.copy(claimed.id).state == CANCELLED
    assert store.memo(memo.id).state == "retracted"


def test_a_copy_delivered_during_retraction_gets_its_notice(store, clock):
    memo = _memo(store, clock, people=1)
    claimed, _ = store.claim_copy("slack", clock.now())
    retract(store, clock, memo.id)
    store.record("copies", claimed.id, Sent("D1", "1.1"), clock.now())
    assert store.notice_for_copy(claimed.id) is not None
    assert store.memo(memo.id).state == "retracting"


def test_acknowledge_once_by_its_recipient_only(store, clock):
    memo = _memo(store, clock, people=1)
    deliver(store, clock)
    copy = store.copies_of(memo.id)[0]
    assert store.acknowledge(copy.id, "UOTHER", "slack", clock.now()).outcome == "not_yours"
    first = store.acknowledge(copy.id, copy.recipient_id, "slack", clock.now())
    clock.advance(timedelta(minutes=3))
    again = store.acknowledge(copy.id, copy.recipient_id, "slack", clock.now())
    assert first.outcome == "recorded" and again.outcome == "already" and again.at == first.at
    retract(store, clock, memo.id)
    assert (
        store.acknowledge(copy.id, copy.recipient_id, "slack", clock.now()).outcome == "retracted"
    )
    actions = [e["action"] for e in store.audit_for_memo(memo.id)]
    assert actions.count("acknowledged") == 1 and "denied" in actions


def test_edits_wait_for_their_notice(store, clock):
    memo = _memo(store, clock, people=1)
    deliver(store, clock)
    retract(store, clock, memo.id)
    assert store.claim_edit("slack", clock.now()) is None
    notice, _, _ = store.claim_notice("slack", clock.now())
    store.record("notices", notice.id, Sent("D", "9.9"), clock.now())
    edit, copy, notice_after, _ = store.claim_edit("slack", clock.now())
    assert notice_after.ts == "9.9"
    store.record("edits", edit.copy_id, Sent(copy.channel, copy.ts), clock.now())
    assert store.memo(memo.id).state == "retracted"
    counts = store.retraction_counts(memo.id)
    assert (counts.notified, counts.edits_done, counts.outstanding) == (1, 1, 1)


def test_seen_once(store, clock):
    memo = _memo(store, clock, people=1)
    deliver(store, clock)
    retract(store, clock, memo.id)
    notice, _, _ = store.claim_notice("slack", clock.now())
    store.record("notices", notice.id, Sent("D", "9.9"), clock.now())
    assert store.mark_seen(notice.id, "UX", "slack", clock.now()).outcome == "not_yours"
    assert (
        store.mark_seen(notice.id, notice.recipient_id, "slack", clock.now()).outcome == "recorded"
    )
    assert (
        store.mark_seen(notice.id, notice.recipient_id, "slack", clock.now()).outcome == "already"
    )
    assert store.retraction_counts(memo.id).seen == 1


def test_every_change_is_in_the_audit_chain(store, clock):
    memo = _memo(store, clock, people=2)
    deliver(store, clock)
    actions = [e["action"] for e in store.audit_for_memo(memo.id)]
    assert actions[0] == "memo created" and actions.count("copy delivered") == 2
    verdict = store.verify_audit()
    assert verdict.ok and verdict.count == len(list(store.audit_entries()))
    store.db.execute("UPDATE audit SET detail = '{}' WHERE id = 2")
    store.db.conn.commit()
    broken = store.verify_audit()
    assert not broken.ok and broken.broken_id == 2


def test_audiences_stored_before_teams_are_named_slack_by_their_migration(store, clock):
    from bot.store.schema import _m009_audience_platforms

    memo = _memo(store, clock)
    with store._write() as db:
        db.execute(
            "UPDATE memos SET audience = ? WHERE id = ?",
            ['{"people": ["U1"], "channels": [], "groups": [], "everyone": false}', memo.id],
        )
        _m009_audience_platforms(db)
    assert [a.platform for a in store.memo(memo.id).audiences] == ["slack"]
