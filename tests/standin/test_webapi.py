"""The Web API over real HTTP with slack_sdk's WebClient: shapes, error codes, recording."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.standin.conftest import TOKEN


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(SlackApiError) as e:
        call(*args, **kwargs)
    return e.value.response.data


def section(text: str, **extra) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(text: str, action_id: str = "a", value: str = "v") -> dict:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }


# ----------------------------------------------------------------- auth & basics
def test_auth_test_describes_the_bot(slack, client):
    r = client.auth_test().data
    assert r["ok"] and r["user_id"] == slack.bot_user_id and r["team_id"] == slack.team_id
    assert r["bot_id"].startswith("B") and r["url"] == "https://errata-sandbox.slack.com/"
    assert r["is_enterprise_install"] is False


def test_wrong_or_missing_token_and_unknown_method(slack):
    assert (
        error_of(WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test)["error"]
        == "invalid_auth"
    )
    assert error_of(WebClient(base_url=slack.api_url).auth_test)["error"] == "not_authed"
    c = WebClient(token=TOKEN, base_url=slack.api_url)
    assert error_of(c.api_call, "chat.frobnicate")["error"] == "unknown_method"
    # the token may also come as a form field, and an extra team_id is tolerated (bolt adds it)
    body = f"token={TOKEN}&team_id={slack.team_id}".encode()
    with urllib.request.urlopen(
        urllib.request.Request(slack.api_url + "auth.test", data=body)
    ) as resp:
        assert json.loads(resp.read())["ok"] is True
    assert WebClient(token=TOKEN, base_url=slack.api_url, team_id=slack.team_id).users_info(
        user="USLACKBOT"
    )["ok"]


# ---------------------------------------------------------------------- users
def test_users_list_pagination_covers_every_member_once(slack, client):
    seen, cursor, pages = [], None, 0
    while True:
        r = client.users_list(limit=37, cursor=cursor)
        seen.extend(m["id"] for m in r["members"])
        pages += 1
        cursor = r["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(p.id for p in slack.directory.people)
    assert len(seen) == len(set(seen)) and pages > 1
    assert len(client.users_list()["members"]) == 100  # default page
    assert error_of(client.users_list, cursor="not-a-cursor")["error"] == "invalid_cursor"


def test_users_info(slack, client, humans):
    assert client.users_info(user=humans[0])["user"]["id"] == humans[0]
    assert error_of(client.users_info, user="U0000000000")["error"] == "user_not_found"


# -------------------------------------------------------------- conversations
def test_conversations_members_info_and_not_found(slack, client):
    general = next(c for c in slack.directory.channels if c.is_general)
    got, cursor = [], None
    while True:
        r = client.conversations_members(channel=general.id, limit=25, cursor=cursor)
        got.extend(r["members"])
        cursor = r["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert got == general.members
    info = client.conversations_info(channel=general.id, include_num_members=True)["channel"]
    assert info["is_general"] and info["num_members"] == len(general.members) and info["is_member"]
    hidden = (
        next(c for c in slack.directory.channels if c.is_private and not c.bot_is_member)
        if any(c.is_private and not c.bot_is_member for c in slack.directory.channels)
        else slack.directory.add_channel("hush", [], is_private=True, bot_member=False)
    )
    assert error_of(client.conversations_info, channel=hidden.id)["error"] == "channel_not_found"
    assert (
        error_of(client.conversations_members, channel="C0NOPE00000")["error"]
        == "channel_not_found"
    )


def test_conversations_open_gives_a_stable_dm_id(slack, client, humans):
    first = client.conversations_open(users=humans[0])["channel"]["id"]
    again = client.conversations_open(users=humans[0])
    assert first.startswith("D") and again["channel"]["id"] == first and again["already_open"]
    assert slack.dm_channel(humans[0]) == first
    assert error_of(client.conversations_open, users="U0000000000")["error"] == "user_not_found"
    assert client.conversations_open(users=humans[1], return_im=True)["channel"]["is_im"] is True


# ---------------------------------------------------------- chat.postMessage
def test_post_to_a_user_id_lands_in_their_dm(slack, client, humans):
    person = humans[3]
    assert slack.dm_channel(person) is None and slack.dm(person) == []
    r = client.chat_postMessage(
        channel=person,
        text="Memo",
        blocks=[section("*Memo*", accessory=button("Acknowledge", "ack", "M-1"))],
    )
    assert r["channel"].startswith("D") and r["channel"] == slack.dm_channel(person)
    assert re.match(r"^\d{10}\.\d{6}$", r["ts"])
    msg = r["message"]
    assert (
        msg["bot_id"] == slack.directory.bot_id
        and msg["user"] == slack.bot_user_id
        and msg["ts"] == r["ts"]
    )
    assert msg["blocks"][0]["block_id"]  # Slack fills in block ids
    [m] = slack.dm(person)
    assert m.ts == r["ts"] and m.channel == r["channel"] and m.text == "Memo"
    assert m.buttons() == [
        {
            "text": "Acknowledge",
            "action_id": "ack",
            "value": "M-1",
            "block_id": m.blocks[0]["block_id"],
            "style": None,
            "url": None,
        }
    ]
    assert "*Memo*" in m.content() and "Acknowledge" in m.content()
    # the D id works too, and one call per copy is what gets recorded
    client.chat_postMessage(channel=r["channel"], text="second")
    assert [x.text for x in slack.dm(person)] == ["Memo", "second"]
    assert [c.args["channel"] for c in slack.calls("chat.postMessage")] == [person, r["channel"]]


def test_post_errors_and_deactivated_users(slack, client):
    d = slack.directory
    assert (
        error_of(client.chat_postMessage, channel="U0000000000", text="x")["error"]
        == "channel_not_found"
    )
    assert (
        error_of(client.chat_postMessage, channel="D0000000000", text="x")["error"]
        == "channel_not_found"
    )
    assert (
        error_of(client.chat_postMessage, channel=d.bots()[0], text="x")["error"] == "cannot_dm_bot"
    )
    assert (
        error_of(client.chat_postMessage, channel=d.people[0].id, text="x")["error"]
        == "cannot_dm_bot"
    )  # our own bot
    gone = d.deactivated()[0]
    assert client.chat_postMessage(channel=gone, text="still delivered")["ok"]  # as Slack does
    assert error_of(client.chat_postMessage, channel=d.active_humans()[0])["error"] == "no_text"
    hidden = d.add_channel("hush", [d.active_humans()[0]], is_private=True, bot_member=False)
    assert (
        error_of(client.chat_postMessage, channel=hidden.id, text="x")["error"] == "not_in_channel"
    )
    public = d.add_channel("open-plan", [], bot_member=False)
    assert client.chat_postMessage(channel=public.id, text="x")["channel"] == public.id
    bad_meta = error_of(
        client.chat_postMessage, channel=public.id, text="x", metadata={"event_type": "memo"}
    )
    assert bad_meta["error"] == "invalid_metadata_format"


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([section("x")] * 51, "/blocks"),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "/blocks/0/text/text",
        ),
        ([section("s" * 3001)], "/blocks/0/text/text"),
        ([{"type": "actions", "elements": [button("b" * 76)]}], "/blocks/0/elements/0/text/text"),
        (
            [{"type": "actions", "elements": [button("ok", value="v" * 2001)]}],
            "/blocks/0/elements/0/value",
        ),
        (
            [{"type": "actions", "elements": [button("ok", action_id="a" * 256)]}],
            "/blocks/0/elements/0/action_id",
        ),
    ],
)
def test_block_kit_limits_give_invalid_blocks(client, humans, blocks, pointer):
    err = error_of(client.chat_postMessage, channel=humans[0], text="t", blocks=blocks)
    assert err["error"] == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}]" in m for m in err["response_metadata"]["messages"]), err


def test_long_text_is_truncated_with_a_warning(slack, client, humans):
    r = client.chat_postMessage(channel=humans[0], text="x" * 40_050)
    assert r["warning"] == "message_truncated" and r["response_metadata"]["warnings"] == [
        "message_truncated"
    ]
    assert len(slack.dm(humans[0])[0].text) == 40_000


def test_blocks_and_metadata_as_json_strings_in_a_form_body(slack, humans):
    blocks = json.dumps([section("from a form")])
    meta = json.dumps({"event_type": "errata_copy", "event_payload": {"copy": 7}})
    body = f"channel={humans[0]}&text=t&blocks={urllib.parse.quote(blocks)}&metadata={urllib.parse.quote(meta)}"
    req = urllib.request.Request(
        slack.api_url + "chat.postMessage",
        data=body.encode(),
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(req) as resp:
        assert json.loads(resp.read())["ok"]
    [m] = slack.dm(humans[0])
    assert m.metadata == {"event_type": "errata_copy", "event_payload": {"copy": 7}}
    assert "from a form" in m.content()
    assert slack.calls("chat.postMessage")[0].args["metadata"]["event_type"] == "errata_copy"


def test_ts_are_unique_and_increasing_under_concurrency(slack, humans):
    results, lock = [], threading.Lock()

    def worker(i):
        c = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
        for j in range(15):
            ts = c.chat_postMessage(channel=humans[(i * 15 + j) % len(humans)], text="x")["ts"]
            with lock:
                results.append(ts)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 120 and len(set(results)) == 120
    per_call = [c for c in slack.calls("chat.postMessage") if c.ok]
    assert len(per_call) == 120


# ---------------------------------------------------- update, delete, history
def test_chat_update_edits_keeps_history_and_refuses_user_ids(slack, client, humans):
    person = humans[0]
    meta = {"event_type": "errata_copy", "event_payload": {"copy": 1}}
    r = client.chat_postMessage(
        channel=person,
        text="Delete the app",
        blocks=[section("Delete the app", accessory=button("Acknowledge"))],
        metadata=meta,
    )
    u = client.chat_update(
        channel=r["channel"],
        ts=r["ts"],
        text="RETRACTED",
        blocks=[
            {"type": "header", "text": {"type": "plain_text", "text": "RETRACTED: sent in error"}}
        ],
    )
    assert (
        u["ok"] and u["channel"] == r["channel"] and u["ts"] == r["ts"] and u["text"] == "RETRACTED"
    )
    [m] = slack.dm(person)
    assert "RETRACTED: sent in error" in m.content() and m.buttons() == []
    assert m.metadata == meta  # kept when not sent again
    assert len(m.edits) == 1 and m.edits[0].buttons()[0]["text"] == "Acknowledge"
    assert m.updated_at is not None and m.updated_at >= m.posted_at
    assert (
        error_of(client.chat_update, channel=person, ts=r["ts"], text="x")["error"]
        == "channel_not_found"
    )
    assert (
        error_of(client.chat_update, channel=r["channel"], ts="1.000001", text="x")["error"]
        == "message_not_found"
    )
    theirs = slack.inject_message(r["channel"], person, "hello bot")
    assert (
        error_of(client.chat_update, channel=r["channel"], ts=theirs.ts, text="x")["error"]
        == "cant_update_message"
    )
    assert client.chat_update(
        channel=r["channel"], ts=r["ts"], text="t", metadata={}
    )  # {} removes metadata
    assert slack.dm(person)[0].metadata is None


def test_delete_permalink_ephemeral_and_history(slack, client, humans):
    person = humans[1]
    first = client.chat_postMessage(
        channel=person, text="one", metadata={"event_type": "e", "event_payload": {"n": 1}}
    )
    dm = first["channel"]
    for n in range(2, 6):
        client.chat_postMessage(channel=dm, text=f"m{n}")
    link = client.chat_getPermalink(channel=dm, message_ts=first["ts"])["permalink"]
    assert link == f"https://errata-sandbox.slack.com/archives/{dm}/p{first['ts'].replace('.', '')}"
    h = client.conversations_history(channel=dm, limit=2)
    assert [m["text"] for m in h["messages"]] == ["m5", "m4"] and h["has_more"]
    rest = client.conversations_history(
        channel=dm, cursor=h["response_metadata"]["next_cursor"], limit=10
    )
    assert [m["text"] for m in rest["messages"]] == ["m3", "m2", "one"] and not rest["has_more"]
    assert "metadata" not in rest["messages"][-1]
    with_meta = client.conversations_history(
        channel=dm, include_all_metadata=True, oldest=first["ts"], inclusive=True
    )
    assert with_meta["messages"][-1]["metadata"]["event_type"] == "e"
    assert client.chat_delete(channel=dm, ts=first["ts"])["ok"]
    assert [m.text for m in slack.dm(person)] == ["m2", "m3", "m4", "m5"]
    assert error_of(client.chat_delete, channel=dm, ts=first["ts"])["error"] == "message_not_found"
    assert error_of(client.conversations_history, channel=person)["error"] == "channel_not_found"
    e = client.chat_postEphemeral(channel=dm, user=person, text="only you")
    assert e["message_ts"] and slack.ephemerals(person)[-1].text == "only you"


def test_usergroups(slack, client):
    groups = client.usergroups_list(include_users=True)["usergroups"]
    g = slack.directory.groups[0]
    assert {x["id"] for x in groups} == {x.id for x in slack.directory.groups}
    assert client.usergroups_users_list(usergroup=g.id)["users"] == g.users
    assert (
        error_of(client.usergroups_users_list, usergroup="S0000000000")["error"]
        == "no_such_subteam"
    )


def test_stats_over_http(slack, client, humans):
    client.chat_postMessage(channel=humans[0], text="x")
    with urllib.request.urlopen(slack.url + "/_sandbox/stats") as resp:
        stats = json.loads(resp.read())["stats"]
    assert stats["chat.postMessage"]["accepted"] == 1
    assert slack.stats()["chat.postMessage"]["first_accepted"] is not None


def test_fifty_concurrent_clients_are_all_served(slack):
    barrier = threading.Barrier(50)
    failures, lock = [], threading.Lock()

    def worker():
        c = WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])
        barrier.wait()
        for _ in range(4):
            try:
                assert c.auth_test()["ok"]
            except Exception as e:
                with lock:
                    failures.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(slack.calls("auth.test")) == 200


def test_wait_for_wakes_up_on_a_change(slack, client, humans):
    results = []
    waiter = threading.Thread(
        target=lambda: results.append(slack.wait_for(lambda: slack.dm(humans[0]), timeout=5))
    )
    waiter.start()
    client.chat_postMessage(channel=humans[0], text="here")
    waiter.join()
    assert results[0][0].text == "here"
    with pytest.raises(TimeoutError):
        slack.wait_for(lambda: slack.dm(humans[1]), timeout=0.05)
