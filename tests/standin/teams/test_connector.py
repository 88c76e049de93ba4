"""The Bot Connector REST API: Teams' shapes, ids and error bodies."""

from __future__ import annotations

import pytest

from tests.standin.teams.conftest import card, card_activity


def test_create_is_stable_per_user_and_takes_the_aad_object_id(connector, teams):
    p = teams.directory.installed()[0]
    a = connector.create(p.id)
    assert a.status == 201 and a.json()["id"].startswith("a:1")
    b = connector.create(p.aad_object_id)
    assert b.json()["id"] == a.json()["id"] == teams.conversation_of(p)
    only_channel_data = connector.call(
        "POST",
        "v3/conversations",
        {"members": [{"id": p.id}], "channelData": {"tenant": {"id": teams.tenant_id}}},
    )
    assert only_channel_data.status == 201


def test_create_with_an_activity_posts_it(connector, teams):
    p = teams.directory.installed()[0]
    ans = connector.create(p.id, activity={"type": "message", "text": "Hello"})
    assert ans.status == 201 and ans.json()["activityId"]
    [msg] = teams.chat(p)
    assert msg.id == ans.json()["activityId"] and msg.text == "Hello"


def test_create_errors(connector, teams):
    p = teams.directory.installed()[0]
    assert connector.create("29:1nope").code == "BadArgument"
    assert connector.create(p.email).code == "BadArgument"  # no e-mail or UPN
    no_tenant = connector.call("POST", "v3/conversations", {"members": [{"id": p.id}]})
    assert (no_tenant.status, no_tenant.code) == (400, "BadArgument")
    other = connector.create(p.id, tenantId="00000000-0000-0000-0000-000000000000")
    assert other.status == 403
    two = connector.call(
        "POST",
        "v3/conversations",
        {"members": [{"id": p.id}, {"id": p.id}], "tenantId": teams.tenant_id},
    )
    assert two.code == "BadArgument"
    bad_json = connector.call("POST", "v3/conversations", raw=b"{nope")
    assert (bad_json.status, bad_json.code) == (400, "BadSyntax")


def test_who_the_bot_can_reach(connector, teams):
    d = teams.directory
    stranger = next(p for p in d.people if not p.has_app and d.teams_of(p))
    # reachable through a team that has the bot, but only by their 29: id
    assert connector.create(stranger.id).status == 201
    by_aad = connector.create(stranger.aad_object_id)
    assert (by_aad.status, by_aad.code) == (403, "ForbiddenOperationException")
    for t in d.teams_of(stranger):
        d.set_bot_installed(t, False)
    assert connector.create(stranger.id).code == "ForbiddenOperationException"
    cid = teams.conversation_of(stranger)
    sent = connector.send(cid, {"type": "message", "text": "hi"})
    assert (sent.status, sent.code) == (403, "BotNotInConversationRoster")


def test_send_update_delete_and_their_errors(connector, teams):
    p = teams.directory.installed()[0]
    cid = connector.create(p.id).json()["id"]
    c = card(
        {"type": "TextBlock", "text": "Memo"},
        actions=[
            {"type": "Action.Execute", "title": "Acknowledge", "verb": "ack", "data": {"m": 1}}
        ],
    )
    sent = connector.send(cid, card_activity(c))
    assert sent.status == 201
    aid = sent.json()["id"]
    assert aid.isdigit()
    assert connector.send(cid, {"type": "typing"}).status == 201
    put = connector.call(
        "PUT", f"v3/conversations/{cid}/activities/{aid}", {"type": "message", "text": "Edited"}
    )
    assert (put.status, put.json()) == (200, {"id": aid})
    [msg] = teams.chat(p)
    assert msg.text == "Edited" and msg.card() is None and msg.edits[0].card() == c
    assert msg.edits[0].buttons() == ["Acknowledge"]
    assert msg.edits[0].actions()[0]["verb"] == "ack"
    gone = connector.call(
        "PUT", f"v3/conversations/{cid}/activities/999", {"type": "message", "text": "x"}
    )
    assert (gone.status, gone.code) == (404, "ActivityNotFoundInConversation")
    assert (
        connector.send("a:1unknown", {"type": "message", "text": "x"}).code
        == "ConversationNotFound"
    )
    assert connector.send(cid, {"type": "message"}).code == "BadArgument"
    assert connector.send(cid, {"text": "no type"}).code == "BadArgument"
    big = connector.send(cid, {"type": "message", "text": "x" * 40_000})
    assert (big.status, big.code) == (413, "MessageSizeTooBig")
    reply = connector.call(
        "POST", f"v3/conversations/{cid}/activities/{aid}", {"type": "message", "text": "Re"}
    )
    assert reply.status == 201
    assert teams.chat(p)[-1].reply_to_id == aid
    deleted = connector.call("DELETE", f"v3/conversations/{cid}/activities/{aid}")
    assert (deleted.status, deleted.body) == (200, b"")
    assert [m.text for m in teams.chat(p)] == ["Re"]
    again = connector.call("DELETE", f"v3/conversations/{cid}/activities/{aid}")
    assert again.code == "ActivityNotFoundInConversation"
    assert [c.method for c in teams.calls()][-3:] == [
        "activities.send",
        "activities.delete",
        "activities.delete",
    ]


