"""Channel announcements in Teams, through the stand-in Teams: a memo posted as a card in
a team channel (its members tracked per person, no DM each), acknowledged there, retracted
in seconds (the card edited to RETRACTED, the notice a reply in its thread), confirmed
there; acknowledgers also get a DM notice.

Issue 15's Teams story at the stand-in's size: a ~220-member team, 4 named people (3 of
them in the team), 30 acknowledgements and 50 "I've seen this" in the channel."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot import reports
from bot.clock import SettableClock
from bot.teams.channels import TRACK_COMMAND
from tests.harness import stand_in_teams, start_teams_bot, teams_copies, teams_notices, wait_for
from tests.integration.test_teams import TITLE, aad, answer_to

ORG_WIDE = "Errata Sandbox (all company)"
CHANNEL = "Announcements"


def report(bot, memo_id=1) -> list[dict]:
    text = "".join(reports.csv_chunks(reports.rows(bot.store, memo_id)))
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def world(tmp_path):
    teams = stand_in_teams(people=220)
    team = teams.directory.team(ORG_WIDE)
    channel = teams.directory.add_channel(team, CHANNEL)
    members = [teams.directory.person(m) for m in team.members]
    comms = members[0]
    outsiders = [p for p in teams.directory.people if not team.has_member(p.id)]
    named = members[-3:] + outsiders[:1]
    clock = SettableClock(datetime.now(UTC).replace(microsecond=0))
    bot = start_teams_bot(
        teams,
        tmp_path / "errata.db",
        clock=clock,
        COMMS_STAFF=aad(comms),
        WORKING_HOURS="off",
        RETRACTION_REMIND_AFTER="1h",
        MAX_REMINDERS="1",
    )
    for person in [comms, *named]:
        assert teams.install(person).ok
    assert all(r.ok for r in teams.install_in_team(team))
    wait_for(lambda: bot.store.group("teams", team.id), what="the team install recorded")
    yield teams, bot, clock, team, channel, comms, members, named
    bot.stop()
    teams.stop()


def compose(teams, comms, values: dict):
    menu = answer_to(teams, comms, "memo", "New memo")
    assert teams.open_dialog(comms, menu, "New memo").ok
    return teams.submit_dialog(
        comms, {"Title": TITLE, "Message": "Please delete it by Friday.", **values}
    )


def reminders_of(teams, person) -> list:
    return [m for m in teams.chat(person) if m.content().startswith("Reminder: ")]


def channel_card(teams, channel):
    return wait_for(lambda: teams.channel_posts(channel), what="the card in the channel")


@pytest.mark.slow
def test_a_memo_posted_in_a_team_channel_is_tracked_per_person_and_retracted(world):
    teams, bot, clock, team, channel, comms, members, named = world
    channel_name = f"{ORG_WIDE} › {CHANNEL}"
    reply = compose(
        teams,
        comms,
        {
            "Post in channels": [channel_name],
            "People": [aad(p) for p in named],
            "Ask for acknowledgement": True,
        },
    )
    assert reply.ok and not reply.errors_by_label, reply
    wait_for(
        lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent",
        timeout=60,
        what="the memo to be sent",
    )

    # One card in the channel; DMs only to the named people; one row per person.
    [post] = channel_card(teams, channel)
    assert TITLE in post.content() and post.buttons() == ["Acknowledge"]
    channel_only = [m for m in members if m not in set(named)]
    assert all(teams_copies(teams, m) == [] for m in channel_only if m != comms)
    assert all(len(teams_copies(teams, p)) == 1 for p in named)
    counts = bot.store.memo_counts(1)
    assert counts.recipients == counts.delivered == len(members) + 1

    # Members acknowledge in the channel (privately answered); the card's count follows.
    acknowledgers = channel_only[1::7][:30]
    for person in acknowledgers:
        clicked = teams.invoke_action(person, post, "Acknowledge")
        assert clicked.ok and "You acknowledged M-1" in (clicked.shown or ""), clicked
    teams.invoke_action(acknowledgers[0], post, "Acknowledge")  # twice: recorded once
    wait_for(lambda: bot.store.memo_counts(1).acknowledged == 30, what="30 acknowledgements")
    wait_for(
        lambda: "**30** acknowledged" in teams.find_message(channel, post.id).content(),
        timeout=15,
        what="the card to show 30 acknowledged",
    )
    assert len(teams.find_message(channel, post.id).edits) < 30 / 2

    # Someone who joined the team after the post is not one of its recipients: refused
    # privately, and audited.
    newcomer = teams.directory.add_person("Late Joiner", teams=[team])
    refused = teams.invoke_action(newcomer, post, "Acknowledge")
    assert "not in this channel" in (refused.shown or ""), refused
    denied = [e for e in bot.store.audit_entries() if e["action"] == "denied"]
    assert any(
        e["actor"] == newcomer.aad_object_id and e["subject"] == "acknowledge in channel"
        for e in denied
    )
    assert bot.store.memo_counts(1).acknowledged == 30

    # Retract: within 2 s of the submit the card reads RETRACTED and the notice is a
    # reply in its thread.
    offer = answer_to(teams, comms, "retract M-1 Sent to the wrong list", "Retract ")
    teams.open_dialog(comms, offer, next(b for b in offer.buttons() if b.startswith("Retract")))
    submitted = time.monotonic()
    assert teams.submit_dialog(comms, {}).ok

    def corrected():
        edited = "RETRACTED: sent in error" in teams.find_message(channel, post.id).content()
        return edited and teams.thread(channel, post.id)

    [notice] = wait_for(corrected, timeout=5, what="the card edited and the channel notice")
    took = time.monotonic() - submitted
    assert took < 2.0, f"the channel was corrected {took:.2f}s after the submit"
    assert notice.buttons() == ["I've seen this"] and "Retraction: " in notice.content()
    assert teams.find_message(channel, post.id).buttons() == []

    # Acknowledgers get a DM notice before the other DM recipients; nobody else by DM.
    wait_for(lambda: bot.store.memo(1).state == "retracted", timeout=60, what="the retraction")
    acker_notices = [teams_notices(teams, p) for p in acknowledgers]
    assert all(len(n) == 1 for n in acker_notices)
    named_notices = [teams_notices(teams, p) for p in named]
    assert all(len(n) == 1 for n in named_notices)
    assert max(int(n[0].id) for n in acker_notices) < min(int(n[0].id) for n in named_notices)
    others = [m for m in channel_only if m not in set(acknowledgers)]
    assert all(teams_notices(teams, m) == [] for m in others)

    # Members confirm in the channel; the newcomer cannot.
    seers = others[:50]
    for person in seers:
        clicked = teams.invoke_action(person, notice, "I've seen this")
        assert clicked.ok and "You confirmed" in (clicked.shown or ""), clicked
    wait_for(lambda: bot.store.retraction_counts(1).seen == 50, what="50 seen")
    teams.invoke_action(newcomer, notice, "I've seen this")
    assert bot.store.retraction_counts(1).seen == 50

    # A reminder by DM, only to those who have not confirmed; it points at the channel,
    # and a click on it leaves the channel's notice (everyone's) as it is.
    clock.advance(timedelta(hours=2))
    bot.core.reminders.sweep()
    unconfirmed = len(members) + 1 - 50
    wait_for(
        lambda: (
            bot.store._rows("SELECT count(*) AS n FROM reminders WHERE state = 'delivered'")[0]["n"]
            == unconfirmed
        ),
        timeout=60,
        what="a reminder to each unconfirmed person",
    )
    assert all(not reminders_of(teams, p) for p in seers)
    reminded = others[-1]
    [reminder] = reminders_of(teams, reminded)
    assert f"in the thread of the memo in {channel_name}" in reminder.content()
    assert teams.invoke_action(reminded, reminder, "I've seen this").ok
    wait_for(lambda: bot.store.retraction_counts(1).seen == 51, what="seen from the reminder")
    seers.append(reminded)
    assert teams.thread(channel, post.id)[0].buttons() == ["I've seen this"]

    # The report: one row per person, where each got it and who confirmed.
    rows = {r["recipient_id"]: r for r in report(bot)}
    assert len(rows) == len(members) + 1
    for person in channel_only:
        assert rows[aad(person)]["delivered_in"] == f"#{channel_name}", person.name
    for person in named:
        assert rows[aad(person)]["delivered_in"] == "DM", person.name
    for person_id, row in rows.items():
        assert bool(row["seen_at"]) == (person_id in {aad(p) for p in seers}), person_id
        assert row["retraction_status"] == "delivered", person_id
        assert row["reminders_sent"] == ("0" if person_id in {aad(p) for p in seers[:50]} else "1")


def test_a_channel_of_a_team_errata_has_left_is_refused_by_name(world):
    teams, bot, clock, team, channel, comms, members, named = world
    menu = answer_to(teams, comms, "memo", "New memo")
    assert teams.open_dialog(comms, menu, "New memo").ok  # offers the channel, then...
    teams.uninstall_from_team(team)
    wait_for(lambda: bot.store.group("teams", team.id) is None, what="the team uninstall")
    reply = teams.submit_dialog(
        comms,
        {
            "Title": TITLE,
            "Message": "Please delete it by Friday.",
            "Post in channels": [f"{ORG_WIDE} › {CHANNEL}"],
        },
    )
    dialog = teams.dialog(comms)
    shown = str(reply.body) + (str(dialog.view()) if dialog else "")
    assert f"Errata cannot post in {ORG_WIDE} › {CHANNEL}" in shown, reply
    assert bot.store.memo(1) is None


def test_a_persons_post_tracked_as_a_memo_is_acknowledged_and_retracted(world):
    teams, bot, clock, team, channel, comms, members, named = world
    author, someone = members[1], members[2]
    assert teams.install(author).ok
    text = "Everyone: reset your VPN password today, before you log off tonight."
    original = teams.post_in_channel(author, channel, text)

    # Only comms staff may track a post: anyone else is refused privately and audited.
    refused = teams.message_action(someone, original, TRACK_COMMAND)
    assert refused.outcome == "message_shown" and "Only comms staff" in refused.shown, refused
    assert teams.dialog(someone) is None
    assert any(
        e["action"] == "denied" and e["subject"] == "track as memo" and e["actor"] == aad(someone)
        for e in bot.store.audit_entries()
    )
    assert bot.store.memo(1) is None

    opened = teams.message_action(comms, original, TRACK_COMMAND)
    assert opened.outcome == "dialog_opened", opened
    assert teams.submit_dialog(comms, {"Title": ""}, client_checks=False).outcome == (
        "dialog_updated"
    )
    reply = teams.submit_dialog(
        comms, {"Title": "Reset your VPN password", "Ask for acknowledgement": True}
    )
    assert reply.outcome == "dialog_closed" and "M-1" in (reply.shown or ""), reply
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="tracked")
    memo = bot.store.memo(1)
    assert memo.body == text and memo.title == "Reset your VPN password"
    thread = f"{channel};messageid={original.id}"

    def bot_replies():
        return [m for m in teams.thread(channel, original.id) if m.sender == "bot"]

    [tracking] = wait_for(bot_replies, what="the reply in the post's thread")
    assert "tracked as **Reset your VPN password** (M-1)" in tracking.content()
    assert tracking.buttons() == ["Acknowledge"]
    assert teams.channel_posts(channel) == []  # a reply in the thread, no new post
    assert bot.store.memo_counts(1).recipients == len(members)  # the author too
    assert all(teams_copies(teams, p, memo.title) == [] for p in members)

    # Members acknowledge in the thread; someone outside the team cannot even see it.
    for person in members[3:8]:
        clicked = teams.invoke_action(person, tracking, "Acknowledge")
        assert "You acknowledged M-1" in (clicked.shown or ""), clicked
    wait_for(lambda: bot.store.memo_counts(1).acknowledged == 5, what="5 acknowledgements")

    # A second attempt on the same post is refused.
    teams.message_action(comms, original, TRACK_COMMAND)
    again = teams.submit_dialog(comms, {"Title": "Again"})
    assert "already tracked as M-1" in (again.shown or ""), again

    # Retract: the bot's reply reads RETRACTED, the notice is in the post's thread, and the
    # person's post itself stays as they wrote it.
    offer = answer_to(teams, comms, "retract M-1 The VPN is fine", "Retract ")
    teams.open_dialog(comms, offer, next(b for b in offer.buttons() if b.startswith("Retract")))
    assert teams.submit_dialog(comms, {}).ok
    [notice] = wait_for(
        lambda: [m for m in bot_replies() if "Retraction: " in m.content()],
        what="the notice in the post's thread",
    )
    assert notice.buttons() == ["I've seen this"]
    wait_for(
        lambda: "RETRACTED: sent in error" in teams.find_message(thread, tracking.id).content(),
        what="the bot's reply retracted",
    )
    assert "its author has been asked" in teams.find_message(thread, tracking.id).content()
    assert teams.find_message(channel, original.id).text == text

    # The author is asked, by DM, to delete or edit their post, named by channel and words.
    [asked] = wait_for(lambda: teams_notices(teams, author), what="the author's DM")
    assert "delete or edit your post" in asked.content()
    assert f"{ORG_WIDE} › {CHANNEL}" in asked.content()
    assert "Everyone: reset your VPN password today" in asked.content()
    # Acknowledgers get their DM notice; the other members only the thread's.
    wait_for(lambda: bot.store.memo(1).state == "retracted", timeout=60, what="the retraction")
    assert all(len(teams_notices(teams, p)) == 1 for p in members[3:8])
    assert teams_notices(teams, members[20]) == []

    clicked = teams.invoke_action(members[20], notice, "I've seen this")
    assert "You confirmed" in (clicked.shown or ""), clicked
    wait_for(lambda: bot.store.retraction_counts(1).seen == 1, what="seen recorded")
    newcomer = teams.directory.add_person("Late Joiner", teams=[team])
    late = teams.invoke_action(newcomer, notice, "I've seen this")
    assert "not in this channel" in (late.shown or ""), late
    assert bot.store.retraction_counts(1).seen == 1
