"""Acting as Teams toward the bot (a tiny receiver here): exact activity shapes, and how
Teams applies the answers to card actions and dialogs."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest

from tests.standin.teams.conftest import APP_ID, card, card_activity, json_answer

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
ADAPTIVE = "application/vnd.microsoft.card.adaptive"


def post_card(teams, connector, person, c: dict, text: str | None = None):
    cid = teams.conversation_of(person) or connector.create(person.id).json()["id"]
    ans = connector.send(cid, card_activity(c, text))
    assert ans.status == 201, ans.body
    return next(m for m in teams.chat(person) if m.id == ans.json()["id"])


MEMO = card(
    {"type": "TextBlock", "text": "Delete the app by Friday", "wrap": True},
    {"type": "FactSet", "facts": [{"title": "Memo", "value": "M-7"}]},
    actions=[
        {"type": "Action.Execute", "title": "Acknowledge", "verb": "ack", "data": {"memo": "M-7"}}
    ],
)


def test_install_sends_installation_and_conversation_updates(teams, bot):
    person = next(p for p in teams.directory.people if not p.has_app)
    replies = teams.install(person)
    assert replies.ok and person.has_app
    install, update = (r.json() for r in bot.requests)
    cid = teams.conversation_of(person)
    assert install["type"] == "installationUpdate" and install["action"] == "add"
    assert update["type"] == "conversationUpdate"
    assert update["membersAdded"] == [{"id": f"28:{APP_ID}"}]
    for act in (install, update):
        assert act["channelId"] == "msteams" and act["serviceUrl"] == teams.service_url
        assert act["from"] == {
            "id": person.id,
            "name": person.name,
            "aadObjectId": person.aad_object_id,
        }
        assert act["recipient"] == {"id": f"28:{APP_ID}", "name": "Errata"}
        assert act["conversation"] == {
            "conversationType": "personal",
            "tenantId": teams.tenant_id,
            "id": cid,
        }
        assert act["channelData"]["tenant"] == {"id": teams.tenant_id}
        assert act["entities"] == [
            {
                "locale": person.locale,
                "country": person.country,
                "platform": "Web",
                "timezone": person.tz,
                "type": "clientInfo",
            }
        ]
        assert act["locale"] == person.locale and act["localTimezone"] == person.tz
        assert TIMESTAMP.match(act["timestamp"]) and act["id"].startswith("f:")
    assert bot.requests[0].path == "/api/messages"


def test_install_many_announces_everyone_with_the_app(teams, bot):
    replies = teams.install_many(workers=4)
    assert len(replies) == len(teams.directory.installed()) and all(r.ok for r in replies)
    kinds = [r.json()["type"] for r in bot.requests]
    assert kinds.count("installationUpdate") == kinds.count("conversationUpdate") == len(replies)
    assert all(teams.conversation_of(p) for p in teams.directory.installed())


def test_uninstall_then_the_bot_cannot_write(teams, bot, connector):
    person = teams.directory.installed()[0]
    teams.install(person)
    for team in teams.directory.teams:
        teams.directory.set_bot_installed(team, False)
    replies = teams.uninstall(person)
    assert replies.ok and not person.has_app
    assert bot.requests[-2].json()["action"] == "remove"
    assert bot.requests[-1].json()["membersRemoved"] == [{"id": f"28:{APP_ID}"}]
    ans = connector.send(teams.conversation_of(person), {"type": "message", "text": "x"})
    assert ans.code == "BotNotInConversationRoster"
    with pytest.raises(PermissionError):
        teams.message(person, "hello?")


def test_install_in_team(teams, bot):
    team = teams.directory.teams[2]
    teams.directory.set_bot_installed(team, False)
    assert teams.install_in_team(team).ok and team.bot_installed
    install, update = (r.json() for r in bot.requests)
    assert install["conversation"] == {
        "isGroup": True,
        "conversationType": "channel",
        "tenantId": teams.tenant_id,
        "id": team.id,
    }
    assert install["channelData"]["team"] == {
        "id": team.id,
        "name": team.name,
        "aadGroupId": team.aad_group_id,
    }
    assert install["channelData"]["settings"] == {"selectedChannel": {"id": team.id}}
    assert update["channelData"]["eventType"] == "teamMemberAdded"
    assert teams.directory.person(install["from"]["id"]).id in team.members


def test_a_message_and_the_bots_reply_during_the_turn(teams, bot, connector):
    person = teams.directory.installed()[0]

    def answer(req):
        act = req.json()
        if act["type"] == "message":
            connector.send(
                act["conversation"]["id"],
                {"type": "message", "text": f"You said: {act['text']}", "replyToId": act["id"]},
            )
        return 201, "", "application/json"

    bot.answer = answer
    teams.install(person)
    reply = teams.message(person, "memo <help> & more")
    assert reply.status == 201 and reply.outcome == "delivered"
    sent = bot.last().json()
    assert sent["text"] == "memo <help> & more" and sent["textFormat"] == "plain"
    assert sent["attachments"] == [
        {"contentType": "text/html", "content": "<p>memo &lt;help&gt; &amp; more</p>"}
    ]
    assert [m.text for m in teams.chat(person)] == ["You said: memo <help> & more"]
    everything = teams.messages(teams.conversation_of(person))
    assert [m.sender for m in everything] == ["user", "bot"]
    assert everything[1].reply_to_id == everything[0].id == sent["id"]


def test_action_execute_answer_shows_on_the_clicking_device_only(teams, bot, connector):
    """Teams: the Action.Execute answer card "is sent only to the specific client that
    requested it" (Universal Actions docs); the message itself changes with an edit."""
    person = teams.directory.installed()[0]
    msg = post_card(teams, connector, person, MEMO)
    done = card({"type": "TextBlock", "text": "Acknowledged 09:14"})
    bot.answer = json_answer({"statusCode": 200, "type": ADAPTIVE, "value": done})
    reply = teams.invoke_action(person, msg, "Acknowledge")
    sent = reply.request
    assert sent["type"] == "invoke" and sent["name"] == "adaptiveCard/action"
    assert sent["replyToId"] == msg.id
    assert sent["value"] == {
        "action": {"type": "Action.Execute", "verb": "ack", "data": {"memo": "M-7"}},
        "trigger": "manual",
    }
    assert reply.outcome == "card_replaced" and reply.card == done
    [now] = teams.chat(person)
    assert now.card_on_device(person.id) == done
    # another device, or a reload, shows the message as it is stored: unchanged
    assert now.content().startswith("Delete the app") and now.buttons() == ["Acknowledge"]
    assert now.edits == [] and now.card_on_device("someone else") == now.card()
    # a double click from a screen still showing the button is still sent
    again = teams.invoke_action(person, msg, "Acknowledge")
    assert again.status == 200 and len(bot.requests) == 2
    assert [i.outcome for i in teams.invokes(person)] == ["card_replaced", "card_replaced"]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (
            json_answer(
                {
                    "statusCode": 200,
                    "type": "application/vnd.microsoft.activity.message",
                    "value": "Already acknowledged",
                }
            ),
            "message_shown",
        ),
        (json_answer({"statusCode": 200}), "error_shown"),
        (json_answer({"type": "AdaptiveCard", "version": "1.5"}), "error_shown"),
        ((500, "boom", "text/plain"), "error_shown"),
        ((200, "", "application/json"), "error_shown"),
        (
            json_answer(
                {
                    "statusCode": 400,
                    "type": "application/vnd.microsoft.error",
                    "value": {"code": "BadRequest", "message": "Not yours"},
                }
            ),
            "error_shown",
        ),
    ],
)
def test_execute_answers_teams_does_not_use_leave_the_card(teams, bot, connector, answer, outcome):
    person = teams.directory.installed()[0]
    msg = post_card(teams, connector, person, MEMO)
    bot.answer = answer
    reply = teams.invoke_action(person, msg, "Acknowledge")
    assert reply.outcome == outcome
    assert teams.chat(person)[0].card() == MEMO
    if outcome == "message_shown":
        assert teams.shown(person) == ["Already acknowledged"]


