"""Issue 12, Teams: activities in the shapes Teams really sends them, through the stand-in
Teams (which sends each shape itself), and what the person then sees.

Shapes, trimmed to what matters, from:
- a channel message that @mentions the bot: TechAtBosch/bot-comm apihandlers/teams.go (a
  captured request: text "<at>CapCoins</at>&nbsp;testing ...", conversation
  "19:...@thread.skype;messageid=...", conversationType "channel", channelData.team/channel)
  and MicrosoftDocs/msteams-docs msteams-platform/bots/how-to/conversations/
  channel-and-group-conversations.md (the mention entity: type, text, mentioned {id, name});
- install and team events: MicrosoftDocs/msteams-docs msteams-platform/bots/how-to/
  conversations/subscribe-to-conversation-events.md (installationUpdate / conversationUpdate:
  from {id, aadObjectId} without a name, clientInfo {locale} without a time zone;
  "Team renamed": channelData {team {id, name}, eventType "teamRenamed"}, from {id});
- Universal Actions: MicrosoftDocs/msteams-docs task-modules-and-cards/cards/
  Universal-actions-for-adaptive-cards (refresh {action Action.Execute, userIds: at most 60
  user MRIs, [] = no automatic refresh}; the answer card goes only to the client that asked).
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.harness import (
    stand_in_teams,
    start_teams_bot,
    teams_copies,
    teams_notices,
    wait_for,
)

TITLE = "Delete the chat app"


@pytest.fixture
def teams():
    stand = stand_in_teams(people=30, teams=2)
    yield stand
    stand.stop()


@pytest.fixture
def bot(teams, tmp_path):
    comms = teams.directory.people[0]
    started = start_teams_bot(teams, tmp_path / "errata.db", COMMS_STAFF=comms.aad_object_id)
    assert teams.install(comms).ok
    yield started
    started.stop()


def aad(person) -> str:
    return person.aad_object_id


def answer_to(teams, person, text: str, button: str):
    before = len(teams.chat(person))
    teams.message(person, text)
    return wait_for(
        lambda: next(
            (m for m in teams.chat(person)[before:] if button in " ".join(m.buttons())), None
        ),
        what=f"the reply to {text!r}",
    )


def send_memo(teams, bot, people, *, ack=True, number=1):
    comms = teams.directory.people[0]
    menu = answer_to(teams, comms, "memo", "New memo")
    assert teams.open_dialog(comms, menu, "New memo").ok
    reply = teams.submit_dialog(
        comms,
        {
            "Title": TITLE,
            "Message": "Please delete it by Friday.",
            "People": [aad(p) for p in people],
            "Ask for acknowledgement": ack,
        },
    )
    assert reply.ok and not reply.errors_by_label, reply
    wait_for(
        lambda: bot.store.memo(number) and bot.store.memo(number).state == "sent",
        what="the fan-out",
    )


def team_of(teams, person):
    return next(t for t in teams.directory.teams if t.has_member(person.id))


def new_messages(teams, person, before: int) -> list:
    return [m for m in teams.chat(person)[before:]]


# ---------------------------------------------------------------- 6: a mention with &nbsp;


def test_a_channel_mention_with_nbsp_is_understood_as_the_command(teams, bot):
    comms = teams.directory.people[0]
    team = team_of(teams, comms)
    assert all(r.ok for r in teams.install_in_team(team))
    before = len(teams.chat(comms))
    sent = teams.message_in_channel(comms, team, "memo list")
    assert sent.ok
    assert sent.request["text"] == "<at>Errata</at>&nbsp;memo list\n"
    assert sent.request["entities"][0]["mentioned"]["id"] == teams.bot_id
    answer = wait_for(lambda: new_messages(teams, comms, before), what="the answer")[0]
    assert answer.content() == "There are no memos to show."  # not the help card


@pytest.mark.parametrize(
    "text",
    [
        "<p><at>Errata</at>&nbsp;memo&nbsp;list</p>",
        "<div><div><at>Errata</at>&nbsp;memo<br>list</div>\n</div>",
        "<at>Errata</at>&nbsp;&nbsp;memo   list&nbsp;\n",
    ],
)
def test_markup_around_a_mentioned_command_is_ignored(teams, bot, text):
    comms = teams.directory.people[0]
    team = team_of(teams, comms)
    teams.install_in_team(team)
    before = len(teams.chat(comms))
    activity = teams.actor._base(
        "message",
        comms,
        {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": teams.tenant_id,
            "id": f"{team.id};messageid=1700000000000",
        },
        channel_data={"team": {"id": team.id}, "tenant": {"id": teams.tenant_id}},
        head={"text": text, "textFormat": "plain"},
    )
    activity["entities"].insert(
        0,
        {
            "type": "mention",
            "text": "<at>Errata</at>",
            "mentioned": {"id": teams.bot_id, "name": "Errata"},
        },
    )
    assert teams.send_activity(activity).status == 200
    answer = wait_for(lambda: new_messages(teams, comms, before), what="the answer")[0]
    assert answer.content() == "There are no memos to show."


# ---------------------------------------------------------------- 7: no personal install


def test_a_team_member_without_the_app_gets_the_answer_in_a_1_1(teams, bot):
    comms = teams.directory.people[0]
    team = team_of(teams, comms)
    member = next(teams.directory.person(m) for m in team.members if m != comms.id)
    member.has_app = False  # never installed it for themselves
    assert all(r.ok for r in teams.install_in_team(team))
    assert teams.message_in_channel(member, team, "help").ok
    answer = wait_for(lambda: teams.chat(member), what="the answer in their 1:1")[0]
    assert "sends company-wide memos" in answer.content()
    stored = bot.store.person("teams", aad(member))
    assert stored["conversation_id"] == teams.conversation_of(member)


def test_a_channel_message_keeps_the_stored_personal_chat(teams, bot):
    comms = teams.directory.people[0]
    team = team_of(teams, comms)
    teams.install_in_team(team)
    personal = bot.store.person("teams", aad(comms))["conversation_id"]
    assert personal
    before = len(teams.chat(comms))
    teams.message_in_channel(comms, team, "help")
    wait_for(lambda: new_messages(teams, comms, before), what="the answer")
    assert bot.store.person("teams", aad(comms))["conversation_id"] == personal


def test_someone_only_in_a_group_chat_is_answered_there_and_nothing_private(teams, bot):
    for team in teams.directory.teams:
        teams.directory.set_bot_installed(team, False)
    people = teams.directory.people[5:8]
    for person in people:
        person.has_app = False
    chat = teams.group_chat(people)
    asker = people[0]
    assert teams.message_in_group_chat(asker, chat, "help").ok
    helped = wait_for(
        lambda: [m for m in teams.messages(chat) if m.sender == "bot"], what="the answer there"
    )
    assert "sends company-wide memos" in helped[0].content()
    assert helped[0].reply_to_id == teams.messages(chat)[0].id
    assert teams.message_in_group_chat(asker, chat, "memo list").ok
    refused = wait_for(
        lambda: [m for m in teams.messages(chat) if m.sender == "bot"][1:], what="the 2nd answer"
    )
    assert "cannot write to you privately" in refused[0].content()
    assert teams.chat(asker) == []


# ---------------------------------------------------------------- 8: names and time zones


def test_an_install_without_a_name_is_looked_up_off_the_request_path(teams, bot):
    people = teams.directory.people[1:5]
    teams.faults.set(op="members.get", latency=1.5)
    for person in people:
        replies = teams.install(person, profile=False)
        assert replies.ok and all(r.elapsed < 1.0 for r in replies), replies
        assert "name" not in replies[0].request["from"]
    teams.faults.clear()
    for person in people:
        wait_for(
            lambda p=person: (bot.store.person("teams", aad(p)) or {}).get("name") == p.name,
            what=f"the name of {person.name}",
        )
        assert bot.store.person("teams", aad(person))["email"] == person.email
    send_memo(teams, bot, people, ack=False)
    assert sorted(c.recipient_name for c in bot.store.copies_of(1)) == sorted(
        p.name for p in people
    )


def test_the_time_zone_comes_from_local_timezone_on_messages(teams, bot):
    comms = teams.directory.people[0]
    person = teams.directory.people[1]
    teams.install(person, profile=False)
    wait_for(lambda: bot.store.person("teams", aad(person)), what="the install")
    assert not bot.store.person("teams", aad(person))["tz"]
    activity = teams.actor._base(
        "message", person, teams.actor._personal(person), head={"text": "help"}
    )
    activity["localTimezone"] = "Asia/Tokyo"  # on the activity; clientInfo may not say
    del activity["entities"][0]["timezone"]
    assert teams.send_activity(activity).ok
    wait_for(lambda: bot.store.person("teams", aad(person))["tz"] == "Asia/Tokyo", what="the zone")
    # a deadline comms staff type is read in their own zone (from their messages)
    comms.tz = "Asia/Tokyo"
    menu = answer_to(teams, comms, "memo", "New memo")
    wait_for(lambda: bot.store.person("teams", aad(comms))["tz"] == "Asia/Tokyo")
    teams.open_dialog(comms, menu, "New memo")
    day = (bot.clock.now() + timedelta(days=3)).date().isoformat()
    reply = teams.submit_dialog(
        comms,
        {
            "Title": TITLE,
            "Message": "By then.",
            "People": [aad(person)],
            "Acknowledge by": day,
            "Acknowledge by (time)": "09:00",
        },
    )
    assert reply.ok and not reply.errors_by_label
    deadline = wait_for(lambda: bot.store.memo(1)).ack_deadline
    assert deadline.astimezone(ZoneInfo("Asia/Tokyo")).hour == 9


# ---------------------------------------------------------------- 9: renamed teams, bad invokes, deadlines


def test_a_renamed_team_shows_its_new_name_in_the_compose_dialog(teams, bot):
    comms = teams.directory.people[0]
    team = team_of(teams, comms)
    assert all(r.ok for r in teams.install_in_team(team))
    wait_for(lambda: bot.store.group("teams", team.id), what="the team install")
    renamed = teams.rename_team(team, "Sales EMEA (new)")
    assert renamed.ok and renamed.request["channelData"]["eventType"] == "teamRenamed"
    wait_for(lambda: bot.store.group("teams", team.id)["name"] == "Sales EMEA (new)")
    menu = answer_to(teams, comms, "memo", "New memo")
    opened = teams.open_dialog(comms, menu, "New memo")
    choices = next(
        i for i in opened.card["body"] if i.get("id") == "teams" and i["type"] == "Input.ChoiceSet"
    )["choices"]
    assert {"title": "Sales EMEA (new)", "value": team.id} in choices


@pytest.mark.parametrize(
    ("typed", "field", "says"),
    [
        ({"Acknowledge by (time)": "25:99"}, "deadline_time", "is not a time of day"),
        ({"Acknowledge by": "2031-02-30"}, "deadline_date", "is not a date"),
        ({"Acknowledge by": "", "Acknowledge by (time)": "09:00"}, "deadline_date", "the day"),
    ],
)
def test_an_impossible_deadline_is_refused_in_the_dialog(teams, bot, typed, field, says):
    comms = teams.directory.people[0]
    person = teams.directory.people[1]
    teams.install(person)
    menu = answer_to(teams, comms, "memo", "New memo")
    teams.open_dialog(comms, menu, "New memo")
    values = {
        "Title": TITLE,
        "Message": "By then.",
        "People": [aad(person)],
        "Acknowledge by": "2031-01-15",
        **typed,
    }
    reply = teams.submit_dialog(comms, values, client_checks=False)
    assert reply.outcome == "dialog_updated", reply
    body = reply.card["body"]
    at = next(i for i, e in enumerate(body) if e.get("id") == field)
    assert says in body[at + 1]["text"]  # the error sits under that field
    assert bot.store.memo(1) is None


def test_a_date_without_a_time_means_five_pm_that_day(teams, bot):
    comms = teams.directory.people[0]
    person = teams.directory.people[1]
    teams.install(person)
    menu = answer_to(teams, comms, "memo", "New memo")
    teams.open_dialog(comms, menu, "New memo")
    reply = teams.submit_dialog(
        comms,
        {
            "Title": TITLE,
            "Message": "By then.",
            "People": [aad(person)],
            "Acknowledge by": "2031-01-15",
        },
    )
    assert reply.outcome == "dialog_closed", reply
    deadline = bot.store.memo(1).ack_deadline
    zone = ZoneInfo(bot.store.person("teams", aad(comms))["tz"])
    local = deadline.astimezone(zone)
    assert (local.date().isoformat(), local.hour, local.minute) == ("2031-01-15", 17, 0)


# ---------------------------------------------------------------- 10, 11: every device matches the store


def test_an_acknowledge_click_shows_on_every_device(teams, bot):
    person = teams.directory.people[1]
    teams.install(person)
    send_memo(teams, bot, [person])
    [copy] = wait_for(lambda: teams_copies(teams, person), what="the copy")
    assert copy.card()["refresh"]["userIds"] == [person.id]
    click = teams.invoke_action(person, copy, "Acknowledge")
    assert click.outcome == "card_replaced" and "You acknowledged" in str(click.card)
    # another device, or the same after a reload: the message as Teams stores it
    wait_for(
        lambda: (
            "You acknowledged" in teams_copies(teams, person)[0].content()
            and teams_copies(teams, person)[0].buttons() == []
        ),
        what="the stored message edited",
    )


def test_an_i_have_seen_this_click_shows_on_every_device(teams, bot):
    comms = teams.directory.people[0]
    person = teams.directory.people[1]
    teams.install(person)
    send_memo(teams, bot, [person], ack=False)
    offer = answer_to(teams, comms, "retract M-1 Sent in error", "Retract ")
    teams.open_dialog(comms, offer, next(b for b in offer.buttons() if b.startswith("Retract")))
    assert teams.submit_dialog(comms, {}).ok
    wait_for(lambda: bot.store.retraction(1) is not None, what="the retraction stored")
    [notice] = wait_for(lambda: teams_notices(teams, person), timeout=60, what="the notice")
    assert teams.invoke_action(person, notice, "I've seen this").outcome == "card_replaced"
    wait_for(
        lambda: (
            "You confirmed" in teams_notices(teams, person)[0].content()
            and teams_notices(teams, person)[0].buttons() == []
        ),
        what="the stored notice edited",
    )


def test_an_unconfirmed_copy_shows_retracted_when_opened(teams, bot):
    comms = teams.directory.people[0]
    person = teams.directory.people[1]
    teams.install(person)
    answer_to(teams, comms, "memo", "New memo")
    # Only the copy's send is lost (the sender's status message may go at the same time).
    teams.faults.drop_next(
        1, after=True, op="activities.send", conversation=teams.conversation_of(person)
    )
    teams.open_dialog(comms, teams.chat(comms)[-1], "New memo")
    teams.submit_dialog(
        comms,
        {
            "Title": TITLE,
            "Message": "By Friday.",
            "People": [aad(person)],
            "Ask for acknowledgement": True,
        },
    )
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    [copy] = bot.store.copies_of(1)
    assert copy.state == "delivered" and (copy.error or "").startswith("unconfirmed")
    [shown] = teams_copies(teams, person)
    opened = teams.open_card(person, shown)  # before: the memo as it is
    assert opened.request["value"]["trigger"] == "automatic"
    assert opened.card["body"][0]["text"] == TITLE and "Acknowledge" in str(opened.card)
    offer = answer_to(teams, comms, "retract M-1 Sent in error", "Retract ")
    teams.open_dialog(comms, offer, next(b for b in offer.buttons() if b.startswith("Retract")))
    teams.submit_dialog(comms, {})
    wait_for(lambda: bot.store.memo(1).state == "retracted", what="the retraction")
    # its message cannot be edited (no message ID) ...
    assert teams_copies(teams, person)[0].buttons() == ["Acknowledge"]
    # ... but when the person looks at it, Teams asks the bot for the card
    opened = teams.open_card(person, shown)
    assert opened.outcome == "card_replaced"
    seen = teams_copies(teams, person)[0].card_on_device(person.id)
    assert seen["body"][0]["text"] == "RETRACTED: sent in error"
    assert "actions" not in seen and "refresh" not in seen


def test_an_acknowledged_copy_refreshes_to_its_acknowledged_form(teams, bot):
    person = teams.directory.people[1]
    teams.install(person)
    send_memo(teams, bot, [person])
    [copy] = wait_for(lambda: teams_copies(teams, person), what="the copy")
    bot.core.acknowledge(bot.store.copies_of(1)[0].id, aad(person), "teams")
    opened = teams.open_card(person, copy)
    assert "You acknowledged" in str(opened.card) and "Acknowledge" not in [
        a.get("title") for a in opened.card.get("actions") or []
    ]


def test_an_acknowledge_while_a_retraction_is_requested_is_refused(teams, bot):
    comms = teams.directory.people[0]
    person = teams.directory.people[1]
    teams.install(person)
    send_memo(teams, bot, [person])
    [copy] = wait_for(lambda: teams_copies(teams, person), what="the copy")
    # Confirmed to the retractor, not applied yet (what the retract dialog's answer follows).
    assert bot.store.request_retraction(
        1,
        by=aad(comms),
        by_platform="teams",
        reason="Sent in error",
        corrections="",
        now=bot.clock.now(),
    )
    click = teams.invoke_action(person, copy, "Acknowledge")
    assert click.status == 200 and click.outcome == "message_shown"
    assert "being retracted" in click.shown
    assert bot.store.memo_counts(1).acknowledged == 0
