"""Microsoft's Teams SDK (microsoft-teams-api 2.1.1) against the stand-in: the shapes match
what the SDK sends and parses, and what the stand-in sends parses with the SDK's models."""

from __future__ import annotations

import asyncio
import warnings

import httpx
import jwt
import pytest
from microsoft_teams.api import ApiClient
from microsoft_teams.api.activities import ActivityTypeAdapter, MessageActivityInput
from microsoft_teams.api.clients.conversation import CreateConversationParams
from microsoft_teams.api.models import Account
from microsoft_teams.apps.auth.token_validator import InboundActivityTokenValidator
from microsoft_teams.cards import AdaptiveCard, ExecuteAction, SubmitAction, TextBlock

from tests.standin.teams.conftest import APP_ID, json_answer


class TokenProvider:
    """What microsoft_teams.apps hands ApiClient: get_app_token(scope, tenant_id)."""

    def __init__(self, teams):
        self.get = teams.token_provider()
        self.scopes: list[str] = []

    def get_app_token(self, scope, tenant_id):
        self.scopes.append(scope)
        return self.get(scope, tenant_id)


def memo_card(title: str, ack: bool = True) -> AdaptiveCard:
    actions = [ExecuteAction(title="Acknowledge", verb="ack", data={"memo": "M-1"})] if ack else []
    return AdaptiveCard(version="1.5", body=[TextBlock(text=title, wrap=True)], actions=actions)


