"""The pure rules of sending safely: which state a new memo starts in, and what
approval, rejection, undo, a retraction before its time and time passing do to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import (
    APPROVE,
    CANCEL,
    REJECT,
    TIME_PASSES,
    UNDO,
    Audience,
    Memo,
    compose_errors,
    first_state,
    needs_approval,
    resolved_state,
    seconds_left,
    transition,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def memo(state="awaiting approval", *, send_at=None, hold=0.0, held_until=None, everyone=False):
    return Memo(
        id=1,
        title="t",
        body="b",
        sender_id="U1",
        sender_platform="slack",
        ask_ack=False,
        ack_deadline=None,
        audiences=(Audience(people=("U2",), everyone=everyone, platform="slack"),),
        state=state,
        created_at=NOW,
        send_at=send_at,
        hold_seconds=hold,
        held_until=held_until,
    )


def test_approval_is_needed_over_the_threshold_or_for_everyone_and_never_when_off():
    assert not needs_approval(recipients=10, everyone=False, approval_over=10)
    assert needs_approval(recipients=11, everyone=False, approval_over=10)
    assert needs_approval(recipients=1, everyone=True, approval_over=10)
    assert not needs_approval(recipients=10**6, everyone=True, approval_over=None)


@pytest.mark.parametrize(
    ("approval", "send_at", "hold", "expected"),
    [
        (False, None, 0, ("sending", None)),
        (True, None, 0, ("awaiting approval", None)),
        (False, NOW + timedelta(hours=1), 30, ("scheduled", None)),
        (False, None, 30, ("held", NOW + timedelta(seconds=30))),
    ],
)
def test_a_new_memo_starts_where_its_guards_say(approval, send_at, hold, expected):
    assert (
        first_state(approval_possible=approval, send_at=send_at, hold_seconds=hold, now=NOW)
        == expected
    )


def test_once_resolved_a_small_memo_goes_on_and_a_large_one_keeps_waiting():
    small = memo(send_at=NOW + timedelta(hours=1))
    assert resolved_state(small, recipients=3, approval_over=10, now=NOW) == ("scheduled", None)
    assert resolved_state(memo(), recipients=30, approval_over=10, now=NOW)[0] == (
        "awaiting approval"
    )
    assert resolved_state(memo(everyone=True), recipients=3, approval_over=10, now=NOW)[0] == (
        "awaiting approval"
    )


def test_approve_moves_on_once_and_reject_ends_it():
    waiting = memo(hold=20)
    assert transition(waiting, APPROVE, NOW) == ("held", NOW + timedelta(seconds=20))
    assert transition(waiting, REJECT, NOW) == ("rejected", None)
    for decided in ("held", "sending", "rejected"):
        assert transition(memo(decided), APPROVE, NOW) is None
        assert transition(memo(decided), REJECT, NOW) is None


def test_approval_after_the_send_time_goes_straight_on():
    late = memo(send_at=NOW - timedelta(minutes=1))
    assert transition(late, APPROVE, NOW) == ("sending", None)
    early = memo(send_at=NOW + timedelta(minutes=1))
    assert transition(early, APPROVE, NOW) == ("scheduled", None)


def test_time_passing_releases_a_scheduled_memo_then_its_undo_window():
    scheduled = memo("scheduled", send_at=NOW + timedelta(minutes=5), hold=10)
    assert transition(scheduled, TIME_PASSES, NOW) is None
    at = NOW + timedelta(minutes=5)
    assert transition(scheduled, TIME_PASSES, at) == ("held", at + timedelta(seconds=10))
    held = memo("held", held_until=at)
    assert transition(held, TIME_PASSES, at - timedelta(seconds=1)) is None
    assert transition(held, TIME_PASSES, at) == ("sending", None)


def test_undo_only_in_the_window_and_cancel_only_before_sending():
    assert transition(memo("held", held_until=NOW), UNDO, NOW) == ("undone", None)
    assert transition(memo("sending"), UNDO, NOW) is None
    for state in ("awaiting approval", "scheduled", "held"):
        assert transition(memo(state), CANCEL, NOW) == ("cancelled", None)
    assert transition(memo("sent"), CANCEL, NOW) is None


def test_the_countdown_and_a_send_time_in_the_past():
    held = memo("held", held_until=NOW + timedelta(seconds=12.2))
    assert seconds_left(held, NOW) == 13 and seconds_left(memo("sending"), NOW) == 0
    errors = compose_errors(
        title="t",
        body="b",
        audience=Audience(people=("U2",), platform="slack"),
        ack_deadline=None,
        now=NOW,
        send_at=NOW - timedelta(minutes=1),
    )
    assert "send_at" in errors
