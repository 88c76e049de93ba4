"""Acting as Teams toward the bot: Bot Framework activities, and Teams' handling of the answers.

Outgoing: installationUpdate / conversationUpdate, messages, Adaptive Card
actions (Action.Execute invokes, Action.Submit messages, task/fetch and
task/submit for dialogs), message actions (composeExtension/fetchTask, then
composeExtension/submitAction) - real HTTP POSTs to ``bot_url + "/api/messages"``
with a Bot Framework JWT (unless auth is off).

Incoming: invoke answers are applied as Teams applies them: an Adaptive Card
response replaces the card in place, a message response is shown, dialogs
open, update and close.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import json
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from standin.teams import cards as C
from standin.teams.connector import Conversation
from standin.teams.directory import Team, TeamsPerson
from standin.teams.records import Dialog, InvokeRecord, Message, Replies, Reply

if TYPE_CHECKING:
    from standin.teams.server import StandInTeams

INVOKE_TIMEOUT = 5.0  # Teams gives up on an invoke answer after about this long
USER_AGENT = "Microsoft-SkypeBotApi (Microsoft-BotFramework 3.0)"
TASK_MODULE_CONTEXT = {"theme": "default"}


def teams_timestamp(now: datetime) -> str:
    """'2026-11-30T09:00:00.1234560Z': UTC with 7 fractional digits, as Teams sends them."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}0Z"


def teams_local_timestamp(now: datetime, tz: str) -> str:
    local = now.astimezone(ZoneInfo(tz))
    offset = local.strftime("%z")
    return (
        local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0{offset[:3]}:{offset[3:]}"
    )