def test_a_user_message_cannot_be_edited_by_the_bot(connector, teams, bot):
    p = teams.directory.installed()[0]
    teams.install(p)
    teams.message(p, "hello bot")
    [user_msg] = [m for m in teams.messages(teams.conversation_of(p)) if m.sender == "user"]
    cid = teams.conversation_of(p)
    ans = connector.call(
        "PUT", f"v3/conversations/{cid}/activities/{user_msg.id}", {"type": "message", "text": "x"}
    )
    assert ans.status == 403


def test_card_problems_are_recorded_not_refused(connector, teams):
    p = teams.directory.installed()[0]
    cid = connector.create(p.id).json()["id"]
    old = card(
        {"type": "TextBlock", "text": "Old"},
        actions=[{"type": "Action.Execute", "title": "Go", "verb": "go"}],
        version="1.2",
    )
    assert connector.send(cid, card_activity(old)).status == 201
    [msg] = teams.chat(p)
    assert msg.warnings == ["Action.Execute needs card version 1.4 or later"]


def test_members_paged_and_single(connector, teams):
    org = teams.directory.teams[0]
    first = connector.call("GET", f"v3/conversations/{org.id}/pagedmembers?pageSize=10")
    body = first.json()
    assert len(body["members"]) == 50  # under 50 counts as 50
    assert set(body["members"][0]) >= {
        "id",
        "name",
        "aadObjectId",
        "email",
        "userPrincipalName",
        "tenantId",
        "userRole",
    }
    token = body["continuationToken"]
    rest = connector.call(
        "GET", f"v3/conversations/{org.id}/pagedMembers?continuationToken={token}&pageSize=10"
    ).json()
    assert "continuationToken" not in rest
    assert [m["id"] for m in body["members"] + rest["members"]] == org.members
    bad = connector.call("GET", f"v3/conversations/{org.id}/pagedmembers?continuationToken=zzz")
    assert (bad.status, bad.code) == (400, "BadArgument")
    member = teams.directory.person(org.members[3])
    one = connector.call("GET", f"v3/conversations/{org.id}/members/{member.aad_object_id}")
    assert one.json()["id"] == member.id
    outsider = next(p for p in teams.directory.people if not org.has_member(p.id))
    missing = connector.call("GET", f"v3/conversations/{org.id}/members/{outsider.id}")
    assert (missing.status, missing.code) == (404, "MemberNotFoundInConversation")
    assert len(connector.call("GET", f"v3/conversations/{org.id}/members").json()) == len(
        org.members
    )
    details = connector.call("GET", f"v3/teams/{org.id}").json()
    assert details["aadGroupId"] == org.aad_group_id and details["memberCount"] == len(org.members)
    chans = connector.call("GET", f"v3/teams/{org.id}/conversations").json()
    assert chans == {"conversations": [{"id": org.id, "name": None}]}
    teams.directory.set_bot_installed(org, False)
    out = connector.call("GET", f"v3/conversations/{org.id}/pagedmembers")
    assert (out.status, out.code) == (403, "BotNotInConversationRoster")


def test_the_bot_can_post_in_a_team_channel(connector, teams):
    team = teams.directory.teams[1]
    assert connector.send(team.id, {"type": "message", "text": "Escalation"}).status == 201
    assert [m.text for m in teams.channel_messages(team)] == ["Escalation"]


def test_unknown_routes_and_stats(connector, teams):
    assert connector.call("GET", "v3/nothing").status == 404
    p = teams.directory.installed()[0]
    connector.create(p.id)
    stats = teams.stats()
    assert stats["conversations.create"]["accepted"] == 1
    assert stats["token"]["accepted"] == 1


def test_channels_threads_and_who_may_click_a_channel_card(connector, teams, bot):
    team = teams.directory.teams[1]
    channel = teams.directory.add_channel(team, "Announcements")
    chans = connector.call("GET", f"v3/teams/{team.id}/conversations").json()
    assert chans == {
        "conversations": [{"id": team.id, "name": None}, {"id": channel, "name": "Announcements"}]
    }
    button = {"type": "Action.Execute", "title": "Acknowledge", "verb": "ack"}
    posted = connector.send(channel, card_activity(card(actions=[button])))
    assert posted.status == 201
    root = posted.json()["id"]
    # A reply in the post's thread; a thread whose root does not exist is not found.
    reply = connector.send(f"{channel};messageid={root}", {"type": "message", "text": "Notice"})
    assert reply.status == 201
    assert [m.text for m in teams.thread(channel, root)] == ["Notice"]
    missing = connector.send(f"{channel};messageid=123", {"type": "message", "text": "Lost"})
    assert (missing.status, missing.code) == (404, "ConversationNotFound")
    # Any member of the team may click the card; the invoke names the channel and team.
    [post] = teams.channel_posts(channel)
    member = teams.directory.person(team.members[0])
    sent = teams.invoke_action(member, post, "Acknowledge").request
    assert sent["name"] == "adaptiveCard/action" and sent["replyToId"] == root
    assert sent["conversation"]["id"] == channel
    assert sent["conversation"]["conversationType"] == "channel"
    assert sent["channelData"]["channel"] == {"id": channel}
    assert sent["channelData"]["team"]["id"] == team.id
    outsider = next(p for p in teams.directory.people if not team.has_member(p.id))
    with pytest.raises(LookupError):
        teams.invoke_action(outsider, post, "Acknowledge")
