"""Acting as Slack toward the bot: what is sent (seen by a tiny receiver) and how answers are applied."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from tests.standin.conftest import SECRET, json_answer

verifier = SignatureVerifier(SECRET)


def verified(received) -> bool:
    return verifier.is_valid(
        body=received.body.decode(),
        timestamp=received.headers["x-slack-request-timestamp"],
        signature=received.headers["x-slack-signature"],
    )


def plain(text):
    return {"type": "plain_text", "text": text}


def opts(*names):
    return [{"text": plain(n), "value": n.lower().replace(" ", "-")} for n in names]


def inp(label, element, block_id=None, optional=False):
    block = {"type": "input", "label": plain(label), "element": element, "optional": optional}
    if block_id:
        block["block_id"] = block_id
    return block


EVERY_KIND = {
    "type": "modal",
    "callback_id": "compose",
    "private_metadata": "memo-draft-1",
    "title": plain("New memo"),
    "submit": plain("Send"),
    "close": plain("Cancel"),
    "blocks": [
        inp("Title", {"type": "plain_text_input", "action_id": "title"}, "title"),
        inp(
            "Message", {"type": "plain_text_input", "multiline": True, "action_id": "body"}, "body"
        ),
        inp("Owner", {"type": "users_select", "action_id": "owner"}, "owner"),
        inp(
            "People", {"type": "multi_users_select", "action_id": "people"}, "people", optional=True
        ),
        inp(
            "Where", {"type": "conversations_select", "action_id": "where"}, "where", optional=True
        ),
        inp(
            "Members of channels",
            {"type": "multi_conversations_select", "action_id": "chans"},
            "chans",
            optional=True,
        ),
        inp("Channel", {"type": "channels_select", "action_id": "chan"}, "chan", optional=True),
        inp(
            "Channels",
            {"type": "multi_channels_select", "action_id": "mchans"},
            "mchans",
            optional=True,
        ),
        inp(
            "Priority",
            {"type": "static_select", "action_id": "prio", "options": opts("Low", "High")},
            "prio",
        ),
        inp(
            "Tags",
            {
                "type": "multi_static_select",
                "action_id": "tags",
                "options": opts("Security", "HR", "IT"),
            },
            "tags",
            optional=True,
        ),
        inp(
            "Everyone in the workspace",
            {"type": "checkboxes", "action_id": "all", "options": opts("Everyone")},
            "all",
            optional=True,
        ),
        inp(
            "Options",
            {
                "type": "checkboxes",
                "action_id": "o",
                "options": opts("Ask for acknowledgement", "Pin"),
            },
            "o",
            optional=True,
        ),
        inp(
            "Mode",
            {"type": "radio_buttons", "action_id": "mode", "options": opts("Now", "Later")},
            "mode",
        ),
        inp("Date", {"type": "datepicker", "action_id": "date"}, "date", optional=True),
        inp("Time", {"type": "timepicker", "action_id": "time"}, "time", optional=True),
        inp("Acknowledge by", {"type": "datetimepicker", "action_id": "by"}, "by", optional=True),
        inp(
            "Reason",
            {"type": "plain_text_input", "action_id": "reason", "initial_value": "Sent in error"},
            "reason",
        ),
        inp(
            "Notes", {"type": "plain_text_input", "action_id": "notes"}
        ),  # Slack assigns the block_id
    ],
}


def open_modal(slack, client, user, view=None):
    trigger = slack.workspace.issue_trigger(user)
    return client.views_open(trigger_id=trigger, view=view or EVERY_KIND)["view"]


# ------------------------------------------------------------------ commands
def test_slash_command_carries_every_field_and_is_signed(slack, receiver, humans):
    user = humans[0]
    reply = slack.command(user, "/memo", "status M-7")
    assert reply.status == 200
    got = receiver.last()
    assert got.path == "/slack/events" and verified(got)
    assert got.headers["content-type"] == "application/x-www-form-urlencoded"
    form = got.form
    person = slack.directory.person(user)
    assert form["command"] == "/memo" and form["text"] == "status M-7"
    assert form["user_id"] == user and form["user_name"] == person.name
    assert form["team_id"] == slack.team_id and form["team_domain"] == "errata-sandbox"
    assert form["channel_id"].startswith("D") and form["channel_name"] == "directmessage"
    assert form["api_app_id"] == slack.directory.app_id and form["is_enterprise_install"] == "false"
    assert form["response_url"].startswith(slack.url + "/hooks/commands/")
    assert form["trigger_id"] and form["token"]
    slack.command(user, "/retract M-7 wrong audience")
    assert (
        receiver.last().form["command"] == "/retract"
        and receiver.last().form["text"] == "M-7 wrong audience"
    )


def test_the_immediate_answer_to_a_command_is_an_ephemeral_message(slack, receiver, humans):
    user = humans[0]
    receiver.answer = (200, "Only comms staff may send memos.", "text/plain;charset=utf-8")
    slack.command(user, "/memo")
    [e] = slack.ephemerals(user)
    assert (
        e.text == "Only comms staff may send memos."
        and e.source == "command_ack"
        and e.is_ephemeral
    )
    receiver.answer = json_answer(
        {
            "text": "fallback",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*M-7*: 3 of 5"}}],
        }
    )
    slack.command(user, "/memo", "status M-7")
    assert "*M-7*: 3 of 5" in slack.ephemerals(user)[-1].content()
    receiver.answer = (200, "", "text/plain")
    slack.command(user, "/memo", "help")
    assert len(slack.ephemerals(user)) == 2  # an empty ack shows nothing
    assert slack.dm(user) == []


def test_an_answer_slower_than_three_seconds_is_ignored(slack, receiver, humans):
    slack.ack_timeout = 0.05

    def slow(_):
        time.sleep(0.1)
        return 200, "too late", "text/plain"

    receiver.answer = slow
    reply = slack.command(humans[0], "/memo")
    assert reply.status == 200 and reply.elapsed > 0.05
    assert slack.ephemerals(humans[0]) == []


def test_response_url_from_a_command_with_slack_sdks_webhook_client(slack, receiver, humans):
    user = humans[0]
    slack.command(user, "/memo", "report M-7")
    url = receiver.last().form["response_url"]
    resp = WebhookClient(url).send(text="Working on it")
    assert resp.status_code == 200 and json.loads(resp.body) == {"ok": True}
    assert (
        slack.ephemerals(user)[-1].text == "Working on it"
        and slack.ephemerals(user)[-1].source == "response_url"
    )
    general = next(c for c in slack.directory.channels if c.is_general)
    slack.command(user, "/memo", channel_id=general.id)
    WebhookClient(receiver.last().form["response_url"]).send(
        text="For all", response_type="in_channel"
    )
    assert slack.messages(general.id)[-1].text == "For all"
    for _ in range(4):
        assert WebhookClient(url).send(text="again").status_code == 200
    assert WebhookClient(url).send(text="sixth").status_code == 404  # 5 uses per response_url


# -------------------------------------------------------------------- clicks
def test_click_sends_block_actions_and_respond_can_replace_or_delete(
    slack, client, receiver, humans
):
    person = humans[0]
    posted = client.chat_postMessage(
        channel=person,
        text="Delete the app",
        blocks=[
            {"type": "section", "text": {"type": "mrkdwn", "text": "Delete the app"}},
            {
                "type": "actions",
                "block_id": "acts",
                "elements": [
                    {
                        "type": "button",
                        "text": plain("Acknowledge"),
                        "action_id": "ack",
                        "value": "copy:9",
                        "style": "primary",
                    }
                ],
            },
        ],
        metadata={"event_type": "errata_copy", "event_payload": {"copy": 9}},
    )
    msg = slack.dm(person)[0]
    reply = slack.click(person, msg, "Acknowledge")
    assert reply.status == 200
    got = receiver.last()
    assert verified(got) and got.headers["content-type"] == "application/x-www-form-urlencoded"
    p = got.payload
    assert (
        p["type"] == "block_actions"
        and p["user"]["id"] == person
        and p["team"]["id"] == slack.team_id
    )
    assert p["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": posted["channel"],
        "is_ephemeral": False,
    }
    assert p["channel"] == {"id": posted["channel"], "name": "directmessage"}
    assert p["message"]["ts"] == posted["ts"] and p["message"]["blocks"][1]["block_id"] == "acts"
    [action] = p["actions"]
    assert (
        action["action_id"] == "ack"
        and action["block_id"] == "acts"
        and action["value"] == "copy:9"
    )
    assert (
        action["type"] == "button"
        and action["text"]["text"] == "Acknowledge"
        and action["action_ts"]
    )
    assert p["trigger_id"] and p["response_url"].startswith(slack.url + "/hooks/actions/")
    assert p["state"] == {"values": {}}
    with pytest.raises(LookupError):
        slack.click(person, msg, "Snooze")
    # the bot answers through the response_url, as bolt's respond() does
    WebhookClient(p["response_url"]).send(
        text="Acknowledged",
        replace_original=True,
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Acknowledged at 10:02"}}],
    )
    now = slack.dm(person)[0]
    assert now.buttons() == [] and "Acknowledged at 10:02" in now.content() and len(now.edits) == 1
    assert now.metadata["event_type"] == "errata_copy"
    WebhookClient(p["response_url"]).send_dict({"delete_original": True})
    assert slack.dm(person) == []


def test_click_on_an_ephemeral_message_and_a_message_shortcut(slack, client, receiver, humans):
    person = humans[1]
    dm = client.conversations_open(users=person)["channel"]["id"]
    client.chat_postEphemeral(
        channel=dm,
        user=person,
        text="confirm?",
        blocks=[
            {
                "type": "actions",
                "elements": [{"type": "button", "text": plain("Yes"), "action_id": "yes"}],
            }
        ],
    )
    slack.click(person, slack.ephemerals(person)[0], "Yes")
    p = receiver.last().payload
    assert p["container"]["is_ephemeral"] is True and "message" not in p
    WebhookClient(p["response_url"]).send(text="Done", replace_original=True)
    assert slack.ephemerals(person)[0].text == "Done"
    msg = slack.inject_message(dm, person, "please retract this")
    slack.message_shortcut(person, msg, "retract_from_message")
    p = receiver.last().payload
    assert p["type"] == "message_action" and p["callback_id"] == "retract_from_message"
    assert (
        p["message_ts"] == msg.ts
        and p["message"]["text"] == "please retract this"
        and p["trigger_id"]
    )


# --------------------------------------------------------------------- views
def test_trigger_ids_are_single_use_and_expire(slack, client, receiver, humans):
    user = humans[0]
    slack.command(user, "/memo")
    trigger = receiver.last().form["trigger_id"]
    view = client.views_open(trigger_id=trigger, view=EVERY_KIND)["view"]
    assert (
        view["id"].startswith("V")
        and view["root_view_id"] == view["id"]
        and view["state"] == {"values": {}}
    )
    assert (
        view["hash"]
        and view["private_metadata"] == "memo-draft-1"
        and view["callback_id"] == "compose"
    )
    assert slack.open_views(user)[0]["id"] == view["id"]
    with pytest.raises(SlackApiError) as e:
        client.views_open(trigger_id=trigger, view=EVERY_KIND)
    assert e.value.response["error"] == "exchanged_trigger_id"
    stale = slack.workspace.issue_trigger(user)
    slack.workspace.triggers[stale].issued -= 3.5
    with pytest.raises(SlackApiError) as e:
        client.views_open(trigger_id=stale, view=EVERY_KIND)
    assert e.value.response["error"] == "expired_trigger_id"
    with pytest.raises(SlackApiError) as e:
        client.views_open(trigger_id="123.456.made-up", view=EVERY_KIND)
    assert e.value.response["error"] == "invalid_trigger_id"


def test_view_validation_update_hash_and_home(slack, client, humans):
    user = humans[0]
    too_long = dict(EVERY_KIND, title=plain("A title that is far too long"))
    with pytest.raises(SlackApiError) as e:
        open_modal(slack, client, user, too_long)
    assert e.value.response["error"] == "invalid_arguments"
    assert "[json-pointer:/view/title/text]" in e.value.response["response_metadata"]["messages"][0]
    with pytest.raises(SlackApiError) as e:
        open_modal(slack, client, user, dict(EVERY_KIND, private_metadata="x" * 3001))
    assert e.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as e:
        open_modal(slack, client, user, dict(EVERY_KIND, blocks=[{"type": "divider"}] * 101))
    assert e.value.response["error"] == "invalid_arguments"
    view = open_modal(slack, client, user)
    updated = client.views_update(
        view_id=view["id"], hash=view["hash"], view=dict(EVERY_KIND, title=plain("Sending..."))
    )["view"]
    assert updated["id"] == view["id"] and updated["hash"] != view["hash"]
    with pytest.raises(SlackApiError) as e:
        client.views_update(view_id=view["id"], hash=view["hash"], view=EVERY_KIND)
    assert e.value.response["error"] == "hash_conflict"
    home = {
        "type": "home",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Your memos"}},
            {
                "type": "actions",
                "elements": [{"type": "button", "text": plain("Refresh"), "action_id": "refresh"}],
            },
        ],
    }
    first = client.views_publish(user_id=user, view=home)["view"]
    again = client.views_publish(user_id=user, view=home)["view"]
    assert (
        first["id"] == again["id"] and slack.home(user)["blocks"][0]["text"]["text"] == "Your memos"
    )


def test_submit_view_fills_every_element_kind_by_label(slack, client, receiver, humans):
    user = humans[0]
    view = open_modal(slack, client, user)
    general = next(c for c in slack.directory.channels if c.is_general)
    deadline = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    reply = slack.submit_view(
        user,
        {
            "Title": "Delete the chat app",
            "Message": "Please delete it\nby Friday.",
            "Owner": humans[1],
            "People": [humans[2], humans[3]],
            "Where": general.id,
            "Members of channels": [general.id],
            "Channel": general.id,
            "Channels": [general.id],
            "Priority": "High",
            "Tags": ["Security", "it"],
            "Everyone in the workspace": True,
            "Options": ["Ask for acknowledgement"],
            "Mode": "Later",
            "Date": "2026-12-01",
            "Time": "09:30",
            "Acknowledge by": deadline,
        },
    )
    assert reply.status == 200 and reply.errors is None
    p = receiver.last().payload
    assert verified(receiver.last())
    assert p["type"] == "view_submission" and p["user"]["id"] == user and p["response_urls"] == []
    v = p["view"]
    assert (
        v["id"] == view["id"]
        and v["callback_id"] == "compose"
        and v["private_metadata"] == "memo-draft-1"
    )
    assert (
        v["root_view_id"] == view["id"]
        and v["hash"]
        and v["app_id"]
        and v["bot_id"]
        and v["title"]["text"] == "New memo"
    )
    s = v["state"]["values"]
    assert s["title"]["title"] == {"type": "plain_text_input", "value": "Delete the chat app"}
    assert s["body"]["body"]["value"] == "Please delete it\nby Friday."
    assert s["owner"]["owner"] == {"type": "users_select", "selected_user": humans[1]}
    assert s["people"]["people"] == {
        "type": "multi_users_select",
        "selected_users": [humans[2], humans[3]],
    }
    assert s["where"]["where"] == {
        "type": "conversations_select",
        "selected_conversation": general.id,
    }
    assert s["chans"]["chans"] == {
        "type": "multi_conversations_select",
        "selected_conversations": [general.id],
    }
    assert s["chan"]["chan"] == {"type": "channels_select", "selected_channel": general.id}
    assert s["mchans"]["mchans"] == {
        "type": "multi_channels_select",
        "selected_channels": [general.id],
    }
    assert s["prio"]["prio"] == {
        "type": "static_select",
        "selected_option": {"text": plain("High"), "value": "high"},
    }
    assert [o["value"] for o in s["tags"]["tags"]["selected_options"]] == ["security", "it"]
    assert s["all"]["all"] == {
        "type": "checkboxes",
        "selected_options": [{"text": plain("Everyone"), "value": "everyone"}],
    }
    assert [o["value"] for o in s["o"]["o"]["selected_options"]] == ["ask-for-acknowledgement"]
    assert s["mode"]["mode"]["selected_option"]["value"] == "later"
    assert s["date"]["date"] == {"type": "datepicker", "selected_date": "2026-12-01"}
    assert s["time"]["time"] == {"type": "timepicker", "selected_time": "09:30"}
    assert s["by"]["by"] == {
        "type": "datetimepicker",
        "selected_date_time": int(deadline.timestamp()),
    }
    assert s["reason"]["reason"] == {
        "type": "plain_text_input",
        "value": "Sent in error",
    }  # its initial value
    notes_block = next(b for b in v["blocks"] if b["label"]["text"] == "Notes")
    assert s[notes_block["block_id"]]["notes"] == {
        "type": "plain_text_input",
        "value": None,
    }  # left empty
    assert slack.open_views(user) == []  # an empty 200 closes the modal


def test_submit_view_unfilled_inputs_and_unknown_labels(slack, client, receiver, humans):
    user = humans[0]
    open_modal(slack, client, user)
    slack.submit_view(user, {"Everyone in the workspace": False})
    s = receiver.last().payload["view"]["state"]["values"]
    assert (
        s["all"]["all"]["selected_options"] == [] and s["people"]["people"]["selected_users"] == []
    )
    assert (
        s["owner"]["owner"]["selected_user"] is None and s["date"]["date"]["selected_date"] is None
    )
    assert (
        s["prio"]["prio"]["selected_option"] is None and s["by"]["by"]["selected_date_time"] is None
    )
    open_modal(slack, client, user)
    with pytest.raises(KeyError, match="no input labelled 'Audience'"):
        slack.submit_view(user, {"Audience": "everyone"})
    with pytest.raises(ValueError, match="no option 'Urgent'"):
        slack.submit_view(user, {"Priority": "Urgent"})
    slack.close_view(user)
    with pytest.raises(LookupError):
        slack.submit_view(user, {"Title": "x"}, wait=0.05)


def test_view_submission_answers_drive_the_modal_stack(slack, client, receiver, humans):
    user = humans[0]
    open_modal(slack, client, user)
    receiver.answer = json_answer(
        {"response_action": "errors", "errors": {"people": "Choose at least one audience"}}
    )
    reply = slack.submit_view(user, {"Title": "x"})
    assert reply.errors == {"people": "Choose at least one audience"}
    assert reply.errors_by_label == {"People": "Choose at least one audience"}
    assert len(slack.open_views(user)) == 1  # stays open
    receiver.answer = json_answer(
        {
            "response_action": "update",
            "view": {
                "type": "modal",
                "title": plain("Sent"),
                "blocks": [
                    {"type": "section", "text": {"type": "mrkdwn", "text": "M-1 is on its way"}}
                ],
            },
        }
    )
    slack.submit_view(user, {"Title": "x"})
    [top] = slack.open_views(user)
    assert top["title"]["text"] == "Sent"
    receiver.answer = json_answer(
        {
            "response_action": "push",
            "view": {
                "type": "modal",
                "title": plain("Confirm"),
                "submit": plain("Yes"),
                "blocks": [inp("Reason", {"type": "plain_text_input", "action_id": "r"})],
            },
        }
    )
    slack.submit_view(user, {})
    assert [v["title"]["text"] for v in slack.open_views(user)] == ["Sent", "Confirm"]
    assert slack.open_views(user)[1]["previous_view_id"] == top["id"]
    receiver.answer = json_answer({"response_action": "clear"})
    slack.submit_view(user, {"Reason": "because"})
    assert slack.open_views(user) == []


def test_modal_with_no_submit_for_inputs_is_refused(slack, client, humans):
    view = dict(EVERY_KIND)
    del view["submit"]
    with pytest.raises(SlackApiError) as e:
        open_modal(slack, client, humans[0], view)
    assert e.value.response["error"] == "invalid_arguments"


# -------------------------------------------------------------------- events
def test_events_home_and_retries(slack, client, receiver, humans):
    user = humans[0]
    reply = slack.send_event(
        {"type": "app_mention", "user": user, "text": "hi", "channel": "C1"}, event_id="Ev0001"
    )
    assert reply.status == 200
    got = receiver.last()
    assert verified(got) and got.headers["content-type"] == "application/json"
    env = got.json()
    assert (
        env["type"] == "event_callback"
        and env["event_id"] == "Ev0001"
        and env["team_id"] == slack.team_id
    )
    assert env["authorizations"][0]["user_id"] == slack.bot_user_id and env["event"]["event_ts"]
    assert "x-slack-retry-num" not in got.headers
    slack.send_event(
        {"type": "app_mention", "user": user},
        retry_num=1,
        retry_reason="http_timeout",
        event_id="Ev0001",
    )
    assert (
        receiver.last().headers["x-slack-retry-num"] == "1"
        and receiver.last().headers["x-slack-retry-reason"] == "http_timeout"
    )
    slack.open_home(user)
    ev = receiver.last().json()["event"]
    assert (
        ev["type"] == "app_home_opened"
        and ev["tab"] == "home"
        and ev["channel"].startswith("D")
        and "view" not in ev
    )
    client.views_publish(
        user_id=user,
        view={
            "type": "home",
            "blocks": [
                {
                    "type": "actions",
                    "elements": [
                        {"type": "button", "text": plain("Refresh"), "action_id": "refresh"}
                    ],
                }
            ],
        },
    )
    slack.open_home(user)
    assert receiver.last().json()["event"]["view"]["type"] == "home"
    slack.click_home(user, "Refresh")
    p = receiver.last().payload
    assert (
        p["container"]["type"] == "view"
        and p["view"]["type"] == "home"
        and p["actions"][0]["action_id"] == "refresh"
    )
    assert "response_url" not in p


def test_raw_forged_and_stale_requests(slack, receiver):
    body = "command=%2Fmemo&text="
    stale = slack.sign(body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid(
        body, stale["X-Slack-Request-Timestamp"], stale["X-Slack-Signature"]
    )  # too old
    forged = slack.sign(body, secret="not-the-secret")
    good = slack.sign(body)
    assert verifier.is_valid(body, good["X-Slack-Request-Timestamp"], good["X-Slack-Signature"])
    assert forged["X-Slack-Signature"] != good["X-Slack-Signature"]
    receiver.answer = (401, '{"error":"invalid request"}', "application/json")
    reply = slack.post_raw(body, {"Content-Type": "application/x-www-form-urlencoded", **forged})
    assert reply.status == 401 and reply.json() == {"error": "invalid request"}
    assert receiver.last().headers["x-slack-signature"] == forged["X-Slack-Signature"]


def test_a_stale_snapshot_can_still_be_clicked(slack, client, receiver, humans):
    person = humans[2]
    blocks = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": plain("Acknowledge"), "action_id": "ack", "value": "c"}
            ],
        }
    ]
    posted = client.chat_postMessage(channel=person, text="memo", blocks=blocks)
    before = slack.dm(person)[0]
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="RETRACTED", blocks=[])
    slack.click(person, before, "Acknowledge")  # the screen had not refreshed yet
    p = receiver.last().payload
    assert p["actions"][0]["action_id"] == "ack" and p["message"]["text"] == "memo"
    slack.click(person, slack.dm(person)[0], "Acknowledge")  # a double click racing the edit
    assert receiver.last().payload["actions"][0]["action_id"] == "ack"
    with pytest.raises(LookupError, match="no button 'Snooze'"):
        slack.click(person, slack.dm(person)[0], "Snooze")  # no version ever had it
    client.chat_delete(channel=posted["channel"], ts=posted["ts"])
    with pytest.raises(LookupError, match="deleted"):
        slack.click(person, before, "Acknowledge")
