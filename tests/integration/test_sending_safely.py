"""Stories of sending safely on Slack: a second pair of eyes (APPROVAL_OVER), a send
time ("Send at"), and an undo window (UNDO_WINDOW), all through the stand-in Slack."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import SettableClock
from tests.harness import copies_in_dm, notices_in_dm, stand_in, start_bot, wait_for
from tests.integration.test_broadcast import send_memo


@pytest.fixture
def slack():
    slack = stand_in(people=60)
    yield slack
    slack.stop()


@pytest.fixture
def staff(slack):
    """Three members of comms staff: the sender and two who can approve."""
    return slack.directory.active_humans()[:3]


@pytest.fixture
def audience(slack):
    return slack.directory.active_humans()[5:17]  # 12 people


def in_dm(slack, user, event):
    return [m for m in slack.dm(user) if (m.metadata or {}).get("event_type") == event]


def approval_requests(slack, user):
    return in_dm(slack, user, "errata_approval")


def status_message(slack, user):
    found = in_dm(slack, user, "errata_memo_status")
    return found[0] if found else None


def fresh(slack, message):
    """The message as it is now: the stand-in edits its records in place."""
    return message


def status_says(slack, user, text):
    message = status_message(slack, user)
    return message is not None and text in fresh(slack, message).content()


def audited(bot, action, **match):
    return [
        e
        for e in bot.store.audit_entries()
        if e["action"] == action and all(e.get(k) == v for k, v in match.items())
    ]


def memo_state(bot, memo_id=1):
    memo = bot.store.memo(memo_id)
    return memo.state if memo else None


@pytest.fixture
def approving_bot(slack, staff, tmp_path):
    bot = start_bot(slack, tmp_path / "errata.db", COMMS_STAFF=",".join(staff), APPROVAL_OVER=10)
    yield bot
    bot.stop()


def test_a_memo_over_the_threshold_waits_until_another_member_of_comms_approves(
    slack, approving_bot, staff, audience
):
    bot = approving_bot
    sender, first, second = staff
    employee = audience[0]
    reply = send_memo(slack, sender, People=audience)
    assert reply.status == 200 and not reply.errors
    # Both other members of comms staff are asked; the sender is not.
    for approver in (first, second):
        wait_for(lambda a=approver: approval_requests(slack, a), what="the approval request")
    assert approval_requests(slack, sender) == []
    request = approval_requests(slack, first)[0]
    shown = request.content()
    assert "Delete the chat app" in shown and "Please delete it" in shown
    assert "*Recipients:* 12" in shown
    assert [b["text"] for b in request.buttons()] == ["Approve", "Reject"]
    assert memo_state(bot) == "awaiting approval"
    wait_for(lambda: status_says(slack, sender, "Awaiting approval"), what="the sender's status")
    assert all(copies_in_dm(slack, p) == [] for p in audience)

    # The sender's own Approve (a forged payload on someone else's request) is refused.
    slack.click(sender, request, "Approve")
    # An employee clicking a forwarded request is refused too.
    slack.click(employee, request, "Approve")
    wait_for(
        lambda: len(audited(bot, "denied", subject="approve memo")) == 2,
        what="both refusals audited",
    )
    assert memo_state(bot) == "awaiting approval"
    assert all(copies_in_dm(slack, p) == [] for p in audience)

    slack.click(first, request, "Approve")
    wait_for(lambda: memo_state(bot) == "sent", what="the memo to go out")
    assert all(len(copies_in_dm(slack, p)) == 1 for p in audience)
    name = bot.core.display_name("slack", first)
    for approver in (first, second):
        wait_for(
            lambda a=approver: (
                f"Approved by {name} at" in fresh(slack, approval_requests(slack, a)[0]).content()
            ),
            what="every approver's request to show the decision",
        )
        assert fresh(slack, approval_requests(slack, approver)[0]).buttons() == []
    wait_for(lambda: status_says(slack, sender, f"Approved by {name}"), what="sender's status")
    approved = audited(bot, "memo approved", memo_id=1)
    assert len(approved) == 1 and approved[0]["actor"] == first


def test_a_rejected_memo_reaches_no_one_and_its_sender_is_told_why(
    slack, approving_bot, staff, audience
):
    bot = approving_bot
    sender, first, _ = staff
    send_memo(slack, sender, **{"Everyone in the workspace": True})  # everyone: always asked
    wait_for(lambda: approval_requests(slack, first), what="the approval request")
    request = approval_requests(slack, first)[0]
    slack.click(first, request, "Reject")
    wait_for(lambda: slack.open_views(first), what="the Reject form")
    reply = slack.submit_view(first, {"Reason": "Legal has not cleared this yet."})
    assert reply.status == 200 and not reply.errors
    wait_for(lambda: memo_state(bot) == "rejected", what="the rejection")
    wait_for(
        lambda: status_says(slack, sender, "Legal has not cleared this yet."),
        what="the sender to be told why",
    )
    assert status_says(slack, sender, "reached no one")
    assert all(copies_in_dm(slack, p) == [] for p in slack.directory.active_humans())
    rows = list(bot.core.answers.report_rows(1))
    assert rows and {(r["delivery_status"], r["delivery_error"]) for r in rows} == {
        ("cancelled", "rejected")
    }
    rejected = audited(bot, "memo rejected", memo_id=1)
    assert len(rejected) == 1 and rejected[0]["actor"] == first


def test_two_approvers_at_the_same_instant_make_one_decision_recorded_once(
    slack, approving_bot, staff, audience
):
    bot = approving_bot
    sender, first, second = staff
    send_memo(slack, sender, People=audience)
    for approver in (first, second):
        wait_for(lambda a=approver: approval_requests(slack, a), what="the approval requests")
    go = threading.Barrier(2)

    def click(person):
        go.wait()
        slack.click(person, approval_requests(slack, person)[0], "Approve")

    threads = [threading.Thread(target=click, args=(p,)) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    wait_for(lambda: memo_state(bot) == "sent", what="the memo to go out")
    assert len(audited(bot, "memo approved", memo_id=1)) == 1
    assert all(len(copies_in_dm(slack, p)) == 1 for p in audience)


def test_a_memo_under_the_threshold_goes_out_without_approval(
    slack, approving_bot, staff, audience
):
    sender, first, _ = staff
    send_memo(slack, sender, People=audience[:3])
    wait_for(lambda: memo_state(approving_bot) == "sent", what="the memo to go out")
    assert approval_requests(slack, first) == []


# ---------------------------------------------------------------- Send at


def test_a_scheduled_memo_goes_out_at_its_time_across_a_restart(slack, staff, audience, tmp_path):
    clock = SettableClock(datetime.now(UTC).replace(microsecond=0))
    sender = staff[0]
    bot = start_bot(slack, tmp_path / "errata.db", clock=clock, COMMS_STAFF=sender)
    try:
        past = send_memo(
            slack, sender, People=audience, **{"Send at": clock.now() - timedelta(minutes=5)}
        )
        assert "send_at" in past.errors
        slack.close_view(sender)
        at = clock.now() + timedelta(hours=2)
        reply = send_memo(slack, sender, People=audience, **{"Send at": at})
        assert not reply.errors
        wait_for(lambda: memo_state(bot) == "scheduled", what="the memo to be scheduled")
        wait_for(lambda: bot.store.memo(1).recipients_added, what="its audience resolved")
        slack.command(sender, "/memo", "list")
        assert "scheduled for" in slack.ephemerals(sender)[-1].content()
    finally:
        bot.stop()
    assert all(copies_in_dm(slack, p) == [] for p in audience)

    bot = start_bot(slack, tmp_path / "errata.db", clock=clock, COMMS_STAFF=sender)
    try:
        clock.advance(timedelta(hours=1))
        assert memo_state(bot) == "scheduled"
        clock.set(at + timedelta(seconds=1))
        wait_for(lambda: memo_state(bot) == "sent", timeout=15, what="the memo at its time")
        assert all(len(copies_in_dm(slack, p)) == 1 for p in audience)
        released = audited(bot, "memo released", memo_id=1)
        assert len(released) == 1 and audited(bot, "memo scheduled", memo_id=1)
    finally:
        bot.stop()


def test_a_memo_retracted_before_its_time_never_goes_out_and_notifies_no_one(
    slack, staff, audience, tmp_path
):
    clock = SettableClock(datetime.now(UTC).replace(microsecond=0))
    sender = staff[0]
    bot = start_bot(slack, tmp_path / "errata.db", clock=clock, COMMS_STAFF=sender)
    try:
        send_memo(slack, sender, People=audience, **{"Send at": clock.now() + timedelta(hours=1)})
        wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).recipients_added, what="resolved")
        slack.command(sender, "/retract", "M-1 wrong date")
        wait_for(lambda: slack.open_views(sender), what="the retract modal")
        reply = slack.submit_view(sender, {"Reason": "wrong date"})
        assert not reply.errors
        wait_for(lambda: memo_state(bot) == "cancelled", what="the memo cancelled")
        clock.advance(timedelta(hours=2))
        wait_for(
            lambda: status_says(slack, sender, "Retracted before its time"),
            what="the sender's status",
        )
        for person in audience:
            assert copies_in_dm(slack, person) == [] and notices_in_dm(slack, person) == []
        assert bot.store.retraction(1) is None
        rows = list(bot.core.answers.report_rows(1))
        assert {(r["delivery_status"], r["delivery_error"]) for r in rows} == {
            ("cancelled", "retracted before its time")
        }
        assert audited(bot, "memo cancelled before its time", memo_id=1)[0]["actor"] == sender
    finally:
        bot.stop()


# ---------------------------------------------------------------- Undo


@pytest.fixture
def undo_bot(slack, staff, tmp_path):
    clock = SettableClock(datetime.now(UTC).replace(microsecond=0))
    bot = start_bot(
        slack, tmp_path / "errata.db", clock=clock, COMMS_STAFF=staff[0], UNDO_WINDOW="30s"
    )
    bot.test_clock = clock
    yield bot
    bot.stop()


def test_undo_inside_the_window_reaches_nobody(slack, undo_bot, staff, audience):
    bot, sender, stranger = undo_bot, staff[0], audience[0]
    send_memo(slack, sender, People=audience)
    wait_for(lambda: status_says(slack, sender, "Goes out in"), what="the countdown")
    status = status_message(slack, sender)
    assert [b["text"] for b in fresh(slack, status).buttons()] == ["Undo"]
    slack.click(stranger, fresh(slack, status), "Undo")  # not theirs: refused, audited
    wait_for(lambda: audited(bot, "denied", subject="undo memo"), what="the refusal audited")
    assert memo_state(bot) == "held"
    slack.click(sender, fresh(slack, status), "Undo")
    wait_for(lambda: memo_state(bot) == "undone", what="the undo")
    bot.test_clock.advance(timedelta(minutes=5))
    wait_for(lambda: status_says(slack, sender, "it reached no one"), what="the status")
    assert all(copies_in_dm(slack, p) == [] for p in audience)
    assert fresh(slack, status_message(slack, sender)).buttons() == []
    assert audited(bot, "memo undone", memo_id=1)[0]["actor"] == sender


def test_after_the_window_it_sends_and_undo_is_gone(slack, undo_bot, staff, audience):
    bot, sender = undo_bot, staff[0]
    send_memo(slack, sender, People=audience)
    wait_for(lambda: status_says(slack, sender, "Goes out in"), what="the countdown")
    assert all(copies_in_dm(slack, p) == [] for p in audience)
    bot.test_clock.advance(timedelta(seconds=31))
    wait_for(lambda: memo_state(bot) == "sent", what="the memo after its window")
    assert all(len(copies_in_dm(slack, p)) == 1 for p in audience)
    wait_for(
        lambda: fresh(slack, status_message(slack, sender)).buttons() == [],
        what="the Undo button to go",
    )
    late = slack.click(sender, status_message(slack, sender), "Undo")  # a stale screen
    assert late.status == 200
    assert memo_state(bot) == "sent"