def test_an_invoke_answered_too_late_is_ignored(teams, bot, connector):
    person = teams.directory.installed()[0]
    msg = post_card(teams, connector, person, MEMO)
    teams.invoke_timeout = 0.05

    def slow(req):
        time.sleep(0.15)  # a slow bot, not synchronisation
        return json_answer({"statusCode": 200, "type": ADAPTIVE, "value": card()})

    bot.answer = slow
    reply = teams.invoke_action(person, msg, "Acknowledge")
    assert reply.status == 200 and reply.outcome == "too_late"
    assert teams.chat(person)[0].card() == MEMO


def test_action_submit_posts_a_message_with_the_data_and_inputs(teams, bot, connector):
    person = teams.directory.installed()[0]
    c = card(
        {"type": "Input.Text", "id": "note", "label": "Note"},
        actions=[
            {"type": "Action.Submit", "title": "I've seen this", "data": {"seen": "R-3"}},
            {
                "type": "Action.Submit",
                "title": "Help",
                "data": {
                    "msteams": {
                        "type": "messageBack",
                        "text": "help",
                        "displayText": "Help please",
                        "value": {"cmd": "help"},
                    }
                },
            },
            {"type": "Action.OpenUrl", "title": "Open", "url": "https://example.com/m/7"},
        ],
    )
    msg = post_card(teams, connector, person, c)
    reply = teams.invoke_action(person, msg, "I've seen this", {"Note": "ok"})
    sent = reply.request
    assert sent["type"] == "message" and "text" not in sent
    assert sent["value"] == {"seen": "R-3", "note": "ok"} and sent["replyToId"] == msg.id
    back = teams.invoke_action(person, msg, "Help").request
    assert back["text"] == "help" and back["value"] == {"cmd": "help"}
    assert back["channelData"]["postBack"] is True
    user_lines = [m.text for m in teams.messages(msg.conversation_id) if m.sender == "user"]
    assert user_lines == ["Help please"]
    assert teams.invoke_action(person, msg, "Open").outcome == "client_only"
    assert len(bot.requests) == 2
    with pytest.raises(LookupError, match="no button"):
        teams.invoke_action(person, msg, "Nope")


