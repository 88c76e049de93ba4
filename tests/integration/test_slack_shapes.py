"""Issue 12: shapes Slack really sends that the stand-in used not to, each sent
through the stand-in and answered as a person would expect.

- `views.open` refused (`expired_trigger_id`, Slack's answer when a trigger is
  used after 3 s): the person is told privately to try again, never silence.
- A `view_submission` whose `state` has no `values` (bolt-python's
  tests/scenario_tests/test_view_submission.py, `response_url_payload_body`):
  the form answers inline, nothing is stored.
- A click from a view container (Slack's block_actions payload reference:
  `container.type == "view"`, no `response_url`): recorded once and shown on
  the person's DM copy; a refusal still reaches the clicker.
"""

from __future__ import annotations

import logging

import pytest

from tests.harness import copies_in_dm, stand_in, start_bot, wait_for

TRY_AGAIN = "Slack did not open the form in time, please try again."


@pytest.fixture(scope="module")
def slack():
    stand = stand_in(people=30)
    yield stand
    stand.stop()


@pytest.fixture(scope="module")
def people(slack):
    humans = slack.directory.active_humans()
    return humans[0], humans[1:6]


@pytest.fixture(scope="module")
def bot(slack, people, tmp_path_factory):
    comms, _ = people
    started = start_bot(slack, tmp_path_factory.mktemp("shapes") / "errata.db", COMMS_STAFF=comms)
    yield started
    started.stop()


@pytest.fixture(scope="module")
def memo(slack, bot, people):
    """M-1, with acknowledgement, delivered to five people."""
    comms, audience = people
    slack.command(comms, "/memo")
    wait_for(lambda: slack.open_views(comms), what="the compose modal")
    reply = slack.submit_view(
        comms,
        {
            "Title": "Delete the chat app",
            "Message": "By Friday.",
            "People": audience,
            "Ask for acknowledgement": True,
        },
    )
    assert not reply.errors
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    return bot.store.memo(1)


def ephemeral_texts(slack, user) -> list[str]:
    return [m.content() for m in slack.ephemerals(user)]


@pytest.mark.parametrize("command", ["/memo", "/retract", "/retract M-1 wrong date"])
def test_a_form_slack_would_not_open_gets_a_try_again_answer(
    slack, bot, people, memo, command, caplog
):
    comms, _ = people
    ttl = slack.workspace.trigger_ttl
    slack.workspace.trigger_ttl = -1.0  # every trigger has expired by the time it is used
    try:
        with caplog.at_level(logging.WARNING):
            reply = slack.command(comms, command)
            assert reply.status == 200
            wait_for(lambda: TRY_AGAIN in ephemeral_texts(slack, comms), what="the answer")
    finally:
        slack.workspace.trigger_ttl = ttl
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not slack.open_views(comms)


def test_the_retract_shortcut_also_says_try_again(slack, bot, people, memo):
    comms, _ = people
    status = wait_for(
        lambda: [
            m
            for m in slack.dm(comms)
            if (m.metadata or {}).get("event_type", "").endswith("status")
        ],
        what="the status message",
    )[0]
    before = len(ephemeral_texts(slack, comms))
    ttl = slack.workspace.trigger_ttl
    slack.workspace.trigger_ttl = -1.0
    try:
        assert slack.message_shortcut(comms, status, "retract_memo_shortcut").status == 200
        wait_for(lambda: TRY_AGAIN in ephemeral_texts(slack, comms)[before:], what="the answer")
    finally:
        slack.workspace.trigger_ttl = ttl


def test_a_compose_submission_without_values_is_refused_inline(slack, bot, people, memo):
    comms, _ = people
    memos = len(bot.store.recent_memos(50))
    slack.command(comms, "/memo")
    wait_for(lambda: slack.open_views(comms), what="the compose modal")
    reply = slack.submit_view(comms, {}, without_values=True)
    assert reply.status == 200
    assert reply.errors  # shown in the form, which stays open
    assert slack.open_views(comms)
    assert len(bot.store.recent_memos(50)) == memos
    slack.close_view(comms)


def test_a_retract_submission_without_values_is_refused_inline(slack, bot, people, memo):
    comms, _ = people
    slack.command(comms, "/retract")
    wait_for(lambda: slack.open_views(comms), what="the retract modal")
    reply = slack.submit_view(comms, {}, without_values=True)
    assert reply.status == 200 and reply.errors
    assert bot.store.retraction(memo.id) is None
    slack.close_view(comms)


def test_a_click_from_a_view_is_recorded_once_and_shown_on_the_dm_copy(
    slack, bot, people, memo, caplog
):
    _, audience = people
    person = audience[0]
    copy = copies_in_dm(slack, person)[0]
    with caplog.at_level(logging.WARNING):
        assert slack.click(person, copy, "Acknowledge", from_view=True).status == 200
        wait_for(
            lambda: "You acknowledged" in copies_in_dm(slack, person)[0].content(),
            what="the DM copy to show the acknowledgement",
        )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    acknowledged = [c for c in bot.store.copies_of(memo.id) if c.acknowledged_at]
    assert [c.recipient_id for c in acknowledged] == [person]


def test_a_refused_click_from_a_view_is_answered_by_dm(slack, bot, people, memo):
    _, audience = people
    owner, other = audience[1], audience[2]
    copy = copies_in_dm(slack, owner)[0]
    # `other` clicks `owner`'s button (a forwarded view): nothing is recorded, `other` is told.
    payload_user = slack.actor.user_obj
    slack.actor.user_obj = lambda user_id: payload_user(other)
    try:
        assert slack.click(owner, copy, "Acknowledge", from_view=True).status == 200
    finally:
        slack.actor.user_obj = payload_user
    wait_for(
        lambda: any("someone else's copy" in m.content() for m in slack.dm(other)),
        what="the refusal in a DM",
    )
    assert not next(
        c for c in bot.store.copies_of(memo.id) if c.recipient_id == owner
    ).acknowledged_at
