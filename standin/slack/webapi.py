"""The Web API methods the bot uses, answering with Slack's shapes and error codes.

``WebAPI.call(method, args)`` returns the JSON body (a dict); transport,
authentication, rate limits and faults are the HTTP layer's business.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, ClassVar

from standin.slack import blockkit
from standin.slack.directory import Channel, Directory
from standin.slack.faults import Faults
from standin.slack.records import Message, UploadedFile
from standin.slack.workspace import ViewRecord, Workspace

CONVERSATION_ID = re.compile(r"^[CGDZ][A-Z0-9]{8,}$")


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any):
        super().__init__(error)
        self.error = error
        self.extra = extra


def _messages(errors: list[str]) -> dict[str, Any]:
    return {"response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]}}


def invalid_arguments(*messages: str) -> ApiError:
    return ApiError("invalid_arguments", **_messages(list(messages)))


# ------------------------------------------------------------------ arguments
def arg_str(args: dict, key: str, default: str | None = None) -> str | None:
    value = args.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def arg_bool(args: dict, key: str, default: bool = False) -> bool:
    value = args.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes")


def arg_int(args: dict, key: str, default: int) -> int:
    value = args.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise invalid_arguments(f"invalid value for `{key}`") from None


def encode_cursor(kind: str, offset: int) -> str:
    return base64.b64encode(f"{kind}:{offset}".encode()).decode()


def decode_cursor(cursor: str | None, kind: str) -> int:
    if not cursor:
        return 0
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
        got_kind, offset = raw.rsplit(":", 1)
        if got_kind != kind:
            raise ValueError
        return max(0, int(offset))
    except (ValueError, UnicodeDecodeError):
        raise ApiError("invalid_cursor") from None


def page(
    items: list, args: dict, kind: str, *, default_limit: int = 100, max_limit: int = 1000
) -> tuple[list, str]:
    limit = arg_int(args, "limit", default_limit)
    if limit <= 0:
        limit = default_limit
    limit = min(limit, max_limit)
    start = decode_cursor(arg_str(args, "cursor"), kind)
    chunk = items[start : start + limit]
    end = start + len(chunk)
    next_cursor = encode_cursor(kind, end) if end < len(items) else ""
    return chunk, next_cursor


def parse_metadata(raw: Any) -> dict | None:
    """Validate message metadata ({event_type, event_payload}); {} means "remove"."""
    if raw is None or raw == "":
        return None
    try:
        meta = blockkit.parse_json_arg(raw)
    except (ValueError, TypeError):
        raise ApiError("invalid_metadata_format") from None
    if meta == {}:
        return {}
    if not isinstance(meta, dict):
        raise ApiError("invalid_metadata_format")
    event_type = meta.get("event_type")
    payload = meta.get("event_payload")
    if not isinstance(event_type, str) or not event_type or not isinstance(payload, dict):
        raise ApiError("invalid_metadata_format")
    if len(json.dumps(meta)) > 16_000:
        raise ApiError("metadata_too_large")
    return {"event_type": event_type, "event_payload": payload}


def parse_blocks(raw: Any) -> list | None:
    if raw is None:
        return None
    if raw == "":
        return []
    try:
        blocks = blockkit.parse_json_arg(raw)
    except (ValueError, TypeError):
        raise ApiError("invalid_blocks_format") from None
    code, errors = blockkit.validate_message_blocks(blocks)
    if code:
        extra = _messages(errors) if errors else {}
        if errors:
            extra["errors"] = errors
        raise ApiError(code, **extra)
    return blocks


class WebAPI:
    """Method implementations over a Workspace and a Directory."""

    METHODS: ClassVar[dict[str, str]] = {
        "api.test": "api_test",
        "auth.test": "auth_test",
        "users.list": "users_list",
        "users.info": "users_info",
        "users.lookupByEmail": "users_lookup_by_email",
        "conversations.list": "conversations_list",
        "conversations.members": "conversations_members",
        "conversations.info": "conversations_info",
        "conversations.open": "conversations_open",
        "conversations.history": "conversations_history",
        "usergroups.list": "usergroups_list",
        "usergroups.users.list": "usergroups_users_list",
        "chat.postMessage": "chat_post_message",
        "chat.update": "chat_update",
        "chat.delete": "chat_delete",
        "chat.postEphemeral": "chat_post_ephemeral",
        "chat.getPermalink": "chat_get_permalink",
        "views.open": "views_open",
        "views.push": "views_push",
        "views.update": "views_update",
        "views.publish": "views_publish",
        "files.getUploadURLExternal": "files_get_upload_url_external",
        "files.completeUploadExternal": "files_complete_upload_external",
    }

    def __init__(
        self,
        workspace: Workspace,
        directory: Directory,
        faults: Faults,
        root_url: Callable[[], str],
    ):
        self.ws = workspace
        self.dir = directory
        self.faults = faults
        self.root_url = root_url
        self.ids = blockkit.IdSource(seed=len(directory.team_id) * 31 + 7)
        self.scopes: frozenset[str] = frozenset()  # the token's scopes (set by the server)

    # -------------------------------------------------------------- dispatch
    def has(self, method: str) -> bool:
        return method in self.METHODS

    def call(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        name = self.METHODS.get(method)
        if name is None:
            return {"ok": False, "error": "unknown_method", "req_method": method}
        try:
            body = getattr(self, name)(args)
        except ApiError as e:
            body = {"ok": False, "error": e.error}
            body.update(e.extra)
        return body

    def rate_key(self, method: str, args: dict[str, Any]) -> str | None:
        """The per-channel bucket key for chat.postMessage (without creating anything)."""
        if method != "chat.postMessage":
            return None
        raw = arg_str(args, "channel") or ""
        if raw[:1] in ("U", "W"):
            return self.ws.dm_id(raw)
        return raw

    # --------------------------------------------------------------- helpers
    @property
    def domain_url(self) -> str:
        return f"https://{self.dir.team_domain}.slack.com/"

    def bot_profile(self) -> dict[str, Any]:
        return {
            "id": self.dir.bot_id,
            "app_id": self.dir.app_id,
            "user_id": self.dir.bot_user_id,
            "name": self.dir.bot_user.real_name,
            "icons": {
                "image_36": "https://a.slack-edge.com/80588/img/plugins/app/bot_36.png",
                "image_48": "https://a.slack-edge.com/80588/img/plugins/app/bot_48.png",
                "image_72": "https://a.slack-edge.com/80588/img/plugins/app/service_72.png",
            },
            "deleted": False,
            "updated": 1700000000,
            "team_id": self.dir.team_id,
        }

    def render(self, msg: Message, include_metadata: bool = True) -> dict[str, Any]:
        out = msg.to_slack(include_metadata=include_metadata)
        if msg.bot_id == self.dir.bot_id:
            out["bot_profile"] = self.bot_profile()
        return out

    def fill_ids(self, blocks: list) -> list:
        return blockkit.fill_ids(blocks, self.ids)

    def _person(self, user_id: str | None):
        return self.dir.person(user_id) if user_id else None

    def _visible_channel(self, channel_id: str) -> Channel | None:
        """A channel the bot can see: public ones, and private ones it is in."""
        ch = self.dir.channel(channel_id)
        if ch is None:
            return None
        if ch.is_private and not ch.bot_is_member:
            return None
        return ch

    def _conversation_exists(self, channel_id: str) -> bool:
        if channel_id.startswith("D"):
            return channel_id in self.ws.user_by_dm
        if channel_id in self.ws.mpims:
            return True
        return self._visible_channel(channel_id) is not None

    def _resolve_post_channel(self, raw: str | None) -> tuple[str, str | None]:
        """(conversation id, DM user or None) for chat.postMessage."""
        if not raw:
            raise ApiError("channel_not_found")
        first = raw[0]
        if first in ("U", "W"):
            person = self.dir.person(raw)
            if person is None:
                raise ApiError("channel_not_found")
            if person.is_bot or person.is_slackbot:
                raise ApiError("cannot_dm_bot")
            return self.ws.dm_for(raw), raw
        if first == "D":
            user = self.ws.user_by_dm.get(raw)
            if user is None:
                raise ApiError("channel_not_found")
            return raw, user
        if raw in self.ws.mpims:
            return raw, None
        ch = self.dir.channel(raw) if first in ("C", "G") else self.dir.channel_by_name(raw)
        if ch is None:
            raise ApiError("channel_not_found")
        if ch.is_private and not ch.bot_is_member:
            raise ApiError("not_in_channel")
        if ch.is_archived:
            raise ApiError("is_archived")
        if not ch.bot_is_member and self.scopes and "chat:write.public" not in self.scopes:
            # chat.postMessage: a bot posts in a public channel it is not in only with the
            # chat:write.public scope (https://api.slack.com/methods/chat.postMessage#errors).
            raise ApiError("not_in_channel")
        return ch.id, None

    def _resolve_existing(self, raw: str | None) -> str:
        """A conversation id for chat.update / delete / history: U ids are not channels."""
        if not raw or raw[0] in ("U", "W") or not self._conversation_exists(raw):
            raise ApiError("channel_not_found")
        return raw

    # ------------------------------------------------------------------ auth
    def api_test(self, args: dict) -> dict:
        return {"ok": True, "args": {k: v for k, v in args.items() if k != "token"}}

    def auth_test(self, args: dict) -> dict:
        return {
            "ok": True,
            "url": self.domain_url,
            "team": self.dir.team_name,
            "user": self.dir.bot_user.name,
            "team_id": self.dir.team_id,
            "user_id": self.dir.bot_user_id,
            "bot_id": self.dir.bot_id,
            "is_enterprise_install": False,
        }

    # ----------------------------------------------------------------- users
    def users_list(self, args: dict) -> dict:
        chunk, next_cursor = page(self.dir.people, args, "user", max_limit=1000)
        return {
            "ok": True,
            "members": [p.to_slack(self._sees_email) for p in chunk],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def users_info(self, args: dict) -> dict:
        person = self._person(arg_str(args, "user"))
        if person is None:
            raise ApiError("user_not_found")
        return {"ok": True, "user": person.to_slack(self._sees_email)}

    @property
    def _sees_email(self) -> bool:
        return "users:read.email" in self.scopes

    def users_lookup_by_email(self, args: dict) -> dict:
        if not self._sees_email:
            raise ApiError(
                "missing_scope", needed="users:read.email", provided=",".join(sorted(self.scopes))
            )
        email = (arg_str(args, "email") or "").lower()
        for p in self.dir.people:
            if p.email and p.email.lower() == email and not p.deleted:
                return {"ok": True, "user": p.to_slack(self._sees_email)}
        raise ApiError("users_not_found")

    # --------------------------------------------------------- conversations
    def _im_object(self, dm: str, user: str) -> dict:
        person = self.dir.person(user)
        return {
            "id": dm,
            "created": int(time.time()),
            "is_archived": False,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": self.dir.team_id,
            "updated": int(time.time() * 1000),
            "user": user,
            "is_user_deleted": bool(person and person.deleted),
            "priority": 0,
        }

    def conversations_list(self, args: dict) -> dict:
        types = set((arg_str(args, "types") or "public_channel").split(","))
        exclude_archived = arg_bool(args, "exclude_archived")
        chans = []
        for ch in list(self.dir.channels):
            if exclude_archived and ch.is_archived:
                continue
            if ch.is_private:
                if "private_channel" not in types or not ch.bot_is_member:
                    continue
            elif "public_channel" not in types:
                continue
            chans.append(ch)
        chunk, next_cursor = page(chans, args, "channel", max_limit=1000)
        return {
            "ok": True,
            "channels": [c.to_slack(include_num_members=True) for c in chunk],
            "response_metadata": {"next_cursor": next_cursor},
        }

    def conversations_members(self, args: dict) -> dict:
        cid = arg_str(args, "channel") or ""
        if cid.startswith("D"):
            user = self.ws.user_by_dm.get(cid)
            if user is None:
                raise ApiError("channel_not_found")
            members = [user, self.dir.bot_user_id]
        elif cid in self.ws.mpims:
            members = list(self.ws.mpims[cid])
        else:
            ch = self._visible_channel(cid)
            if ch is None:
                raise ApiError("channel_not_found")
            members = ch.members
        chunk, next_cursor = page(members, args, "member", max_limit=1000)
        return {
            "ok": True,
            "members": list(chunk),
            "response_metadata": {"next_cursor": next_cursor},
        }

    def conversations_info(self, args: dict) -> dict:
        cid = arg_str(args, "channel") or ""
        if cid.startswith("D"):
            user = self.ws.user_by_dm.get(cid)
            if user is None:
                raise ApiError("channel_not_found")
            return {"ok": True, "channel": self._im_object(cid, user)}
        ch = self._visible_channel(cid)
        if ch is None:
            raise ApiError("channel_not_found")
        return {
            "ok": True,
            "channel": ch.to_slack(include_num_members=arg_bool(args, "include_num_members")),
        }

    def conversations_open(self, args: dict) -> dict:
        existing = arg_str(args, "channel")
        return_im = arg_bool(args, "return_im")
        if existing:
            user = self.ws.user_by_dm.get(existing)
            if user is None:
                raise ApiError("channel_not_found")
            users = [user]
        else:
            users = [u.strip() for u in (arg_str(args, "users") or "").split(",") if u.strip()]
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > 8:
            raise ApiError("too_many_users")
        for u in users:
            person = self.dir.person(u)
            if person is None:
                raise ApiError("user_not_found")
            if person.deleted:
                raise ApiError("user_disabled")
        if len(users) == 1:
            already = self.ws.dm_if_open(users[0]) is not None
            dm = self.ws.dm_for(users[0])
            body: dict[str, Any] = {"ok": True}
            if already:
                body["no_op"] = True
                body["already_open"] = True
            body["channel"] = self._im_object(dm, users[0]) if return_im else {"id": dm}
            return body
        cid = self.ws.mpim_for([*users, self.dir.bot_user_id])
        return {"ok": True, "channel": {"id": cid}}

    def conversations_history(self, args: dict) -> dict:
        cid = self._resolve_existing(arg_str(args, "channel"))
        inclusive = arg_bool(args, "inclusive")
        include_meta = arg_bool(args, "include_all_metadata")
        oldest = float(arg_str(args, "oldest") or 0)
        latest_raw = arg_str(args, "latest")
        latest = float(latest_raw) if latest_raw else float("inf")
        with self.ws.lock:
            msgs = [m for m in self.ws.messages.get(cid, []) if not m.deleted]
        selected = []
        for m in reversed(msgs):
            t = float(m.ts)
            if (t > oldest or (inclusive and t == oldest)) and (
                t < latest or (inclusive and t == latest)
            ):
                selected.append(m)
        chunk, next_cursor = page(selected, args, "history", default_limit=100, max_limit=999)
        body = {
            "ok": True,
            "messages": [self.render(m, include_metadata=include_meta) for m in chunk],
            "has_more": bool(next_cursor),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
        }
        if next_cursor:
            body["response_metadata"] = {"next_cursor": next_cursor}
        return body

    # ------------------------------------------------------------ usergroups
    def usergroups_list(self, args: dict) -> dict:
        include_users = arg_bool(args, "include_users")
        groups = [g.to_slack(include_users=include_users) for g in list(self.dir.groups)]
        return {"ok": True, "usergroups": groups}

    def usergroups_users_list(self, args: dict) -> dict:
        g = self.dir.group(arg_str(args, "usergroup") or "")
        if g is None:
            raise ApiError("no_such_subteam")
        return {"ok": True, "users": list(g.users)}

    # ------------------------------------------------------------------ chat
    def chat_post_message(self, args: dict) -> dict:
        channel, user = self._resolve_post_channel(arg_str(args, "channel"))
        if user is not None:
            failure = self.faults.user_failure(user)
            if failure:
                raise ApiError(failure, _sandbox_fault="fail_user")
        text = arg_str(args, "text") or ""
        blocks = parse_blocks(args.get("blocks")) or []
        attachments = args.get("attachments")
        metadata = parse_metadata(args.get("metadata")) or None
        if not text and not blocks and not attachments:
            raise ApiError("no_text")
        warnings = []
        if len(text) > blockkit.MAX_TEXT:
            text = text[: blockkit.MAX_TEXT]
            warnings.append("message_truncated")
        thread_ts = arg_str(args, "thread_ts")
        # reply_broadcast: "used in conjunction with thread_ts and indicates whether reply
        # should be made visible to everyone in the channel" (chat.postMessage arguments).
        broadcast = bool(thread_ts) and arg_bool(args, "reply_broadcast")
        msg = Message(
            channel=channel,
            ts=self.ws.next_ts(),
            text=text,
            blocks=self.fill_ids(blocks) if blocks else [],
            metadata=metadata,
            posted_at=time.time(),
            user=self.dir.bot_user_id,
            bot_id=self.dir.bot_id,
            app_id=self.dir.app_id,
            team=self.dir.team_id,
            thread_ts=thread_ts,
            reply_broadcast=broadcast,
        )
        self.ws.add_message(msg)
        body: dict[str, Any] = {
            "ok": True,
            "channel": channel,
            "ts": msg.ts,
            "message": self.render(msg),
        }
        if warnings:
            body["warning"] = ",".join(warnings)
            body["response_metadata"] = {"warnings": warnings}
        return body

    def _own_message(self, args: dict, ts_key: str = "ts") -> Message:
        channel = self._resolve_existing(arg_str(args, "channel"))
        ts = arg_str(args, ts_key) or ""
        msg = self.ws.message(channel, ts)
        if msg is None or msg.deleted:
            raise ApiError("message_not_found")
        return msg

    def chat_update(self, args: dict) -> dict:
        msg = self._own_message(args)
        if msg.bot_id != self.dir.bot_id:
            raise ApiError("cant_update_message")
        text = arg_str(args, "text")
        blocks = parse_blocks(args.get("blocks"))
        if "metadata" in args and args["metadata"] is not None:
            metadata = parse_metadata(args.get("metadata"))
            metadata = None if metadata == {} else metadata
        else:
            metadata = msg.metadata
        new_text = msg.text if text is None else text
        new_blocks = msg.blocks if blocks is None else (self.fill_ids(blocks) if blocks else [])
        if not new_text and not new_blocks:
            raise ApiError("no_text")
        if len(new_text) > blockkit.MAX_TEXT:
            raise ApiError("msg_too_long")
        with self.ws.changed:
            if msg.deleted:
                raise ApiError("message_not_found")
            msg.replace(text=new_text, blocks=new_blocks, metadata=metadata, at=time.time())
            self.ws.changed.notify_all()
        rendered = self.render(msg)
        return {
            "ok": True,
            "channel": msg.channel,
            "ts": msg.ts,
            "text": msg.text,
            "message": rendered,
        }

    def chat_delete(self, args: dict) -> dict:
        msg = self._own_message(args)
        if msg.bot_id != self.dir.bot_id:
            raise ApiError("cant_delete_message")
        with self.ws.changed:
            msg.deleted = True
            msg.deleted_at = time.time()
            self.ws.changed.notify_all()
        return {"ok": True, "channel": msg.channel, "ts": msg.ts}

    def chat_post_ephemeral(self, args: dict) -> dict:
        raw = arg_str(args, "channel") or ""
        user = arg_str(args, "user") or ""
        person = self.dir.person(user)
        if raw[:1] in ("U", "W"):
            if self.dir.person(raw) is None:
                raise ApiError("channel_not_found")
            channel = self.ws.dm_for(raw)
        else:
            channel = raw
        if channel.startswith("D"):
            owner = self.ws.user_by_dm.get(channel)
            if owner is None:
                raise ApiError("channel_not_found")
            if person is None or owner != user:
                raise ApiError("user_not_in_channel")
        else:
            if channel in self.ws.mpims:
                members = self.ws.mpims[channel]
                if user not in members:
                    raise ApiError("user_not_in_channel")
            else:
                ch = self._visible_channel(channel)
                if ch is None:
                    raise ApiError("channel_not_found")
                if person is None or not ch.has_member(user):
                    raise ApiError("user_not_in_channel")
        text = arg_str(args, "text") or ""
        blocks = parse_blocks(args.get("blocks")) or []
        if not text and not blocks and not args.get("attachments"):
            raise ApiError("no_text")
        msg = Message(
            channel=channel,
            ts=self.ws.next_ts(),
            text=text,
            blocks=self.fill_ids(blocks) if blocks else [],
            posted_at=time.time(),
            user=self.dir.bot_user_id,
            bot_id=self.dir.bot_id,
            app_id=self.dir.app_id,
            team=self.dir.team_id,
            thread_ts=arg_str(args, "thread_ts"),
            kind="ephemeral",
            source="chat.postEphemeral",
            for_user=user,
        )
        self.ws.add_ephemeral(msg)
        return {"ok": True, "message_ts": msg.ts}

    def permalink(self, channel: str, ts: str) -> str:
        return f"{self.domain_url}archives/{channel}/p{ts.replace('.', '')}"

    def chat_get_permalink(self, args: dict) -> dict:
        msg = self._own_message(args, "message_ts")
        return {
            "ok": True,
            "channel": msg.channel,
            "permalink": self.permalink(msg.channel, msg.ts),
        }

    # ----------------------------------------------------------------- views
    def _parse_view(self, args: dict) -> dict:
        raw = args.get("view")
        if raw is None or raw == "":
            raise invalid_arguments("missing required field: view")
        try:
            view = blockkit.parse_json_arg(raw)
        except (ValueError, TypeError):
            raise invalid_arguments("failed to parse `view` as JSON") from None
        code, errors = blockkit.validate_view(view)
        if code:
            raise ApiError(code, **(_messages(errors) if errors else {}))
        return view

    @staticmethod
    def _hash() -> str:
        return f"{int(time.time())}.{secrets.token_hex(4)}"

    def _build_view(
        self, spec: dict, view_id: str, *, root: str | None, previous: str | None
    ) -> dict:
        modal = spec.get("type") == "modal"
        return {
            "id": view_id,
            "team_id": self.dir.team_id,
            "type": spec.get("type"),
            "blocks": self.fill_ids(spec.get("blocks") or []),
            "private_metadata": spec.get("private_metadata") or "",
            "callback_id": spec.get("callback_id") or "",
            "state": {"values": {}},
            "hash": self._hash(),
            "title": spec.get("title") if modal else None,
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "close": spec.get("close") if modal else None,
            "submit": spec.get("submit") if modal else None,
            "previous_view_id": previous,
            "root_view_id": root or view_id,
            "app_id": self.dir.app_id,
            "external_id": spec.get("external_id") or "",
            "app_installed_team_id": self.dir.team_id,
            "bot_id": self.dir.bot_id,
        }

    def _check_external_id(self, spec: dict, allow: str | None = None) -> None:
        ext = spec.get("external_id")
        if ext and self.ws.external_ids.get(ext) not in (None, allow):
            raise ApiError("duplicate_external_id")

    def _register(self, view: dict, user: str, kind: str) -> None:
        self.ws.views[view["id"]] = ViewRecord(view, user, kind)
        if view.get("external_id"):
            self.ws.external_ids[view["external_id"]] = view["id"]

    def _close_stack(self, user: str) -> None:
        for vid in self.ws.stacks.pop(user, []):
            rec = self.ws.views.get(vid)
            if rec is not None:
                self.ws.closed_views.append(rec.view)

    def views_open(self, args: dict) -> dict:
        trigger = arg_str(args, "trigger_id") or arg_str(args, "interactivity_pointer")
        if not trigger:
            raise invalid_arguments("missing required field: trigger_id")
        spec = self._parse_view(args)
        if spec.get("type") != "modal":
            raise invalid_arguments("must be a modal [json-pointer:/view/type]")
        with self.ws.changed:
            self._check_external_id(spec)
            user, error = self.ws.use_trigger(trigger)
            if error:
                raise ApiError(error)
            vid = self.ws.make_id("V")
            view = self._build_view(spec, vid, root=None, previous=None)
            self._close_stack(user)
            self._register(view, user, "modal")
            self.ws.stacks[user] = [vid]
            self.ws.changed.notify_all()
        return {"ok": True, "view": view}

    def views_push(self, args: dict) -> dict:
        trigger = arg_str(args, "trigger_id") or arg_str(args, "interactivity_pointer")
        if not trigger:
            raise invalid_arguments("missing required field: trigger_id")
        spec = self._parse_view(args)
        if spec.get("type") != "modal":
            raise invalid_arguments("must be a modal [json-pointer:/view/type]")
        with self.ws.changed:
            self._check_external_id(spec)
            user, error = self.ws.use_trigger(trigger)
            if error:
                raise ApiError(error)
            stack = self.ws.stacks.get(user) or []
            if not stack:
                raise ApiError("not_found")
            if len(stack) >= 3:
                raise ApiError("push_limit_reached")
            vid = self.ws.make_id("V")
            root = self.ws.views[stack[0]].view["id"]
            view = self._build_view(spec, vid, root=root, previous=stack[-1])
            self._register(view, user, "modal")
            stack.append(vid)
            self.ws.changed.notify_all()
        return {"ok": True, "view": view}

    def replace_view(self, rec: ViewRecord, spec: dict) -> dict:
        """Replace a stored view's content, keeping its id, root and place in the stack."""
        old = rec.view
        view = self._build_view(
            spec, old["id"], root=old["root_view_id"], previous=old.get("previous_view_id")
        )
        rec.history.append(old)
        rec.view = view
        if old.get("external_id") and old["external_id"] != view.get("external_id"):
            self.ws.external_ids.pop(old["external_id"], None)
        if view.get("external_id"):
            self.ws.external_ids[view["external_id"]] = view["id"]
        return view

    def views_update(self, args: dict) -> dict:
        view_id = arg_str(args, "view_id")
        external_id = arg_str(args, "external_id")
        if not view_id and not external_id:
            raise invalid_arguments("either view_id or external_id is required")
        spec = self._parse_view(args)
        with self.ws.changed:
            if not view_id:
                view_id = self.ws.external_ids.get(external_id or "")
            rec = self.ws.views.get(view_id or "")
            if rec is None:
                raise ApiError("not_found")
            if rec.kind == "modal" and view_id not in (self.ws.stacks.get(rec.user) or []):
                raise ApiError("not_found")
            wanted_hash = arg_str(args, "hash")
            if wanted_hash and wanted_hash != rec.view["hash"]:
                raise ApiError("hash_conflict")
            if spec.get("type") != rec.kind:
                raise invalid_arguments(
                    "cannot change the type of a view [json-pointer:/view/type]"
                )
            self._check_external_id(spec, allow=rec.view["id"])
            view = self.replace_view(rec, spec)
            self.ws.changed.notify_all()
        return {"ok": True, "view": view}

    def views_publish(self, args: dict) -> dict:
        user = arg_str(args, "user_id") or ""
        person = self.dir.person(user)
        if person is None or person.is_bot or person.deleted:
            raise invalid_arguments("invalid `user_id`")
        spec = self._parse_view(args)
        if spec.get("type") != "home":
            raise invalid_arguments("must be a home view [json-pointer:/view/type]")
        with self.ws.changed:
            vid = self.ws.homes.get(user)
            if vid is None:
                self._check_external_id(spec)
                vid = self.ws.make_id("V")
                view = self._build_view(spec, vid, root=None, previous=None)
                self._register(view, user, "home")
                self.ws.homes[user] = vid
            else:
                rec = self.ws.views[vid]
                wanted_hash = arg_str(args, "hash")
                if wanted_hash and wanted_hash != rec.view["hash"]:
                    raise ApiError("hash_conflict")
                self._check_external_id(spec, allow=vid)
                view = self.replace_view(rec, spec)
            self.ws.changed.notify_all()
        return {"ok": True, "view": view}

    # ----------------------------------------------------------------- files
    def files_get_upload_url_external(self, args: dict) -> dict:
        filename = arg_str(args, "filename")
        length_raw = arg_str(args, "length")
        if not filename or not length_raw:
            raise invalid_arguments(
                *(
                    f"missing required field: {k}"
                    for k, v in (("filename", filename), ("length", length_raw))
                    if not v
                )
            )
        try:
            length = int(length_raw)
        except ValueError:
            raise invalid_arguments("invalid value for `length`") from None
        if length <= 0:
            raise invalid_arguments("`length` must be greater than 0")
        file_id = self.ws.make_id("F")
        secret = secrets.token_urlsafe(12)
        f = UploadedFile(
            id=file_id,
            name=filename,
            length=length,
            user=self.dir.bot_user_id,
            created=time.time(),
            alt_txt=arg_str(args, "alt_txt"),
            snippet_type=arg_str(args, "snippet_type"),
        )
        with self.ws.lock:
            self.ws.files[file_id] = f
            self.ws.upload_secrets[file_id] = secret
        return {
            "ok": True,
            "upload_url": f"{self.root_url()}/upload/v1/{file_id}.{secret}",
            "file_id": file_id,
        }

    def file_object(self, f: UploadedFile) -> dict:
        team = self.dir.team_id
        ims = [c for c in f.channels if c.startswith("D")]
        groups = [
            c
            for c in f.channels
            if c in self.ws.mpims or ((ch := self.dir.channel(c)) is not None and ch.is_private)
        ]
        channels = [c for c in f.channels if c not in ims and c not in groups]
        return {
            "id": f.id,
            "created": int(f.created),
            "timestamp": int(f.created),
            "name": f.name,
            "title": f.title or f.name,
            "mimetype": f.mimetype,
            "filetype": f.filetype,
            "pretty_type": f.filetype.upper(),
            "user": f.user,
            "user_team": team,
            "editable": False,
            "size": len(f.content or b""),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": bool(channels),
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"https://files.slack.com/files-pri/{team}-{f.id}/{f.name}",
            "url_private_download": f"https://files.slack.com/files-pri/{team}-{f.id}/download/{f.name}",
            "permalink": f"{self.domain_url}files/{f.user}/{f.id}/{f.name}",
            "permalink_public": f"https://slack-files.com/{team}-{f.id}-{hashlib.sha1(f.id.encode()).hexdigest()[:10]}",
            "comments_count": 0,
            "is_starred": False,
            "shares": {},
            "channels": channels,
            "groups": groups,
            "ims": ims,
            "has_more_shares": False,
            "has_rich_preview": False,
            "file_access": "visible",
        }

    def files_complete_upload_external(self, args: dict) -> dict:
        raw = args.get("files")
        if raw is None or raw == "":
            raise invalid_arguments("missing required field: files")
        try:
            items = blockkit.parse_json_arg(raw)
        except (ValueError, TypeError):
            raise invalid_arguments("failed to parse `files` as JSON") from None
        if (
            not isinstance(items, list)
            or not items
            or not all(isinstance(i, dict) and i.get("id") for i in items)
        ):
            raise invalid_arguments("`files` must be a non-empty array of {id, title}")
        targets: list[str] = []
        channel_id = arg_str(args, "channel_id")
        if channel_id:
            if not CONVERSATION_ID.match(channel_id):
                raise invalid_arguments("invalid `channel_id`")
            targets.append(channel_id)
        channels_raw = arg_str(args, "channels")
        if channels_raw:
            for c in channels_raw.split(","):
                c = c.strip()
                if c and c not in targets:
                    if not CONVERSATION_ID.match(c):
                        raise invalid_arguments("invalid `channels`")
                    targets.append(c)
        for c in targets:
            if not self._conversation_exists(c):
                raise ApiError("channel_not_found")
            ch = self.dir.channel(c)
            if ch is not None and ch.is_private and not ch.bot_is_member:
                raise ApiError("not_in_channel")
        comment = arg_str(args, "initial_comment")
        thread_ts = arg_str(args, "thread_ts")
        with self.ws.changed:
            files = []
            for item in items:
                f = self.ws.files.get(str(item["id"]))
                if f is None or f.content is None or f.completed:
                    raise ApiError("file_not_found")
                files.append((f, item))
            for f, item in files:
                f.title = item.get("title") or f.name
                f.completed = True
                f.channel = targets[0] if targets else None
                f.channels = list(targets)
                f.initial_comment = comment
                f.thread_ts = thread_ts
            objects = [self.file_object(f) for f, _ in files]
            for c in targets:
                self.ws.add_message(
                    Message(
                        channel=c,
                        ts=self.ws.next_ts(),
                        text=comment or "",
                        posted_at=time.time(),
                        user=self.dir.bot_user_id,
                        bot_id=self.dir.bot_id,
                        app_id=self.dir.app_id,
                        team=self.dir.team_id,
                        thread_ts=thread_ts,
                        source="files",
                        files=[
                            {
                                "id": o["id"],
                                "name": o["name"],
                                "title": o["title"],
                                "mimetype": o["mimetype"],
                            }
                            for o in objects
                        ],
                    )
                )
            self.ws.changed.notify_all()
        return {"ok": True, "files": objects}