COMPOSE = card(
    {"type": "TextBlock", "text": "Comms"},
    actions=[
        {
            "type": "Action.Submit",
            "title": "New memo",
            "data": {"msteams": {"type": "task/fetch"}, "open": "compose"},
        },
        {"type": "Action.Execute", "title": "Refresh", "verb": "refresh"},
    ],
)


def choice(*names):
    return [{"title": n, "value": n.lower().replace(" ", "-")} for n in names]


FORM = card(
    {
        "type": "Input.Text",
        "id": "title",
        "label": "Title",
        "isRequired": True,
        "errorMessage": "Give it a title",
    },
    {"type": "Input.Text", "id": "body", "label": "Message", "isMultiline": True},
    {
        "type": "Input.ChoiceSet",
        "id": "teams",
        "label": "Members of teams",
        "isMultiSelect": True,
        "choices": choice("Sales", "Legal", "Data"),
    },
    {
        "type": "Input.ChoiceSet",
        "id": "who",
        "label": "Audience",
        "style": "expanded",
        "choices": choice("People", "Everyone"),
    },
    {
        "type": "Input.Toggle",
        "id": "everyone",
        "label": "Everyone who has the app",
        "title": "Everyone",
    },
    {
        "type": "Input.Toggle",
        "id": "ack",
        "label": "Ask for acknowledgement",
        "title": "Ask",
        "valueOn": "yes",
        "valueOff": "no",
    },
    {"type": "Input.Date", "id": "by_date", "label": "Acknowledge by"},
    {"type": "Input.Time", "id": "by_time", "label": "At"},
    {"type": "Input.Number", "id": "n", "label": "Reminders", "min": 0, "max": 5},
    actions=[{"type": "Action.Submit", "title": "Send", "data": {"form": "compose"}}],
)


