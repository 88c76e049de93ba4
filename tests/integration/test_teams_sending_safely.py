"""Sending safely in Microsoft Teams: the approval card (Approve via Action.Execute,
Reject with a reason in a dialog), Send at in the New memo dialog, and Undo on the
sender's status card, through the stand-in Teams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import SettableClock
from tests.harness import stand_in_teams, start_teams_bot, teams_copies, wait_for
from tests.integration.test_teams import aad, compose, install_everyone


@pytest.fixture
def teams():
    stand = stand_in_teams(people=30)
    yield stand
    stand.stop()


def cards_starting(teams, person, text):
    return [m for m in teams.chat(person) if text in m.content()]


def audited(bot, action, **match):
    return [
        e
        for e in bot.store.audit_entries()
        if e["action"] == action and all(e.get(k) == v for k, v in match.items())
    ]


def test_a_teams_approver_approves_on_the_card_and_the_sender_cannot(teams, tmp_path):
    people = teams.directory.people[:12]
    sender, approver = people[0], people[1]
    bot = start_teams_bot(
        teams,
        tmp_path / "errata.db",
        COMMS_STAFF=f"{aad(sender)},{aad(approver)}",
        APPROVAL_OVER=3,
    )
    try:
        install_everyone(teams, people)
        compose(teams, sender, {"People": [aad(p) for p in people[2:12]]})
        request = wait_for(
            lambda: next(iter(cards_starting(teams, approver, "asks you to approve")), None),
            what="the approval card",
        )
        assert request.buttons() == ["Approve", "Reject"]
        assert "Delete the chat app" in request.content()
        assert bot.store.memo(1).state == "awaiting approval"
        # The stand-in cannot show the sender someone else's card: the server-side check
        # an Approve invoke reaches is asked directly (the Slack story forges the click).
        assert "another member" in bot.core.approve(1, "teams", aad(sender)).message
        wait_for(lambda: audited(bot, "denied", subject="approve memo"), what="the refusal")
        assert bot.store.memo(1).state == "awaiting approval"
        assert teams.invoke_action(approver, request, "Approve").ok
        wait_for(lambda: bot.store.memo(1).state == "sent", what="the memo to go out")
        assert all(len(teams_copies(teams, p)) == 1 for p in people[2:12])
        wait_for(
            lambda: (
                "Approved by" in cards_starting(teams, approver, "asks you")[0].content()
                and cards_starting(teams, approver, "asks you")[0].buttons() == []
            ),
            what="the approval card to show the decision",
        )
        assert audited(bot, "memo approved", memo_id=1)[0]["actor"] == aad(approver)
    finally:
        bot.stop()


def test_a_teams_rejection_asks_for_a_reason_and_reaches_no_one(teams, tmp_path):
    people = teams.directory.people[:8]
    sender, approver = people[0], people[1]
    bot = start_teams_bot(
        teams,
        tmp_path / "errata.db",
        COMMS_STAFF=f"{aad(sender)},{aad(approver)}",
        APPROVAL_OVER=3,
    )
    try:
        install_everyone(teams, people)
        compose(teams, sender, {"Everyone with the app": True})
        request = wait_for(
            lambda: next(iter(cards_starting(teams, approver, "asks you to approve")), None),
            what="the approval card",
        )
        assert teams.open_dialog(approver, request, "Reject").ok
        assert teams.submit_dialog(approver, {"Reason": "Not cleared by legal"}).ok
        wait_for(lambda: bot.store.memo(1).state == "rejected", what="the rejection")
        wait_for(
            lambda: any("Not cleared by legal" in m.content() for m in teams.chat(sender)),
            what="the sender to be told why",
        )
        assert all(teams_copies(teams, p) == [] for p in people)
    finally:
        bot.stop()


def test_send_at_in_the_dialog_and_undo_on_the_status_card(teams, tmp_path):
    people = teams.directory.people[:6]
    sender = people[0]
    clock = SettableClock(datetime.now(UTC).replace(microsecond=0))
    bot = start_teams_bot(
        teams, tmp_path / "errata.db", clock=clock, COMMS_STAFF=aad(sender), UNDO_WINDOW="30s"
    )
    try:
        install_everyone(teams, people)
        at = (clock.now() + timedelta(days=1)).replace(second=0)
        local = at.astimezone(ZoneInfo(sender.tz or "UTC"))  # the dialog is in their zone
        compose(
            teams,
            sender,
            {
                "People": [aad(p) for p in people[1:]],
                "Send at": local.strftime("%Y-%m-%d"),
                "Send at (time)": local.strftime("%H:%M"),
            },
        )
        wait_for(lambda: bot.store.memo(1).state == "scheduled", what="a scheduled memo")
        clock.set(at + timedelta(minutes=1))
        wait_for(lambda: bot.store.memo(1).state == "held", timeout=15, what="held at its time")
        status = wait_for(
            lambda: next((m for m in teams.chat(sender) if "Undo" in m.buttons()), None),
            what="the Undo button on the status card",
        )
        assert teams.invoke_action(sender, status, "Undo").ok
        wait_for(lambda: bot.store.memo(1).state == "undone", what="the undo")
        clock.advance(timedelta(minutes=5))
        assert all(teams_copies(teams, p) == [] for p in people[1:])
        assert audited(bot, "memo undone", memo_id=1)[0]["actor"] == aad(sender)
    finally:
        bot.stop()
