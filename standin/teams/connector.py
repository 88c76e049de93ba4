"""The Bot Connector's REST operations on the stand-in's chat state.

Chats (1:1 "personal" conversations ``a:1...`` and team channels ``19:...``),
their messages with edit history, open dialogs and what Teams showed people.
Each operation returns ``(status, body)`` with Teams' shapes and error bodies
(``{"error": {"code": ..., "message": ...}}``); the server does auth, faults,
limits and recording around it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standin.teams import cards as C
from standin.teams.directory import (
    Team,
    TeamsDirectory,
    TeamsPerson,
    personal_conversation_id,
)
from standin.teams.faults import TeamsFaults
from standin.teams.records import Dialog, InvokeRecord, Message

MAX_MESSAGE_BYTES = 28 * 1024  # "Teams messages ... maximum size of approximately 28 KB"
DEFAULT_PAGE_SIZE = 100
MIN_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500

Result = tuple[int, Any]


def error(status: int, code: str, message: str) -> Result:
    return status, {"error": {"code": code, "message": message}}


def blocked_error(code: str) -> Result:
    """403 for a blocked recipient; MessageWritesBlocked comes in its own documented form."""
    if code == "MessageWritesBlocked":
        inner = {
            "errorCode": 209,
            "message": "Thread is blocked for writes",
            "subCode": "MessageWritesBlocked",
        }
        return 403, {"errorCode": 209, "message": json.dumps(inner)}
    messages = {
        "ConversationBlockedByUser": "User blocked the conversation with the bot.",
        "BotDisabledByAdmin": "The tenant admin disabled this bot",
        "BotNotInConversationRoster": "The bot is not part of the conversation roster.",
        "ForbiddenOperationException": "Bot is not installed in user's personal scope",
        "NotEnoughPermissions": "Bot does not have the required permissions.",
    }
    return error(403, code, messages.get(code, code))


def injected(result: Result) -> Result:
    """Mark an answer as caused by an injected fault (the server strips the mark)."""
    status, body = result
    return status, {**body, "_sandbox_fault": "blocked"}


@dataclass(slots=True, eq=False)
class Conversation:
    id: str
    kind: str  # "personal", "channel" (a channel, or a thread in it: "...;messageid=...") or "groupChat"
    user_id: str | None = None  # personal: the person
    team_id: str | None = None  # channel: the team
    members: list[str] = field(default_factory=list)  # groupChat: Teams user ids
    bot_installed: bool = True  # groupChat: the app is added to the chat
    messages: list[Message] = field(default_factory=list)
    by_id: dict[str, Message] = field(default_factory=dict)
    created_at: float = 0.0


class ChatState:
    """Everything that happened in chats; ``changed`` is notified on every change."""

    def __init__(self, directory: TeamsDirectory, seed: int = 1):
        self.directory = directory
        self.seed = seed
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.conversations: dict[str, Conversation] = {}
        self.personal: dict[str, str] = {}  # user id -> conversation id
        self.dialogs: dict[str, Dialog] = {}  # user id -> the open dialog
        self.closed_dialogs: list[Dialog] = []
        self.invokes: dict[str, list[InvokeRecord]] = {}
        self.shown: dict[str, list[str]] = {}  # messages Teams showed a user (invoke answers)
        self._last_ms = 0
        self._token_key = secrets.token_bytes(16)

    # --------------------------------------------------------------- ids
    def next_message_id(self) -> str:
        """Teams message ids in chats: milliseconds since the epoch, unique and increasing."""
        with self.lock:
            ms = max(int(time.time() * 1000), self._last_ms + 1)
            self._last_ms = ms
            return str(ms)

    # ------------------------------------------------------- conversations
    def personal_conversation(
        self, person: TeamsPerson, create: bool = True
    ) -> Conversation | None:
        with self.changed:
            cid = self.personal.get(person.id)
            if cid is not None:
                return self.conversations[cid]
            if not create:
                return None
            cid = personal_conversation_id(self.seed, person.id)
            conv = Conversation(cid, "personal", user_id=person.id, created_at=time.time())
            self.conversations[cid] = conv
            self.personal[person.id] = cid
            self.changed.notify_all()
            return conv

    def conversation(self, cid: str) -> Conversation | None:
        conv = self.conversations.get(cid)
        if conv is not None:
            return conv
        team = self._team_of_channel(cid)
        if team is None:
            return None
        with self.changed:
            conv = self.conversations.get(cid)
            if conv is None:
                conv = Conversation(cid, "channel", team_id=team.id, created_at=time.time())
                self.conversations[cid] = conv
            return conv

    def _team_of_channel(self, cid: str) -> Team | None:
        """The team of a channel, or of a thread in it ("<channel id>;messageid=<root>")."""
        cid = cid.split(";messageid=", 1)[0]
        for t in self.directory.teams:
            if t.id == cid or any(ch["id"] == cid for ch in t.channels):
                return t
        return None

    def add_group_chat(
        self, members: list[TeamsPerson], bot_installed: bool = True
    ) -> Conversation:
        """A group chat ("19:...@thread.v2") of these people, with the app added to it."""
        with self.changed:
            cid = f"19:{secrets.token_hex(16)}@thread.v2"
            conv = Conversation(
                cid,
                "groupChat",
                members=[p.id for p in members],
                bot_installed=bot_installed,
                created_at=time.time(),
            )
            self.conversations[cid] = conv
            self.changed.notify_all()
            return conv

    def add_message(self, conv: Conversation, msg: Message) -> Message:
        with self.changed:
            conv.messages.append(msg)
            conv.by_id[msg.id] = msg
            self.changed.notify_all()
            return msg

    def record_invoke(self, rec: InvokeRecord) -> None:
        with self.changed:
            self.invokes.setdefault(rec.user, []).append(rec)
            self.changed.notify_all()

    def show(self, user_id: str, text: str) -> None:
        with self.changed:
            self.shown.setdefault(user_id, []).append(text)
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                self.changed.wait(min(left, 0.05))

    # -------------------------------------------------- continuation tokens
    def page_token(self, cid: str, offset: int) -> str:
        raw = f"{offset}:{cid}".encode()
        mac = hmac.new(self._token_key, raw, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(mac + raw).decode().rstrip("=")

    def page_offset(self, cid: str, token: str) -> int | None:
        try:
            data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except ValueError:
            return None
        mac, raw = data[:12], data[12:]
        if not hmac.compare_digest(
            mac, hmac.new(self._token_key, raw, hashlib.sha256).digest()[:12]
        ):
            return None
        offset, _, tcid = raw.decode(errors="replace").partition(":")
        if tcid != cid or not offset.isdigit():
            return None
        return int(offset)


class Connector:
    """The REST operations. Every method returns (status, JSON body or None)."""

    def __init__(
        self,
        state: ChatState,
        directory: TeamsDirectory,
        faults: TeamsFaults,
        *,
        tenant_id: str,
        bot_id: str,
        app_id: str,
        bot_name: str,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ):
        self.state = state
        self.dir = directory
        self.faults = faults
        self.tenant_id = tenant_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.max_message_bytes = max_message_bytes

    # ------------------------------------------------------------ helpers
    def member_of_create(self, body: Any) -> str | None:
        """The member id a create-conversation body names (for the rate-limit key)."""
        if isinstance(body, dict):
            members = body.get("members")
            if isinstance(members, list) and members and isinstance(members[0], dict):
                mid = members[0].get("id")
                if isinstance(mid, str):
                    p = self.dir.person(mid)
                    return p.id if p is not None else mid
        return None

    def _writable(self, conv: Conversation, op: str) -> Result | None:
        """None if the bot may write into ``conv``, else the 403."""
        if conv.kind == "personal":
            p = self.dir.person(conv.user_id or "")
            if p is None:
                return error(404, "ConversationNotFound", "Conversation not found.")
            code = self.faults.blocked(p.id, p.aad_object_id)
            if code:
                self.faults.note_blocked(op)
                return injected(blocked_error(code))
            if not self.dir.can_reach(p):
                return blocked_error("BotNotInConversationRoster")
            return None
        if conv.kind == "groupChat":
            return None if conv.bot_installed else blocked_error("BotNotInConversationRoster")
        team = self.dir.team(conv.team_id or "")
        if team is None or not team.bot_installed:
            return blocked_error("BotNotInConversationRoster")
        return None

    def _check_activity(self, body: Any, *, update: bool = False) -> Result | None:
        if not isinstance(body, dict):
            return error(400, "BadSyntax", "Request body must be a JSON object (an Activity).")
        atype = body.get("type")
        if not atype:
            return error(400, "BadArgument", "Activity type is required.")
        allowed = ("message",) if update else ("message", "typing")
        if atype not in allowed:
            return error(400, "BadArgument", f"Unsupported activity type '{atype}'.")
        if atype == "message":
            atts = body.get("attachments")
            if atts is not None and (
                not isinstance(atts, list) or not all(isinstance(a, dict) for a in atts)
            ):
                return error(400, "BadArgument", "attachments must be a list of objects.")
            for a in atts or []:
                if not a.get("contentType"):
                    return error(400, "BadArgument", "Attachment contentType is required.")
            if not body.get("text") and not atts:
                return error(400, "BadArgument", "Message must have text or attachments.")
        size = len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode())
        if size > self.max_message_bytes:
            return error(
                413,
                "MessageSizeTooBig",
                f"Message size {size} bytes exceeds the limit of {self.max_message_bytes}.",
            )
        return None

    def _message_from(self, conv: Conversation, body: dict, reply_to: str | None) -> Message:
        atts = body.get("attachments") or []  # the parsed request is ours: no copy needed
        warnings = []
        for a in atts:
            if a.get("contentType") == C.ADAPTIVE_CARD:
                warnings.extend(C.problems(a.get("content")))
        return Message(
            conversation_id=conv.id,
            id=self.state.next_message_id(),
            text=str(body.get("text") or ""),
            attachments=atts,
            activity=body,
            sender="bot",
            from_id=self.bot_id,
            reply_to_id=body.get("replyToId") or reply_to,
            posted_at=time.time(),
            warnings=warnings,
        )

    # --------------------------------------------------------- operations
    def create_conversation(self, body: Any) -> Result:
        if not isinstance(body, dict):
            return error(400, "BadSyntax", "Request body must be a JSON object.")
        if body.get("isGroup"):
            return error(400, "BadArgument", "Bots can only create 1:1 (isGroup: false) chats.")
        members = body.get("members")
        if not isinstance(members, list) or len(members) != 1 or not isinstance(members[0], dict):
            return error(400, "BadArgument", "A 1:1 conversation needs exactly one member.")
        bot = body.get("bot")
        if isinstance(bot, dict) and bot.get("id") not in (None, self.bot_id, self.app_id):
            return error(400, "BadArgument", f"Unknown bot id '{bot.get('id')}'.")
        channel_data = body.get("channelData") if isinstance(body.get("channelData"), dict) else {}
        tenant = (channel_data.get("tenant") or {}).get("id") if channel_data else None
        tenant = body.get("tenantId") or body.get("tenantID") or tenant
        if not tenant:
            return error(
                400,
                "BadArgument",
                "Tenant id is required (tenantId or channelData.tenant.id).",
            )
        if tenant != self.tenant_id:
            return error(403, "Forbidden", f"The bot is not registered in tenant '{tenant}'.")
        mid = members[0].get("id")
        if not isinstance(mid, str) or not mid:
            return error(400, "BadArgument", "Member id is required.")
        person = self.dir.person(mid)
        if person is None or "@" in mid:
            if mid.startswith("29:"):
                return error(400, "BadArgument", "Failed to decrypt pairwise id")
            return error(400, "BadArgument", f"Invalid user identity '{mid}' in tenant.")
        by_aad = mid == person.aad_object_id
        code = self.faults.blocked(person.id, person.aad_object_id)
        if code == "BotDisabledByAdmin":
            self.faults.note_blocked("conversations.create")
            return injected(blocked_error(code))
        if not (person.has_app if by_aad else self.dir.can_reach(person)):
            return blocked_error("ForbiddenOperationException")
        conv = self.state.personal_conversation(person)
        out: dict[str, Any] = {"id": conv.id}
        activity = body.get("activity")
        if activity is not None:
            status, sent = self.send(conv.id, activity)
            if status >= 300:
                return status, sent
            out["activityId"] = sent["id"]
        return 201, out

    def send(self, cid: str, body: Any, reply_to: str | None = None) -> Result:
        conv = self.state.conversation(cid)
        if conv is None:
            return error(404, "ConversationNotFound", "Conversation not found.")
        if ";messageid=" in cid and not self._thread_root(cid):
            # A reply in a channel thread names its root post ("Send a message to a
            # channel thread": POST /v3/conversations/{channelId};messageid={id}/activities).
            return error(404, "ConversationNotFound", "The thread's root message was not found.")
        problem = self._check_activity(body) or self._writable(conv, "activities.send")
        if problem:
            return problem
        if body.get("type") == "typing":
            return 201, {}
        msg = self._message_from(conv, body, reply_to)
        self.state.add_message(conv, msg)
        return 201, {"id": msg.id}

    def _thread_root(self, cid: str) -> Message | None:
        """The post a thread ("<channel id>;messageid=<root>") hangs under: a bot's card
        posted in the channel, or a person's message that started the thread."""
        channel, _, root = cid.partition(";messageid=")
        for where in (channel, cid):
            conv = self.state.conversations.get(where)
            msg = conv.by_id.get(root) if conv else None
            if msg is not None and not msg.deleted:
                return msg
        return None

    def _bot_message(
        self, cid: str, aid: str
    ) -> tuple[Conversation | None, Message | None, Result | None]:
        conv = self.state.conversation(cid)
        if conv is None:
            return None, None, error(404, "ConversationNotFound", "Conversation not found.")
        msg = conv.by_id.get(aid)
        if msg is None or msg.deleted:
            return (
                conv,
                None,
                error(
                    404,
                    "ActivityNotFoundInConversation",
                    f"Activity {aid} not found in conversation.",
                ),
            )
        if msg.sender != "bot":
            return (
                conv,
                None,
                error(403, "Forbidden", "A bot can only update or delete its own messages."),
            )
        return conv, msg, None

    def update(self, cid: str, aid: str, body: Any) -> Result:
        conv, msg, problem = self._bot_message(cid, aid)
        if problem:
            return problem
        assert conv is not None and msg is not None
        problem = self._check_activity(body, update=True) or self._writable(
            conv, "activities.update"
        )
        if problem:
            return problem
        fresh = self._message_from(conv, body, None)
        with self.state.changed:
            msg.replace(
                text=fresh.text,
                attachments=fresh.attachments,
                activity=fresh.activity,
                at=time.time(),
                source="bot",
            )
            msg.warnings = fresh.warnings
            self.state.changed.notify_all()
        return 200, {"id": aid}

    def delete(self, cid: str, aid: str) -> Result:
        conv, msg, problem = self._bot_message(cid, aid)
        if problem:
            return problem
        assert conv is not None and msg is not None
        problem = self._writable(conv, "activities.delete")
        if problem:
            return problem
        with self.state.changed:
            msg.deleted = True
            msg.deleted_at = time.time()
            self.state.changed.notify_all()
        return 200, None

    # ------------------------------------------------------------ members
    def _roster(self, cid: str) -> tuple[list[TeamsPerson] | None, Result | None]:
        conv = self.state.conversation(cid)
        if conv is None:
            return None, error(404, "ConversationNotFound", "Conversation not found.")
        if conv.kind == "personal":
            p = self.dir.person(conv.user_id or "")
            return ([p] if p else []), None
        if conv.kind == "groupChat":
            if not conv.bot_installed:
                return None, blocked_error("BotNotInConversationRoster")
            people = [self.dir.person(uid) for uid in conv.members]
            return [p for p in people if p is not None], None
        team = self.dir.team(conv.team_id or "")
        if team is None or not team.bot_installed:
            return None, blocked_error("BotNotInConversationRoster")
        people = [self.dir.person(uid) for uid in list(team.members)]
        return [p for p in people if p is not None], None

    def members(self, cid: str) -> Result:
        roster, problem = self._roster(cid)
        if problem:
            return problem
        return 200, [p.to_member() for p in roster or []]

    def paged_members(self, cid: str, page_size: str | None, token: str | None) -> Result:
        roster, problem = self._roster(cid)
        if problem:
            return problem
        roster = roster or []
        size = DEFAULT_PAGE_SIZE
        if page_size not in (None, ""):
            try:
                size = int(page_size)
            except ValueError:
                return error(400, "BadArgument", f"Invalid pageSize '{page_size}'.")
            size = min(MAX_PAGE_SIZE, max(MIN_PAGE_SIZE, size))
        offset = 0
        if token:
            found = self.state.page_offset(cid, token)
            if found is None:
                return error(400, "BadArgument", "Invalid continuation token.")
            offset = found
        page = roster[offset : offset + size]
        out: dict[str, Any] = {"members": [p.to_member() for p in page]}
        if offset + size < len(roster):
            out = {"continuationToken": self.state.page_token(cid, offset + size), **out}
        return 200, out

    def member(self, cid: str, mid: str) -> Result:
        roster, problem = self._roster(cid)
        if problem:
            return problem
        p = self.dir.person(mid)
        if p is None or p not in (roster or []):
            return error(
                404, "MemberNotFoundInConversation", "The member was not found in the conversation."
            )
        return 200, p.to_member()

    def activity_members(self, cid: str, aid: str) -> Result:
        conv = self.state.conversation(cid)
        if conv is None:
            return error(404, "ConversationNotFound", "Conversation not found.")
        if aid not in conv.by_id:
            return error(404, "ActivityNotFoundInConversation", f"Activity {aid} not found.")
        return self.members(cid)

    # -------------------------------------------------------------- teams
    def team_details(self, tid: str) -> Result:
        team = self.dir.team(tid)
        if team is None or team.id != tid:
            return error(404, "NotFound", f"Team {tid} not found.")
        if not team.bot_installed:
            return blocked_error("BotNotInConversationRoster")
        return 200, team.to_details()

    def team_conversations(self, tid: str) -> Result:
        team = self.dir.team(tid)
        if team is None or team.id != tid:
            return error(404, "NotFound", f"Team {tid} not found.")
        if not team.bot_installed:
            return blocked_error("BotNotInConversationRoster")
        chans = [
            {"id": ch["id"], "name": None if ch["id"] == team.id else ch["name"]}
            for ch in team.channels
        ]
        return 200, {"conversations": chans}
