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


# ---------------------------------------------------------------- audiences that reach nobody


def compose(slack, comms, **values):
    slack.command(comms, "/memo")
    wait_for(lambda: slack.open_views(comms), what="the compose modal")
    return slack.submit_view(
        comms, {"Title": "Delete the chat app", "Message": "By Friday.", **values}
    )


def test_a_private_channel_the_bot_is_not_in_is_refused_in_the_form(slack, bot, people, memo):
    comms, audience = people
    secret = slack.directory.add_channel(
        "secret-project", [comms, *audience], is_private=True, bot_member=False
    )
    memos = len(bot.store.recent_memos(50))
    reply = compose(slack, comms, **{"Members of channels": [secret.id]})
    assert reply.status == 200
    error = " ".join(reply.errors.values())
    assert secret.id in error and "Add @Errata" in error
    assert len(bot.store.recent_memos(50)) == memos  # nothing stored, nothing sent
    slack.close_view(comms)


def test_a_channel_with_nobody_to_receive_it_is_refused_by_name(slack, bot, people, memo):
    comms, _ = people
    bots_only = slack.directory.add_channel("bots-only", [slack.directory.bots()[0]])
    memos = len(bot.store.recent_memos(50))
    reply = compose(slack, comms, **{"Members of channels": [bots_only.id]})
    assert "#bots-only has no members who can receive a memo" in " ".join(reply.errors.values())
    assert len(bot.store.recent_memos(50)) == memos
    slack.close_view(comms)


def test_an_audience_that_empties_before_it_is_resolved_says_it_reached_nobody(
    slack, bot, people, memo
):
    """The form checks what it can; an audience can still empty out before it is resolved
    (the last member leaves): the sender is told it reached nobody, never "Sent" quietly."""
    from bot.domain import Audience

    comms, _ = people
    emptied = slack.directory.add_channel("emptied", [slack.directory.bots()[0]])
    sent = bot.core.send_memo(
        sender_id=comms,
        platform="slack",
        title="Nobody will get this",
        body="Body.",
        audience=(Audience(channels=(emptied.id,), platform="slack"),),
        ask_ack=False,
        ack_deadline=None,
    )
    wait_for(lambda: bot.store.memo(sent.id).state == "sent", what="the memo to settle")
    wait_for(
        lambda: [
            m
            for m in slack.dm(comms)
            if sent.label in m.content() and "reached nobody" in m.content()
        ],
        what="the status message to say it reached nobody",
    )
    assert bot.store.memo_counts(sent.id).recipients == 0