class TeamsActor:
    def __init__(self, teams: StandInTeams):
        self.t = teams
        self.state = teams.state
        self.dir = teams.directory
        self.timeout = 30.0  # how long the stand-in waits for the bot's HTTP answer

    # ----------------------------------------------------------------- posting
    def post_raw(self, body: bytes | str, headers: dict[str, str]) -> Reply:
        """POST exactly these bytes and headers to the bot's /api/messages."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        parts = urlsplit(self.t.messaging_endpoint)
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=self.timeout)
        started = time.monotonic()
        try:
            conn.request(
                "POST",
                parts.path,
                body=body,
                headers={"Content-Length": str(len(body)), **headers},
            )
            resp = conn.getresponse()
            data = resp.read()
            elapsed = time.monotonic() - started
            resp_headers = {k.lower(): v for k, v in resp.getheaders()}
            charset = resp.headers.get_content_charset() or "utf-8"
            return Reply(resp.status, resp_headers, data.decode(charset, errors="replace"), elapsed)
        finally:
            conn.close()

    def send_activity(
        self,
        activity: dict[str, Any],
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """POST an activity as Teams does. ``token``: None = a valid channel token (when
        auth is on), "" = no Authorization header, anything else is sent as the token."""
        body = json.dumps(activity, ensure_ascii=False).encode("utf-8")
        conv = activity.get("conversation") or {}
        h = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            "x-ms-conversation-id": str(conv.get("id", "")),
            "x-ms-tenant-id": str(conv.get("tenantId", self.t.tenant_id)),
            "MS-CV": secrets.token_urlsafe(16) + ".0",
        }
        if token is None:
            token = self.t.channel_token(service_url=activity.get("serviceUrl", self.t.service_url))
        if token:
            h["Authorization"] = f"Bearer {token}"
        h.update(headers or {})
        reply = self.post_raw(body, h)
        reply.request = activity
        return reply

    # ------------------------------------------------------------------ shapes
    def person(self, user: str | TeamsPerson) -> TeamsPerson:
        return self.t.person(user)

    def _base(
        self,
        atype: str,
        person: TeamsPerson,
        conversation: dict[str, Any],
        *,
        activity_id: str | None = None,
        channel_data: dict[str, Any] | None = None,
        head: dict[str, Any] | None = None,
        profile: bool = True,
    ) -> dict[str, Any]:
        """An activity caused by ``person``. ``profile=False``: as Teams sends install and
        team events, whose ``from`` has no name and which carry no time zone at all
        (msteams-docs subscribe-to-conversation-events.md, installationUpdate and
        conversationUpdate JSON: from {id, aadObjectId}, clientInfo {locale})."""
        now = datetime.now(UTC)
        out: dict[str, Any] = dict(head or {})
        client_info: dict[str, Any] = {"type": "clientInfo", "locale": person.locale}
        if profile:
            client_info.update(country=person.country, platform="Web", timezone=person.tz)
        out.update(
            {
                "type": atype,
                "timestamp": teams_timestamp(now),
                "localTimestamp": teams_local_timestamp(now, person.tz),
                "id": activity_id or self.state.next_message_id(),
                "channelId": "msteams",
                "serviceUrl": self.t.service_url,
                "from": person.to_account()
                if profile
                else {"id": person.id, "aadObjectId": person.aad_object_id},
                "conversation": conversation,
                "recipient": {"id": self.t.bot_id, "name": self.t.bot_name},
                "entities": [client_info],
                "channelData": channel_data or {"tenant": {"id": self.t.tenant_id}},
                "locale": person.locale,
            }
        )
        if profile:
            out["localTimezone"] = person.tz
        else:
            del out["localTimestamp"]
        return out

    def _personal(self, person: TeamsPerson) -> dict[str, Any]:
        conv = self.state.personal_conversation(person)
        assert conv is not None
        return {"conversationType": "personal", "tenantId": self.t.tenant_id, "id": conv.id}

    def _team_conversation(self, team: Team) -> dict[str, Any]:
        return {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": self.t.tenant_id,
            "id": team.id,
        }

    def _team_channel_data(self, team: Team, event_type: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"settings": {"selectedChannel": {"id": team.id}}}
        if event_type:
            out = {"eventType": event_type}
        out["team"] = team.to_team_info()
        out["tenant"] = {"id": self.t.tenant_id}
        return out

    @staticmethod
    def _event_id() -> str:
        return "f:" + str(secrets.randbits(63))

    # ------------------------------------------------------- installation
    def _installation(
        self,
        p: TeamsPerson,
        conv: dict[str, Any],
        added: bool,
        channel_data: dict[str, Any] | None = None,
        member_channel_data: dict[str, Any] | None = None,
        profile: bool = True,
    ) -> Replies:
        """The two activities Teams sends when the app comes or goes, in Teams' order."""
        r1 = self.send_activity(
            self._base(
                "installationUpdate",
                p,
                conv,
                activity_id=self._event_id(),
                head={"action": "add" if added else "remove"},
                channel_data=channel_data,
                profile=profile,
            )
        )
        members = "membersAdded" if added else "membersRemoved"
        r2 = self.send_activity(
            self._base(
                "conversationUpdate",
                p,
                conv,
                activity_id=self._event_id(),
                head={members: [{"id": self.t.bot_id}]},
                channel_data=member_channel_data,
                profile=profile,
            )
        )
        for r in (r1, r2):
            r.outcome = "delivered" if r.ok else "error_shown"
        return Replies([r1, r2])

    def install(self, user: str | TeamsPerson, *, profile: bool = True) -> Replies:
        """The user adds the app (personal scope): installationUpdate add, conversationUpdate.
        ``profile=False`` sends them exactly as Teams does: no name, no time zone (the
        default adds both, so a bot learns of people at once)."""
        p = self.person(user)
        p.has_app = True
        source = {"tenant": {"id": self.t.tenant_id}, "source": {"name": "message"}}
        return self._installation(p, self._personal(p), True, channel_data=source, profile=profile)

    def uninstall(self, user: str | TeamsPerson) -> Replies:
        """The user removes the app: installationUpdate remove, conversationUpdate membersRemoved."""
        p = self.person(user)
        p.has_app = False
        replies = self._installation(p, self._personal(p), False)
        with self.state.changed:
            self.state.changed.notify_all()
        return replies

    def _installer(self, team: Team, by: str | TeamsPerson | None) -> TeamsPerson:
        if by is not None:
            return self.person(by)
        for uid in team.members:
            p = self.dir.person(uid)
            if p is not None and not p.is_guest:
                return p
        raise LookupError(f"team {team.name!r} has no member to install the app")

    def install_in_team(self, team: str | Team, by: str | TeamsPerson | None = None) -> Replies:
        """A team owner adds the app to the team: installationUpdate add + conversationUpdate."""
        t = self.t.team(team)
        self.dir.set_bot_installed(t, True)
        p = self._installer(t, by)
        return self._team_installation(t, p, True)

    def uninstall_from_team(self, team: str | Team, by: str | TeamsPerson | None = None) -> Replies:
        t = self.t.team(team)
        p = self._installer(t, by)
        self.dir.set_bot_installed(t, False)
        return self._team_installation(t, p, False)

    def _team_installation(self, t: Team, p: TeamsPerson, added: bool) -> Replies:
        return self._installation(
            p,
            self._team_conversation(t),
            added,
            channel_data=self._team_channel_data(t),
            member_channel_data=self._team_channel_data(
                t, "teamMemberAdded" if added else "teamMemberRemoved"
            ),
        )

    # ---------------------------------------------------------------- messages
    def _can_chat(self, p: TeamsPerson) -> None:
        if not self.dir.can_reach(p):
            raise PermissionError(
                f"{p.name} ({p.id}) has not installed the app: call install() first"
            )

    def _record_user_message(self, p: TeamsPerson, activity: dict[str, Any], text: str) -> None:
        conv = self.state.personal_conversation(p)
        assert conv is not None
        self.state.add_message(
            conv,
            Message(
                conversation_id=conv.id,
                id=activity["id"],
                text=text,
                attachments=copy.deepcopy(activity.get("attachments") or []),
                activity=copy.deepcopy(activity),
                sender="user",
                from_id=p.id,
                reply_to_id=activity.get("replyToId"),
                posted_at=time.time(),
            ),
        )

    def message(self, user: str | TeamsPerson, text: str) -> Reply:
        """``user`` writes ``text`` in their 1:1 chat with the bot."""
        p = self.person(user)
        self._can_chat(p)
        html = "<p>" + _html_escape(text).replace("\n", "<br>") + "</p>"
        activity = self._base(
            "message",
            p,
            self._personal(p),
            head={
                "text": text,
                "textFormat": "plain",
                "attachments": [{"contentType": "text/html", "content": html}],
            },
        )
        self._record_user_message(p, activity, text)
        reply = self.send_activity(activity)
        reply.outcome = "delivered" if reply.ok else "error_shown"
        return reply

    def _mentioned(self, text: str) -> tuple[str, str, list[dict[str, Any]]]:
        """(text, html attachment, entities) of a message that @mentions the bot, as Teams
        sends it from a channel or group chat: ``<at>Errata</at>&nbsp;memo list`` and a
        mention entity (a captured channel message in TechAtBosch/bot-comm
        apihandlers/teams.go; msteams-docs channel-and-group-conversations.md)."""
        at = f"<at>{_html_escape(self.t.bot_name)}</at>"
        escaped = _html_escape(text).replace("\n", "<br>")
        body = f"{at}&nbsp;{escaped}"
        attachment = (
            '<div><div><span itemscope="" itemtype="http://schema.skype.com/Mention"'
            f' itemid="0">{_html_escape(self.t.bot_name)}</span>&nbsp;{escaped}</div>\n</div>'
        )
        mention = {
            "type": "mention",
            "text": at,
            "mentioned": {"id": self.t.bot_id, "name": self.t.bot_name},
        }
        return body + "\n", attachment, [mention]

    def _post_in(
        self,
        p: TeamsPerson,
        conv: Conversation,
        conversation: dict[str, Any],
        channel_data: dict[str, Any],
        text: str,
        message_id: str,
    ) -> Reply:
        body, attachment, mentions = self._mentioned(text)
        activity = self._base(
            "message",
            p,
            conversation,
            activity_id=message_id,
            channel_data=channel_data,
            head={
                "text": body,
                "textFormat": "plain",
                "attachments": [{"contentType": "text/html", "content": attachment}],
            },
        )
        activity["entities"] = mentions + activity["entities"]
        self.state.add_message(
            conv,
            Message(
                conversation_id=conv.id,
                id=message_id,
                text=text,
                activity=copy.deepcopy(activity),
                sender="user",
                from_id=p.id,
                posted_at=time.time(),
            ),
        )
        reply = self.send_activity(activity)
        reply.outcome = "delivered" if reply.ok else "error_shown"
        return reply

    def message_in_channel(self, user: str | TeamsPerson, team: str | Team, text: str) -> Reply:
        """``user`` starts a thread in the team's General channel that @mentions the bot:
        "@Errata memo list". The bot's replies in that thread are in
        ``messages(reply.request["conversation"]["id"])``."""
        p = self.person(user)
        t = self.t.team(team)
        if not t.bot_installed:
            raise PermissionError(f"the app is not installed in {t.name}: Teams would not send it")
        message_id = self.state.next_message_id()
        thread = f"{t.id};messageid={message_id}"
        conv = self.state.conversation(thread)
        assert conv is not None
        conversation = {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": self.t.tenant_id,
            "id": thread,
        }
        channel_data = {
            "teamsChannelId": t.id,
            "teamsTeamId": t.id,
            "channel": {"id": t.id},
            "team": {"id": t.id},
            "tenant": {"id": self.t.tenant_id},
        }
        return self._post_in(p, conv, conversation, channel_data, text, message_id)

    def post_in_channel(self, user: str | TeamsPerson, channel_id: str, text: str) -> Message:
        """``user`` starts a thread in a channel of their team with a post that does not
        mention the bot: Teams sends the bot nothing (a bot gets only the channel messages
        that @mention it). The post, as the channel shows it."""
        p = self.person(user)
        conv = self.state.conversation(channel_id)
        if conv is None or conv.kind != "channel" or ";messageid=" in channel_id:
            raise LookupError(f"no channel {channel_id}")
        team = self.t.directory.team(conv.team_id or "")
        if team is None or not team.has_member(p.id):
            raise PermissionError(f"{p.name} is not a member of the team of {channel_id}")
        message_id = self.state.next_message_id()
        html = "<p>" + _html_escape(text).replace("\n", "<br>") + "</p>"
        message = Message(
            conversation_id=channel_id,
            id=message_id,
            text=text,
            attachments=[{"contentType": "text/html", "content": html}],
            sender="user",
            from_id=p.id,
            posted_at=time.time(),
        )
        self.state.add_message(conv, message)
        return message.snapshot()

    def _message_payload(self, conv: Conversation, message: Message) -> dict[str, Any]:
        """``value.messagePayload`` of a message action: the message as Microsoft Graph's
        chatMessage (msteams-docs messaging-extensions/how-to/action-commands/
        create-task-module.md): a person's post has ``from.user`` (its Entra object id),
        a bot's has ``from.application``."""
        author = self.dir.person(message.from_id) if message.sender == "user" else None
        html = next(
            (
                a.get("content")
                for a in message.attachments
                if a.get("contentType") == "text/html" and isinstance(a.get("content"), str)
            ),
            None,
        )
        if html is None:
            html = "<p>" + _html_escape(message.text).replace("\n", "<br>") + "</p>"
        channel, _, root = conv.id.partition(";messageid=")
        created = datetime.fromtimestamp(message.posted_at or time.time(), UTC)
        return {
            "linkToMessage": f"https://teams.microsoft.com/l/message/{channel}/{message.id}",
            "id": message.id,
            "replyToId": root or None,
            "createdDateTime": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "lastModifiedDateTime": None,
            "deleted": False,
            "summary": None,
            "importance": "normal",
            "locale": "en-us",
            "body": {"contentType": "html", "content": html},
            "from": {
                "device": None,
                "conversation": None,
                "user": {
                    "userIdentityType": "aadUser",
                    "id": author.aad_object_id,
                    "displayName": author.name,
                }
                if author
                else None,
                "application": None
                if author
                else {
                    "applicationIdentityType": "bot",
                    "id": self.t.bot_id,
                    "displayName": self.t.bot_name,
                },
            },
            "reactions": [],
            "mentions": [],
            "attachments": [],
        }

    def _command_invoke(
        self,
        p: TeamsPerson,
        conv: Conversation,
        message: Message,
        name: str,
        command: dict[str, Any],
        data: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(activity, value) of a message action's invoke, as Teams sends it from a post in
        a channel: the conversation is the post's thread, channelData names the channel
        and team."""
        channel = conv.id.split(";messageid=", 1)[0]
        root = conv.id.partition(";messageid=")[2] or message.id
        value: dict[str, Any] = {
            "commandId": command["commandId"],
            "commandContext": "message",
            "requestId": secrets.token_hex(16),
            "messagePayload": copy.deepcopy(command["messagePayload"]),
            "context": dict(TASK_MODULE_CONTEXT),
        }
        if data is not None:
            value["data"] = data
        thread = self.state.conversation(f"{channel};messageid={root}") or conv
        activity = self._base(
            "invoke",
            p,
            self._conversation_of(p, thread),
            head={"name": name},
            channel_data=self._invoke_channel_data(None, thread),
        )
        activity["value"] = value
        return activity, value

    def message_action(self, user: str | TeamsPerson, message: Message, command_id: str) -> Reply:
        """``user`` picks the app's message action ``command_id`` (a composeExtensions
        command with context "message" and fetchTask) on ``message`` in a channel: Teams
        invokes composeExtension/fetchTask; a dialog opens or a message is shown. Submit
        it with submit_dialog (composeExtension/submitAction)."""
        p = self.person(user)
        conv, current = self._current(p, message)
        if conv.kind != "channel":
            raise ValueError("the stand-in sends message actions from channel posts only")
        command = {"commandId": command_id, "messagePayload": self._message_payload(conv, current)}
        activity, value = self._command_invoke(
            p, conv, current, "composeExtension/fetchTask", command
        )
        reply = self.send_activity(activity)
        self._apply_task(
            p, reply, "composeExtension/fetchTask", value, conv, current.id, None, command
        )
        return reply

    def group_chat(self, users: list[str | TeamsPerson], *, bot_installed: bool = True) -> str:
        """A group chat of these people with the app added to it; its conversation id."""
        return self.state.add_group_chat([self.person(u) for u in users], bot_installed).id

    def message_in_group_chat(self, user: str | TeamsPerson, chat_id: str, text: str) -> Reply:
        """``user`` writes "@Errata <text>" in a group chat the app was added to."""
        p = self.person(user)
        conv = self.state.conversations.get(chat_id)
        if conv is None or conv.kind != "groupChat" or p.id not in conv.members:
            raise LookupError(f"{p.name} is not in group chat {chat_id}")
        conversation = {
            "isGroup": True,
            "conversationType": "groupChat",
            "tenantId": self.t.tenant_id,
            "id": chat_id,
        }
        channel_data = {"tenant": {"id": self.t.tenant_id}}
        return self._post_in(
            p, conv, conversation, channel_data, text, self.state.next_message_id()
        )

    def rename_team(
        self, team: str | Team, name: str, by: str | TeamsPerson | None = None
    ) -> Reply:
        """A team owner renames the team: conversationUpdate, channelData.eventType
        "teamRenamed" (msteams-docs subscribe-to-conversation-events.md, "Team renamed":
        from has only the 29: id)."""
        t = self.t.team(team)
        p = self._installer(t, by)
        t.name = name
        activity = self._base(
            "conversationUpdate",
            p,
            {"isGroup": True, "conversationType": "channel", "id": t.id},
            activity_id=self._event_id(),
            channel_data={
                "team": {"id": t.id, "name": name},
                "eventType": "teamRenamed",
                "tenant": {"id": self.t.tenant_id},
            },
            profile=False,
        )
        activity["from"] = {"id": p.id}
        reply = self.send_activity(activity)
        reply.outcome = "delivered" if reply.ok else "error_shown"
        return reply

    def open_card(self, user: str | TeamsPerson, message: Message) -> Reply | None:
        """``user`` looks at ``message`` (opens the chat, scrolls to it). When its card has a
        ``refresh`` whose Action.Execute is meant for them (``userIds`` names their 29: id;
        without userIds Teams refreshes for everyone in chats of up to 60 people, and
        ``[]`` turns automatic refresh off), Teams invokes adaptiveCard/action with
        ``trigger: "automatic"`` and shows the answer on that device (Universal Actions
        refresh model, msteams-docs Work-with-Universal-Actions-for-Adaptive-Cards.md).
        None when the card asks for no refresh."""
        p = self.person(user)
        conv, current = self._current(p, message)
        card = current.card_on_device(p.id) if p.id in current.views else current.card()
        refresh = card.get("refresh") if isinstance(card, dict) else None
        action = refresh.get("action") if isinstance(refresh, dict) else None
        if not isinstance(action, dict) or action.get("type") != "Action.Execute":
            return None
        users = refresh.get("userIds")
        if users is not None and p.id not in users:
            return None
        if users is None and conv.kind != "personal" and len(conv.members) > 60:
            return None
        act: dict[str, Any] = {"type": "Action.Execute", "verb": action.get("verb")}
        if action.get("id"):
            act["id"] = action["id"]
        act["data"] = action.get("data") if isinstance(action.get("data"), dict) else {}
        value = {"action": act, "trigger": "automatic"}
        activity = self._base(
            "invoke",
            p,
            self._conversation_of(p, conv),
            head={"name": "adaptiveCard/action"},
            channel_data=self._invoke_channel_data(current.id, conv),
        )
        activity["replyToId"] = current.id
        activity["value"] = value
        reply = self.send_activity(activity)
        self._apply_execute(p, current, reply, value)
        return reply

    # ------------------------------------------------------------ card actions
    def _current(self, p: TeamsPerson, message: Message) -> tuple[Conversation, Message]:
        with self.state.lock:
            conv = self.state.conversations.get(message.conversation_id)
            msg = conv.by_id.get(message.id) if conv else None
        if conv is None or msg is None:
            raise LookupError(f"no message {message.id} in {message.conversation_id}")
        if conv.kind == "personal" and conv.user_id != p.id:
            raise LookupError(f"message {message.id} is not in {p.name}'s chat with the bot")
        if conv.kind == "channel":
            team = self.t.directory.team(conv.team_id or "")
            if team is None or not team.has_member(p.id):
                # A channel's posts are shown to the members of its team only.
                raise LookupError(f"{p.name} is not a member of the team of {conv.id}")
        if msg.deleted:
            raise LookupError(f"message {message.id} was deleted")
        return conv, msg

    def _seen_card(self, message: Message, current: Message, title: str) -> dict[str, Any]:
        """The card the person clicks: their (maybe stale) snapshot, the current one, or an
        earlier version still on their screen (a double click racing an edit)."""
        with self.state.lock:
            device = [C.card_of(v) for v in current.views.values()]
            for candidate in (message.card(), *device, current.card()):
                if candidate is not None and C.has_action(candidate, title):
                    return copy.deepcopy(candidate)
            for version in reversed(current.edits):
                card = version.card()
                if card is not None and C.has_action(card, title):
                    return copy.deepcopy(card)
            card = current.card()
        C.find_action(card, title)  # raises LookupError with the buttons there are
        raise AssertionError("unreachable")

    def invoke_action(
        self,
        user: str | TeamsPerson,
        message: Message,
        title: str,
        values: dict[str, Any] | None = None,
    ) -> Reply:
        """``user`` presses the card button titled ``title`` in ``message`` (inputs by label)."""
        p = self.person(user)
        conv, current = self._current(p, message)
        card = self._seen_card(message, current, title)
        action = C.find_action(card, title)
        atype = action.get("type")
        if atype in ("Action.OpenUrl", "Action.ShowCard", "Action.ToggleVisibility"):
            return Reply(
                0,
                {},
                "",
                0.0,
                outcome="client_only",
                shown=action.get("url") or action.get("title"),
            )
        inputs, errors = C.fill(card, values or {})
        if errors:
            return Reply(0, {}, "", 0.0, outcome="not_sent", errors_by_label=errors)
        data = action.get("data")
        conversation = self._conversation_of(p, conv)
        if atype == "Action.Execute":
            merged = {**(data if isinstance(data, dict) else {}), **inputs}
            act: dict[str, Any] = {"type": "Action.Execute"}
            if action.get("id"):
                act["id"] = action["id"]
            act["verb"] = action.get("verb")
            act["data"] = merged
            value = {"action": act, "trigger": "manual"}
            activity = self._base(
                "invoke",
                p,
                conversation,
                head={"name": "adaptiveCard/action"},
                channel_data=self._invoke_channel_data(current.id, conv),
            )
            activity["replyToId"] = current.id
            activity["value"] = value
            reply = self.send_activity(activity)
            self._apply_execute(p, current, reply, value)
            return reply
        if atype != "Action.Submit":
            raise ValueError(f"button {title!r} is an {atype}, which Teams does not send to bots")
        msteams = data.get("msteams") if isinstance(data, dict) else None
        kind = msteams.get("type") if isinstance(msteams, dict) else None
        if kind == "task/fetch":
            return self._task_fetch(p, conv, current, {**data, **inputs})
        if kind == "messageBack":
            text = str(msteams.get("text") or "")
            shown = msteams.get("displayText")
            mb_value = msteams.get("value")
            if isinstance(mb_value, str):
                with contextlib.suppress(ValueError):
                    mb_value = json.loads(mb_value)
            return self._submit_message(
                p, conv, current, text=text, value=mb_value, shown=shown, postback=True
            )
        if kind == "imBack":
            text = str(msteams.get("value") or "")
            return self._submit_message(p, conv, current, text=text, value=None, shown=text)
        if kind is not None:
            raise ValueError(f"msteams action type {kind!r} is not supported by the stand-in")
        if isinstance(data, str):  # a string data posts that string as the message text
            return self._submit_message(p, conv, current, text=data, value=None, shown=data)
        merged = {**(data or {}), **inputs}
        return self._submit_message(p, conv, current, text=None, value=merged, shown=None)

    def _conversation_of(self, p: TeamsPerson, conv: Conversation) -> dict[str, Any]:
        if conv.kind == "personal":
            return {"conversationType": "personal", "tenantId": self.t.tenant_id, "id": conv.id}
        if conv.kind == "groupChat" or ";messageid=" in conv.id:
            return {
                "isGroup": True,
                "conversationType": conv.kind,
                "tenantId": self.t.tenant_id,
                "id": conv.id,
            }
        # A channel (General's id is the team's) or a thread in one: Teams names the
        # conversation the card is in.
        return {
            "isGroup": True,
            "conversationType": "channel",
            "tenantId": self.t.tenant_id,
            "id": conv.id,
        }

    def _invoke_channel_data(
        self, reply_to: str | None, conv: Conversation | None = None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"tenant": {"id": self.t.tenant_id}, "source": {"name": "message"}}
        if reply_to:
            out["legacy"] = {"replyToId": reply_to}
        if conv is not None and conv.kind == "channel" and conv.team_id:
            # An invoke from a card in a channel carries its team and channel
            # (msteams-docs bots/how-to/conversations/channel-and-group-conversations.md).
            channel = conv.id.split(";messageid=", 1)[0]
            team = self.t.team(conv.team_id)
            out["teamsChannelId"] = channel
            out["teamsTeamId"] = team.id
            out["channel"] = {"id": channel}
            out["team"] = team.to_team_info()
        return out

    def _submit_message(
        self,
        p: TeamsPerson,
        conv: Conversation,
        current: Message,
        *,
        text: str | None,
        value: Any,
        shown: str | None,
        postback: bool = False,
    ) -> Reply:
        head: dict[str, Any] = {}
        if text:
            head["text"] = text
            head["textFormat"] = "plain"
        activity = self._base("message", p, self._conversation_of(p, conv), head=head)
        activity["replyToId"] = current.id
        if value is not None:
            activity["value"] = value
        if postback:
            activity["channelData"]["postBack"] = True
        if shown:
            self._record_user_message(p, activity, shown)
        reply = self.send_activity(activity)
        reply.outcome = "delivered" if reply.ok else "error_shown"
        return reply

    def _apply_execute(
        self, p: TeamsPerson, current: Message, reply: Reply, value: dict[str, Any]
    ) -> None:
        body = _json_or_none(reply.body)
        outcome, problem = "error_shown", None
        if reply.elapsed > self.t.invoke_timeout:
            outcome, problem = "too_late", f"answered after {reply.elapsed:.1f} s"
        elif reply.status != 200:
            problem = f"HTTP {reply.status}"
        elif not isinstance(body, dict):
            problem = "the invoke response is not an AdaptiveCardInvokeResponse"
        else:
            status_code = body.get("statusCode")
            rtype = body.get("type")
            if (
                status_code == 200
                and rtype == C.ADAPTIVE_CARD
                and isinstance(body.get("value"), dict)
            ):
                new_card = body["value"]
                with self.state.changed:
                    # Shown on the device that acted only: the message itself (other devices,
                    # a reload) changes when the bot edits it.
                    current.views[p.id] = [
                        {"contentType": C.ADAPTIVE_CARD, "content": copy.deepcopy(new_card)}
                    ] + [a for a in current.attachments if a.get("contentType") != C.ADAPTIVE_CARD]
                    self.state.changed.notify_all()
                outcome = "card_replaced"
                reply.card = copy.deepcopy(new_card)
            elif status_code == 200 and rtype == "application/vnd.microsoft.activity.message":
                outcome = "message_shown"
                reply.shown = str(body.get("value", ""))
                self.state.show(p.id, reply.shown)
            else:
                err = body.get("value")
                problem = (
                    str(err.get("message"))
                    if isinstance(err, dict) and err.get("message")
                    else f"invoke response {status_code} {rtype}"
                )
        reply.outcome = outcome
        reply.problem = problem
        self.state.record_invoke(
            InvokeRecord(
                p.id,
                "adaptiveCard/action",
                value,
                reply.status,
                body,
                outcome,
                time.time(),
                current.id,
            )
        )

    # ----------------------------------------------------------------- dialogs
    def open_dialog(
        self,
        user: str | TeamsPerson,
        message: Message,
        title: str,
        values: dict[str, Any] | None = None,
    ) -> Reply:
        """Press a button that opens a dialog (Action.Submit with msteams.type task/fetch)."""
        p = self.person(user)
        conv, current = self._current(p, message)
        card = self._seen_card(message, current, title)
        action = C.find_action(card, title)
        data = action.get("data")
        msteams = data.get("msteams") if isinstance(data, dict) else None
        if action.get("type") != "Action.Submit" or not (
            isinstance(msteams, dict) and msteams.get("type") == "task/fetch"
        ):
            raise ValueError(
                f"button {title!r} does not open a dialog (needs Action.Submit with "
                'data.msteams.type "task/fetch")'
            )
        inputs, errors = C.fill(card, values or {})
        if errors:
            return Reply(0, {}, "", 0.0, outcome="not_sent", errors_by_label=errors)
        return self._task_fetch(p, conv, current, {**data, **inputs})

    def _task_fetch(
        self, p: TeamsPerson, conv: Conversation, current: Message, data: dict[str, Any]
    ) -> Reply:
        value = {"data": data, "context": dict(TASK_MODULE_CONTEXT)}
        activity = self._base(
            "invoke",
            p,
            self._conversation_of(p, conv),
            head={"name": "task/fetch"},
            channel_data=self._invoke_channel_data(current.id, conv),
        )
        activity["replyToId"] = current.id
        activity["value"] = value
        reply = self.send_activity(activity)
        self._apply_task(p, reply, "task/fetch", value, conv, current.id, None)
        return reply

    def submit_dialog(
        self,
        user: str | TeamsPerson,
        values: dict[str, Any],
        *,
        button: str | None = None,
        client_checks: bool = True,
    ) -> Reply:
        """Fill the open dialog's inputs by label and press its submit button (task/submit).
        ``client_checks=False``: a client that sends what was typed as it stands (a Time
        input "25:99", a Date "2026-02-30"), as a bot must expect some clients to."""
        p = self.person(user)
        with self.state.lock:
            dialog = self.state.dialogs.get(p.id)
        if dialog is None or dialog.card is None:
            raise LookupError(f"{p.name} has no open dialog with a card")
        card = dialog.card
        if button is not None:
            action = C.find_action(card, button)
        else:
            submits = [a for a in C.actions(card) if a.get("type") == "Action.Submit"]
            if not submits:
                raise LookupError(f"dialog {dialog.title!r} has no Action.Submit button")
            action = submits[0]
        inputs, errors = C.fill(card, values)
        if errors and client_checks:
            return Reply(0, {}, "", 0.0, outcome="not_sent", errors_by_label=errors)
        data = action.get("data")
        merged = {**(data if isinstance(data, dict) else {}), **inputs}
        value = {"data": merged, "context": dict(TASK_MODULE_CONTEXT)}
        conv = self.state.conversations.get(dialog.conversation_id)
        if conv is None:
            conv = self.state.personal_conversation(p)
        assert conv is not None
        if dialog.command is not None:
            current = conv.by_id.get(dialog.message_id or "") or Message(conv.id, "")
            activity, value = self._command_invoke(
                p, conv, current, "composeExtension/submitAction", dialog.command, merged
            )
            reply = self.send_activity(activity)
            self._apply_task(
                p,
                reply,
                "composeExtension/submitAction",
                value,
                conv,
                dialog.message_id,
                dialog,
                dialog.command,
            )
            return reply
        activity = self._base(
            "invoke",
            p,
            self._conversation_of(p, conv),
            head={"name": "task/submit"},
            channel_data=self._invoke_channel_data(dialog.message_id),
        )
        if dialog.message_id:
            activity["replyToId"] = dialog.message_id
        activity["value"] = value
        reply = self.send_activity(activity)
        self._apply_task(p, reply, "task/submit", value, conv, dialog.message_id, dialog)
        return reply

    def close_dialog(self, user: str | TeamsPerson) -> None:
        """The person closes the dialog (Teams does not tell the bot)."""
        p = self.person(user)
        with self.state.changed:
            d = self.state.dialogs.pop(p.id, None)
            if d is not None:
                self.state.closed_dialogs.append(d)
            self.state.changed.notify_all()

    def _apply_task(
        self,
        p: TeamsPerson,
        reply: Reply,
        name: str,
        value: dict[str, Any],
        conv: Conversation,
        message_id: str | None,
        dialog: Dialog | None,
        command: dict[str, Any] | None = None,
    ) -> None:
        """``command``: the message action whose dialog this is (its submit is
        composeExtension/submitAction)."""
        body = _json_or_none(reply.body)
        outcome, problem = "error_shown", None
        task = body.get("task") if isinstance(body, dict) else None
        if reply.elapsed > self.t.invoke_timeout:
            outcome, problem = "too_late", f"answered after {reply.elapsed:.1f} s"
        elif reply.status != 200:
            problem = f"HTTP {reply.status}"
        elif name in ("task/submit", "composeExtension/submitAction") and (
            body is None or body == {} or task is None
        ):
            outcome = "dialog_closed"
            self.close_dialog(p)
        elif not isinstance(task, dict):
            problem = "the invoke response is not a TaskModuleResponse ({'task': ...})"
        elif task.get("type") == "message":
            outcome = "message_shown" if dialog is None else "dialog_closed"
            reply.shown = str(task.get("value", ""))
            self.state.show(p.id, reply.shown)
            if dialog is not None:
                self.close_dialog(p)
        elif task.get("type") == "continue" and isinstance(task.get("value"), dict):
            info = task["value"]
            card = C.card_of([info.get("card")] if isinstance(info.get("card"), dict) else [])
            if card is None and not info.get("url"):
                problem = "TaskInfo has neither an Adaptive Card (card) nor a url"
            else:
                with self.state.changed:
                    current = self.state.dialogs.get(p.id)
                    if dialog is not None and current is dialog:
                        if dialog.card is not None:
                            dialog.history.append(dialog.card)
                        dialog.card = copy.deepcopy(card)
                        dialog.url = info.get("url")
                        dialog.title = str(info.get("title") or dialog.title)
                        dialog.height = info.get("height", dialog.height)
                        dialog.width = info.get("width", dialog.width)
                        outcome = "dialog_updated"
                    else:
                        if current is not None:
                            self.state.closed_dialogs.append(current)
                        self.state.dialogs[p.id] = Dialog(
                            id="dlg-" + secrets.token_hex(6),
                            user=p.id,
                            title=str(info.get("title") or ""),
                            card=copy.deepcopy(card),
                            url=info.get("url"),
                            height=info.get("height"),
                            width=info.get("width"),
                            conversation_id=conv.id,
                            message_id=message_id,
                            opened_at=time.time(),
                            command=copy.deepcopy(command),
                        )
                        outcome = "dialog_opened"
                    self.state.changed.notify_all()
                reply.card = copy.deepcopy(card)
        else:
            problem = f"unknown task type {task.get('type')!r}"
        reply.outcome = outcome
        reply.problem = problem
        self.state.record_invoke(
            InvokeRecord(p.id, name, value, reply.status, body, outcome, time.time(), message_id)
        )


def _json_or_none(text: str) -> Any:
    if not text or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