def test_sdk_creates_the_1_1_sends_a_card_updates_it_and_pages_a_team(teams):
    person = teams.directory.installed()[1]
    org = teams.directory.teams[0]
    assert len(org.members) > 50

    async def story():
        provider = TokenProvider(teams)
        api = ApiClient(teams.service_url, token_provider=provider)
        params = CreateConversationParams(
            members=[Account(id=person.id)],
            tenant_id=teams.tenant_id,
            channel_data={"tenant": {"id": teams.tenant_id}},
        )
        conv = await api.conversations.create(params)
        again = await api.conversations.create(params)
        sent = await api.conversations.create_activity(
            conv.id, MessageActivityInput().add_card(memo_card("Delete the app by Friday"))
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ops = api.conversations.activities(conv.id)
            updated = await ops.update(
                sent.id, MessageActivityInput().add_card(memo_card("RETRACTED", ack=False))
            )
            second = await ops.create(MessageActivityInput(text="A notice"))
            await ops.delete(second.id)
        pages = []
        token = None
        while True:
            page = await api.conversations.get_paged_members(
                org.id, page_size=50, continuation_token=token
            )
            pages.append(page)
            token = page.continuation_token
            if not token:
                break
        one = await api.conversations.get_member_by_id(conv.id, person.aad_object_id)
        return provider, conv, again, sent, updated, second, pages, one

    provider, conv, again, sent, updated, second, pages, one = asyncio.run(story())

    assert conv.id.startswith("a:") and again.id == conv.id == teams.conversation_of(person)
    assert updated.id == sent.id
    assert set(provider.scopes) == {"https://api.botframework.com/.default"}
    [memo] = teams.chat(person)
    assert memo.id == sent.id and memo.edited
    assert memo.edits[0].content() == "Delete the app by Friday\nAcknowledge"
    assert memo.content() == "RETRACTED" and memo.buttons() == []
    assert memo.card()["type"] == "AdaptiveCard" and memo.warnings == []
    [deleted] = [m for m in teams.chat(person, include_deleted=True) if m.deleted]
    assert deleted.id == second.id and deleted.text == "A notice"
    assert [len(p.members) for p in pages] == [50, len(org.members) - 50]
    assert [m.id for p in pages for m in p.members] == org.members
    first = pages[0].members[0]
    who = teams.directory.person(first.id)
    assert (first.aad_object_id, first.user_principal_name, first.tenant_id, first.user_role) == (
        who.aad_object_id,
        who.user_principal_name,
        teams.tenant_id,
        "user",
    )
    assert one.id == person.id and one.name == person.name
    ops = [c.method for c in teams.calls() if c.method != "token"]
    assert ops == [
        "conversations.create",
        "conversations.create",
        "activities.send",
        "activities.update",
        "activities.send",
        "activities.delete",
        "members.paged",
        "members.paged",
        "members.get",
    ]
    assert all(c.ok for c in teams.calls())


def test_sdk_sees_teams_errors_as_http_status_errors(teams):
    stranger = next(p for p in teams.directory.people if not p.has_app)
    for team in teams.directory.teams:
        teams.directory.set_bot_installed(team, False)
    installed = teams.directory.installed()[0]
    teams.block(installed, "ConversationBlockedByUser")

    async def story():
        api = ApiClient(teams.service_url, token_provider=TokenProvider(teams))
        errors = []
        with pytest.raises(httpx.HTTPStatusError) as e:
            await api.conversations.create(
                CreateConversationParams(
                    members=[Account(id=stranger.id)], tenant_id=teams.tenant_id
                )
            )
        errors.append(e.value.response)
        conv = await api.conversations.create(
            CreateConversationParams(members=[Account(id=installed.id)], tenant_id=teams.tenant_id)
        )
        with pytest.raises(httpx.HTTPStatusError) as e:
            await api.conversations.create_activity(conv.id, MessageActivityInput(text="hi"))
        errors.append(e.value.response)
        return errors

    not_installed, blocked = asyncio.run(story())
    assert not_installed.status_code == 403
    assert not_installed.json()["error"]["code"] == "ForbiddenOperationException"
    assert blocked.status_code == 403
    assert blocked.json()["error"]["code"] == "ConversationBlockedByUser"
    assert teams.faults.counts["blocked"] == 1


def test_what_the_stand_in_sends_parses_with_the_sdk_models(teams, bot, connector):
    person = teams.directory.installed()[2]
    sdk_card = memo_card("Memo M-1")
    card = sdk_card.model_dump(by_alias=True, exclude_none=True)
    card["actions"].append(
        SubmitAction(
            title="Compose", data={"msteams": {"type": "task/fetch"}, "cmd": "compose"}
        ).model_dump(by_alias=True, exclude_none=True)
    )
    dialog = {
        "type": "AdaptiveCard",
        "version": "1.5",
        "body": [{"type": "Input.Text", "id": "title", "label": "Title"}],
        "actions": [{"type": "Action.Submit", "title": "Send"}],
    }

    def answer(req):
        act = req.json()
        if act.get("name") == "task/fetch":
            return json_answer(
                {
                    "task": {
                        "type": "continue",
                        "value": {
                            "title": "New memo",
                            "card": {
                                "contentType": "application/vnd.microsoft.card.adaptive",
                                "content": dialog,
                            },
                        },
                    }
                }
            )
        if act.get("name") == "adaptiveCard/action":
            return json_answer(
                {
                    "statusCode": 200,
                    "type": "application/vnd.microsoft.activity.message",
                    "value": "Thanks",
                }
            )
        if act.get("name") == "task/submit":
            return 200, "", "application/json"
        return 201, "", "application/json"

    bot.answer = answer
    assert teams.install(person).ok
    conv = teams.conversation_of(person)
    assert (
        connector.send(
            conv,
            {
                "type": "message",
                "attachments": [
                    {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
                ],
            },
        ).status
        == 201
    )
    [msg] = teams.chat(person)
    assert teams.message(person, "memo help").ok
    assert teams.invoke_action(person, msg, "Acknowledge").outcome == "message_shown"
    assert teams.open_dialog(person, msg, "Compose").outcome == "dialog_opened"
    assert teams.submit_dialog(person, {"Title": "Hello"}).outcome == "dialog_closed"

    parsed = [ActivityTypeAdapter.validate_python(r.json()) for r in bot.requests]
    kinds = [(a.type, getattr(a, "name", None) or getattr(a, "action", None)) for a in parsed]
    assert kinds == [
        ("installationUpdate", "add"),
        ("conversationUpdate", None),
        ("message", None),
        ("invoke", "adaptiveCard/action"),
        ("invoke", "task/fetch"),
        ("invoke", "task/submit"),
    ]
    inv = parsed[3]
    assert inv.value.action.verb == "ack" and inv.value.action.data == {"memo": "M-1"}
    assert inv.reply_to_id == msg.id and inv.from_.aad_object_id == person.aad_object_id
    assert parsed[5].value.data == {"title": "Hello"}
    for a in parsed:
        assert a.service_url == teams.service_url and a.channel_id == "msteams"
        assert a.recipient.id == f"28:{APP_ID}"
        assert a.conversation.tenant_id == teams.tenant_id
        assert a.channel_data.tenant.id == teams.tenant_id


def test_the_sdk_validator_accepts_the_stand_ins_jwt_and_refuses_forgeries(teams):
    validator = InboundActivityTokenValidator(APP_ID, cloud=teams.cloud_environment())

    async def check(token, service_url=teams.service_url):
        return await validator.validate_token(token, service_url)

    claims = asyncio.run(check(teams.channel_token()))
    assert claims["aud"] == APP_ID and claims["iss"] == "https://api.botframework.com"
    assert claims["serviceurl"] == teams.service_url
    forgeries = [
        teams.channel_token(foreign=True),
        teams.channel_token(audience="someone-else"),
        teams.channel_token(expires_in=-3600),
        teams.channel_token(issuer="https://evil.example"),
        teams.channel_token(service_url="http://127.0.0.1:1/"),
    ]
    for token in forgeries:
        with pytest.raises(jwt.PyJWTError):  # PyJWKClientError for an unknown key
            asyncio.run(check(token))