def task_continue(c: dict, title: str = "New memo") -> tuple[int, str, str]:
    return json_answer(
        {
            "task": {
                "type": "continue",
                "value": {
                    "title": title,
                    "height": "large",
                    "width": "medium",
                    "card": {"contentType": ADAPTIVE, "content": c},
                },
            }
        }
    )


def test_dialog_open_fill_by_label_errors_then_close(teams, bot, connector):
    person = teams.directory.installed()[0]
    msg = post_card(teams, connector, person, COMPOSE)
    answers = iter(
        [
            task_continue(FORM),
            task_continue(
                card(
                    {"type": "TextBlock", "text": "Pick an audience", "color": "attention"},
                    *FORM["body"],
                    actions=FORM["actions"],
                ),
            ),
            json_answer({"task": {"type": "message", "value": "Memo M-8 is on its way"}}),
        ]
    )
    bot.answer = lambda req: next(answers)
    opened = teams.open_dialog(person, msg, "New memo")
    fetch = opened.request
    assert fetch["name"] == "task/fetch" and fetch["replyToId"] == msg.id
    assert fetch["value"] == {
        "data": {"msteams": {"type": "task/fetch"}, "open": "compose"},
        "context": {"theme": "default"},
    }
    assert opened.outcome == "dialog_opened"
    [view] = teams.open_dialog_views(person)
    assert view["title"] == "New memo" and view["card"] == FORM

    missing = teams.submit_dialog(person, {"Message": "no title"})
    assert missing.outcome == "not_sent" and missing.errors_by_label == {"Title": "Give it a title"}
    assert len(bot.requests) == 1

    values = {
        "Title": "Delete the app",
        "Message": "By Friday",
        "Members of teams": ["Sales", "data"],
        "Audience": "Everyone",
        "Everyone who has the app": True,
        "Ask for acknowledgement": False,
        "Acknowledge by": dt.date(2026, 12, 4),
        "At": dt.time(17, 30),
        "Reminders": 3,
    }
    updated = teams.submit_dialog(person, values)
    submit = updated.request
    assert submit["name"] == "task/submit" and submit["replyToId"] == msg.id
    assert submit["value"]["data"] == {
        "form": "compose",
        "title": "Delete the app",
        "body": "By Friday",
        "teams": "sales,data",
        "who": "everyone",
        "everyone": "true",
        "ack": "no",
        "by_date": "2026-12-04",
        "by_time": "17:30",
        "n": "3",
    }
    assert updated.outcome == "dialog_updated"
    assert teams.open_dialog_views(person)[0]["card"]["body"][0]["text"] == "Pick an audience"

    closed = teams.submit_dialog(person, {"Title": "Delete the app", "Audience": "People"})
    assert closed.outcome == "dialog_closed" and closed.shown == "Memo M-8 is on its way"
    assert teams.open_dialog_views(person) == []
    assert teams.shown(person) == ["Memo M-8 is on its way"]
    assert [i.name for i in teams.invokes(person)] == ["task/fetch", "task/submit", "task/submit"]
    with pytest.raises(LookupError):
        teams.submit_dialog(person, {})


