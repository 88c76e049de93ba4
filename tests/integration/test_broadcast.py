"""Stories of the broadcast: comms staff sends a memo, everyone gets exactly one DM,
acknowledgements are recorded once, all through the stand-in Slack over HTTP."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.harness import copies_in_dm, status_fields, wait_for


@pytest.fixture
def bot(bot_on_both):
    """Every story here runs on SQLite and on PostgreSQL."""
    return bot_on_both


def send_memo(slack, comms, **fields):
    reply = slack.command(comms, "/memo")
    assert reply.status == 200, reply.body
    wait_for(lambda: slack.open_views(comms), what="the compose modal")
    values = {
        "Title": "Delete the chat app",
        "Message": "Please delete it from your phone by Friday.",
    }
    values.update(fields)
    return slack.submit_view(comms, values)


def memo_settled(bot, memo_id=1):
    memo = bot.store.memo(memo_id)
    return memo is not None and memo.state == "sent"


def test_memo_to_everyone_reaches_every_active_human_once(slack, bot, comms):
    reply = send_memo(
        slack, comms, **{"Everyone in the workspace": True, "Ask for acknowledgement": True}
    )
    assert reply.status == 200 and not reply.errors
    wait_for(lambda: memo_settled(bot), timeout=60, what="the fan-out to finish")

    humans = set(slack.directory.active_humans())
    everybody = {p.id for p in slack.directory.people} | {"USLACKBOT"}
    for person in everybody:
        copies = copies_in_dm(slack, person)
        if person in humans:
            assert len(copies) == 1, person
            assert [b["text"] for b in copies[0].buttons()] == ["Acknowledge"]
            assert "Delete the chat app" in copies[0].content()
        else:
            assert copies == [], f"{person} is not an active human but got a copy"
    posts = Counter(call.args.get("channel") for call in slack.calls("chat.postMessage") if call.ok)
    assert sum(posts.values()) == len(humans) + 1  # every copy, plus the sender's status message
    counts = bot.store.memo_counts(1)
    assert (counts.recipients, counts.delivered, counts.failed) == (len(humans), len(humans), 0)


def test_a_person_in_two_audiences_gets_one_copy(slack, bot, comms):
    channel = next(c for c in slack.directory.channels if not c.is_private)
    person = next(m for m in channel.members if m in slack.directory.active_humans())
    reply = send_memo(slack, comms, People=[person], **{"Members of channels": [channel.id]})
    assert not reply.errors
    wait_for(lambda: memo_settled(bot), what="the fan-out to finish")
    assert len(copies_in_dm(slack, person)) == 1
    expected = {m for m in channel.members if m in slack.directory.active_humans()} | {person}
    assert {c.recipient_id for c in bot.store.copies_of(1)} == expected


def test_429s_are_absorbed_with_nothing_lost_or_doubled(slack, bot, comms):
    people = slack.directory.active_humans()[1:151]
    slack.faults.burst_429("chat.postMessage", 40)
    send_memo(slack, comms, People=people)
    wait_for(lambda: memo_settled(bot), timeout=60, what="the fan-out to finish")
    assert sum(1 for call in slack.calls("chat.postMessage") if call.status == 429) == 40
    for person in people:
        assert len(copies_in_dm(slack, person)) == 1, person
    assert bot.store.memo_counts(1).failed == 0


def test_acknowledgements_are_recorded_once_and_shown(slack, bot, comms):
    audience = slack.directory.active_humans()[1:81]
    send_memo(slack, comms, People=audience, **{"Ask for acknowledgement": True})
    wait_for(lambda: memo_settled(bot), timeout=60, what="the fan-out to finish")
    people = slack.directory.active_humans()[1:61]
    seen = {person: copies_in_dm(slack, person)[0] for person in people}
    for person in people:
        assert slack.click(person, seen[person], "Acknowledge").status == 200
    for person in people[:5]:  # a double click (on the message as it was) changes nothing
        assert slack.click(person, seen[person], "Acknowledge").status == 200

    def all_shown():
        return all(
            "You acknowledged" in copies_in_dm(slack, p)[0].content()
            and not copies_in_dm(slack, p)[0].buttons()
            for p in people
        )

    wait_for(all_shown, what="every acknowledged DM to show it")
    assert bot.store.memo_counts(1).acknowledged == 60
    entries = [e for e in bot.store.audit_for_memo(1) if e["action"] == "acknowledged"]
    assert len(entries) == 60
    status = wait_for(
        lambda: next(
            (
                m
                for m in slack.dm(comms)
                if status_fields(m).get("Acknowledged", "").startswith("60 of")
            ),
            None,
        ),
        what="the status message to show 60 acknowledgements",
    )
    assert "Delivered" in status.content()


def test_a_click_forged_for_someone_else_changes_nothing(slack, bot, comms):
    audience = slack.directory.active_humans()[1:6]
    send_memo(slack, comms, People=audience, **{"Ask for acknowledgement": True})
    wait_for(lambda: memo_settled(bot), timeout=60, what="the fan-out to finish")
    victim, intruder = slack.directory.active_humans()[1:3]
    victims_copy = copies_in_dm(slack, victim)[0]
    reply = slack.click(intruder, victims_copy, "Acknowledge")
    assert reply.status == 200
    wait_for(lambda: slack.ephemerals(intruder), what="the refusal")
    assert "someone else" in slack.ephemerals(intruder)[-1].content()
    assert bot.store.memo_counts(1).acknowledged == 0
    assert copies_in_dm(slack, victim)[0].buttons()  # still waiting for the real recipient
    assert any(e["action"] == "denied" for e in bot.store.audit_for_memo(1))


@pytest.mark.parametrize(
    "fields,label,needle",
    [
        ({}, "People", "at least one audience"),
        ({"Title": "x" * 151, "Everyone in the workspace": True}, "Title", "150"),
        ({"Message": "y" * 3001, "Everyone in the workspace": True}, "Message", "3000"),
        ({"Title": "   ", "Everyone in the workspace": True}, "Title", "title"),
    ],
)
def test_the_compose_modal_refuses_bad_input_inline(slack, bot, comms, fields, label, needle):
    reply = send_memo(slack, comms, **fields)
    assert reply.status == 200
    assert needle in reply.errors_by_label[label]
    assert bot.store.memo(1) is None  # nothing stored
    assert slack.open_views(comms)  # the modal stays open


def test_only_comms_staff_can_open_the_compose_modal(slack, bot, comms):
    employee = slack.directory.active_humans()[5]
    reply = slack.command(employee, "/memo")
    assert reply.status == 200
    assert "Only comms staff" in slack.ephemerals(employee)[-1].content()
    assert not slack.open_views(employee)
    denials = [
        (e["actor"], e["subject"])
        for e in bot.store.audit_entries()
        if e["action"] == "denied" and e["actor"] == employee
    ]
    assert denials == [(employee, "/memo")]