def test_dialog_edge_cases(teams, bot, connector):
    person = teams.directory.installed()[0]
    msg = post_card(teams, connector, person, COMPOSE)
    with pytest.raises(ValueError, match="does not open a dialog"):
        teams.open_dialog(person, msg, "Refresh")
    bot.answer = json_answer({"task": {"type": "continue", "value": {"title": "x"}}})
    assert teams.open_dialog(person, msg, "New memo").outcome == "error_shown"
    bot.answer = task_continue(FORM)
    teams.invoke_action(person, msg, "New memo")  # the same button through invoke_action
    assert teams.dialog(person) is not None
    with pytest.raises(LookupError, match="no input labelled"):
        teams.submit_dialog(person, {"Nope": 1})
    with pytest.raises(ValueError, match="not a choice"):
        teams.submit_dialog(person, {"Title": "t", "Audience": "Martians"})
    bot.answer = (200, "", "application/json")
    assert teams.submit_dialog(person, {"Title": "t"}).outcome == "dialog_closed"
    connector.call("DELETE", f"v3/conversations/{msg.conversation_id}/activities/{msg.id}")
    with pytest.raises(LookupError, match="deleted"):
        teams.invoke_action(person, msg, "Refresh")


def test_wait_for_wakes_on_bot_activity(teams, connector):
    import threading

    person = teams.directory.installed()[0]
    cid = connector.create(person.id).json()["id"]
    t = threading.Thread(
        target=lambda: connector.send(cid, {"type": "message", "text": "later"}), daemon=True
    )
    t.start()
    [msg] = teams.wait_for(lambda: teams.chat(person), timeout=5)
    assert msg.text == "later"
    t.join()
    with pytest.raises(TimeoutError):
        teams.wait_for(lambda: len(teams.chat(person)) > 1, timeout=0.1)


def test_a_message_action_on_a_persons_channel_post_fetches_then_submits(teams, bot, connector):
    team = teams.directory.teams[1]
    channel = teams.directory.add_channel(team, "Announcements")
    author, staff = (teams.directory.person(m) for m in team.members[:2])
    post = teams.post_in_channel(author, channel, "Reset your VPN password <today>")
    assert bot.requests == []  # a post that does not mention the bot is not sent to it
    assert [m.id for m in teams.messages(channel)] == [post.id] and post.sender == "user"

    answers = iter(
        [
            task_continue(FORM, "Track as memo"),
            json_answer({"task": {"type": "message", "value": "M-1 is tracking this post"}}),
        ]
    )
    bot.answer = lambda req: next(answers)
    opened = teams.message_action(staff, post, "trackAsMemo")
    fetch = opened.request
    assert opened.outcome == "dialog_opened" and fetch["name"] == "composeExtension/fetchTask"
    assert fetch["conversation"]["id"] == f"{channel};messageid={post.id}"
    assert fetch["conversation"]["conversationType"] == "channel"
    assert fetch["channelData"]["channel"] == {"id": channel}
    assert fetch["channelData"]["team"]["id"] == team.id
    value = fetch["value"]
    assert value["commandId"] == "trackAsMemo" and value["commandContext"] == "message"
    payload = value["messagePayload"]
    assert payload["id"] == post.id and payload["replyToId"] is None
    assert payload["from"]["user"] == {
        "userIdentityType": "aadUser",
        "id": author.aad_object_id,
        "displayName": author.name,
    }
    assert payload["body"] == {
        "contentType": "html",
        "content": "<p>Reset your VPN password &lt;today&gt;</p>",
    }
    assert "data" not in value

    closed = teams.submit_dialog(staff, {"Title": "Reset it"})
    submit = closed.request
    assert submit["name"] == "composeExtension/submitAction"
    assert submit["value"]["messagePayload"] == payload
    assert submit["value"]["data"]["title"] == "Reset it"
    assert closed.outcome == "dialog_closed" and closed.shown == "M-1 is tracking this post"
    assert [i.name for i in teams.invokes(staff)] == [
        "composeExtension/fetchTask",
        "composeExtension/submitAction",
    ]
    # Only the team's members see the post; a message action is on channel posts only.
    outsider = next(p for p in teams.directory.people if not team.has_member(p.id))
    with pytest.raises(LookupError):
        teams.message_action(outsider, post, "trackAsMemo")
    with pytest.raises(PermissionError):
        teams.post_in_channel(outsider, channel, "Hi")
