"""Acting as Slack toward the bot: signed requests, and Slack's handling of the answers.

Outgoing: slash commands, block_actions (message buttons, App Home, modals),
message shortcuts, view_submission / view_closed, Events API callbacks - all
real HTTP POSTs to ``bot_url + "/slack/events"``, signed with the signing
secret exactly as Slack signs them.

Incoming: response_url posts and the HTTP answers to commands and view
submissions, applied to the stand-in's state the way Slack applies them.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import http.client
import json
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from standin.httpd import Response
from standin.slack import blockkit
from standin.slack.records import Message, Reply
from standin.slack.workspace import HOOK_TTL, HOOK_USES, Hook

if TYPE_CHECKING:
    from standin.slack.server import StandInSlack

SLACK_ACK_SECONDS = 3.0


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class Actor:
    def __init__(self, slack: StandInSlack):
        self.slack = slack
        self.ws = slack.workspace
        self.dir = slack.directory
        self.timeout = 10.0  # how long the stand-in waits for the bot's HTTP answer

    # --------------------------------------------------------------- signing
    def sign(
        self, body: bytes | str, timestamp: int | str | None = None, secret: str | None = None
    ) -> dict[str, str]:
        """Slack's signature headers for ``body`` (now, with the stand-in's secret by default)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        ts = str(int(time.time()) if timestamp is None else int(timestamp))
        return {
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature(
                secret if secret is not None else self.slack.signing_secret, ts, body
            ),
        }

    # ---------------------------------------------------------------- posting
    def post_raw(
        self, body: bytes | str, headers: dict[str, str], path: str = "/slack/events"
    ) -> Reply:
        """POST exactly these bytes and headers to the bot (nothing added)."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        base = self.slack.bot_url
        if not base:
            raise RuntimeError("stand_in.bot_url is not set (e.g. 'http://127.0.0.1:3001')")
        parts = urlsplit(base)
        prefix = parts.path.rstrip("/")
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=self.timeout)
        started = time.monotonic()
        try:
            conn.request(
                "POST",
                prefix + path,
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

    def _send(self, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> Reply:
        headers = {
            "Content-Type": content_type,
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            "Accept": "application/json,*/*",
            **self.sign(body),
            **(extra or {}),
        }
        return self.post_raw(body, headers)

    def _send_payload(self, payload: dict[str, Any]) -> Reply:
        body = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode("utf-8")
        reply = self._send(body, "application/x-www-form-urlencoded")
        reply.request = payload
        return reply

    # ---------------------------------------------------------------- shapes
    def user_obj(self, user_id: str) -> dict[str, Any]:
        p = self.dir.person(user_id)
        if p is None:
            raise LookupError(f"no member {user_id!r} in the directory")
        return {"id": p.id, "username": p.name, "name": p.name, "team_id": self.dir.team_id}

    def team_obj(self) -> dict[str, Any]:
        return {"id": self.dir.team_id, "domain": self.dir.team_domain}

    def channel_obj(self, channel_id: str) -> dict[str, Any]:
        if channel_id.startswith("D"):
            return {"id": channel_id, "name": "directmessage"}
        if channel_id in self.ws.mpims:
            return {"id": channel_id, "name": "mpdm"}
        ch = self.dir.channel(channel_id)
        if ch is None:
            return {"id": channel_id, "name": ""}
        return {"id": channel_id, "name": "privategroup" if ch.is_private else ch.name}

    def hook_url(self, hook: Hook) -> str:
        return f"{self.slack.url}/hooks/{hook.kind}/{hook.token}"

    @staticmethod
    def action_ts() -> str:
        return f"{time.time():.6f}"

    # --------------------------------------------------------- slash command
    def command(
        self, user_id: str, command: str, text: str = "", channel_id: str | None = None
    ) -> Reply:
        """Run ``/command text`` as ``user_id`` (in their DM with the bot unless ``channel_id``)."""
        user = self.user_obj(user_id)
        command = command.strip()
        if " " in command:  # "/retract M-7 reason" -> command "/retract", text "M-7 reason"
            command, rest = command.split(" ", 1)
            text = f"{rest.strip()} {text}".strip() if text else rest.strip()
        channel = channel_id or self.ws.dm_for(user_id)
        hook = self.ws.issue_hook("commands", user_id, channel)
        fields = {
            "token": self.slack.verification_token,
            "team_id": self.dir.team_id,
            "team_domain": self.dir.team_domain,
            "channel_id": channel,
            "channel_name": self.channel_obj(channel)["name"],
            "user_id": user_id,
            "user_name": user["username"],
            "command": command if command.startswith("/") else "/" + command,
            "text": text,
            "api_app_id": self.dir.app_id,
            "is_enterprise_install": "false",
            "response_url": self.hook_url(hook),
            "trigger_id": self.ws.issue_trigger(user_id),
        }
        body = urlencode(fields).encode("utf-8")
        reply = self._send(body, "application/x-www-form-urlencoded")
        reply.request = fields
        if reply.status == 200 and reply.body.strip() and reply.elapsed <= self.slack.ack_timeout:
            payload = _parse_answer(reply.body)
            if payload is not None:
                self.deliver(hook, payload, source="command_ack")
        return reply

    # ----------------------------------------------------------- interactions
    def _current(self, user_id: str, message: Message) -> Message:
        if message.kind == "ephemeral":
            msg = self.ws.ephemeral(message.for_user or user_id, message.ts)
        else:
            msg = self.ws.message(message.channel, message.ts)
        if msg is None:
            raise LookupError(f"no message {message.ts} in {message.channel}")
        if msg.deleted:
            raise LookupError(f"message {message.ts} in {message.channel} was deleted")
        return msg

    def click(
        self, user_id: str, message: Message, button_text: str, *, from_view: bool = False
    ) -> Reply:
        """Click the button labelled ``button_text`` in ``message``.

        ``from_view=True`` sends the same action the way Slack sends a click in a
        view (a modal or the App Home showing those blocks): ``container`` of type
        ``view``, no ``channel``, no ``message`` and no ``response_url`` (Slack's
        block_actions payload reference; bolt-python's `respond` is unavailable then).

        ``message`` is the version the person sees: a snapshot taken before an
        edit still has its buttons (a stale screen), and the payload carries
        that version, as a Slack client would send it. When neither the
        snapshot nor the current version has the button but an earlier
        version did, that version is clicked (a double click racing the
        edit). A deleted message cannot be clicked.
        """
        current = self._current(user_id, message)
        with self.ws.lock:
            seen = current
            if _has_button(message.blocks, button_text):
                seen = message
            elif not _has_button(current.blocks, button_text):
                # A double click: the person's screen still shows a version with the button.
                for version in reversed(current.edits):
                    if _has_button(version.blocks, button_text):
                        seen = current.snapshot()
                        seen.text, seen.blocks = version.text, version.blocks
                        break
            btn = blockkit.find_button(seen.blocks, button_text)
            rendered = self.slack.api.render(seen, include_metadata=False)
        msg = current
        hook = self.ws.issue_hook("actions", user_id, msg.channel, msg.ts, msg.is_ephemeral)
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self.user_obj(user_id),
            "api_app_id": self.dir.app_id,
            "token": self.slack.verification_token,
            "container": {
                "type": "message",
                "message_ts": msg.ts,
                "channel_id": msg.channel,
                "is_ephemeral": msg.is_ephemeral,
            },
            "trigger_id": self.ws.issue_trigger(user_id),
            "team": self.team_obj(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": self.channel_obj(msg.channel),
        }
        if not msg.is_ephemeral:
            payload["message"] = rendered
        payload["state"] = {"values": {}}
        payload["response_url"] = self.hook_url(hook)
        payload["actions"] = [_action(btn, self.action_ts())]
        if from_view:
            for name in ("channel", "message", "response_url"):
                payload.pop(name, None)
            payload["container"] = {"type": "view", "view_id": self.ws.make_id("V")}
        return self._send_payload(payload)

    def click_view(
        self, user_id: str, button_text: str, view_id: str | None = None, *, home: bool = False
    ) -> Reply:
        """Click a button in a view: the user's App Home, their top modal, or ``view_id``."""
        with self.ws.lock:
            if view_id is None:
                view_id = self.ws.homes.get(user_id) if home else _top_id(self.ws, user_id)
            rec = self.ws.views.get(view_id or "")
            if rec is None:
                where = "App Home" if home else "open modal"
                raise LookupError(f"{user_id} has no {where}")
            view = copy.deepcopy(rec.view)
        btn = blockkit.find_button(view.get("blocks"), button_text)
        view["state"] = (
            blockkit.build_state(view, {}) if view.get("type") == "modal" else {"values": {}}
        )
        payload = {
            "type": "block_actions",
            "user": self.user_obj(user_id),
            "api_app_id": self.dir.app_id,
            "token": self.slack.verification_token,
            "container": {"type": "view", "view_id": view["id"]},
            "trigger_id": self.ws.issue_trigger(user_id),
            "team": self.team_obj(),
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view,
            "actions": [_action(btn, self.action_ts())],
        }
        return self._send_payload(payload)

    def message_shortcut(self, user_id: str, message: Message, callback_id: str) -> Reply:
        msg = self._current(user_id, message)
        hook = self.ws.issue_hook("actions", user_id, msg.channel, msg.ts, False)
        user = self.user_obj(user_id)
        payload = {
            "type": "message_action",
            "token": self.slack.verification_token,
            "action_ts": self.action_ts(),
            "team": self.team_obj(),
            "user": {
                "id": user_id,
                "username": user["username"],
                "team_id": self.dir.team_id,
                "name": user["name"],
            },
            "channel": self.channel_obj(msg.channel),
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": self.ws.issue_trigger(user_id),
            "response_url": self.hook_url(hook),
            "message_ts": msg.ts,
            "message": self.slack.api.render(msg, include_metadata=False),
        }
        return self._send_payload(payload)

    # ------------------------------------------------------------------ views
    def submit_view(
        self,
        user_id: str,
        values: dict[str, Any],
        view_id: str | None = None,
        *,
        wait: float = 3.0,
        without_values: bool = False,
    ) -> Reply:
        """Fill the user's top modal (or ``view_id``) by input label and submit it.

        ``without_values=True`` submits ``"state": {}``, a shape Slack sends (bolt-python's
        tests/scenario_tests/test_view_submission.py, ``response_url_payload_body``)."""
        if view_id is None:
            try:
                view_id = self.ws.wait_for(lambda: _top_id(self.ws, user_id), timeout=wait)
            except TimeoutError:
                raise LookupError(f"{user_id} has no open modal to submit") from None
        with self.ws.lock:
            rec = self.ws.views.get(view_id)
            if rec is None or rec.kind != "modal":
                raise LookupError(f"no modal {view_id}")
            view = copy.deepcopy(rec.view)
        view["state"] = {} if without_values else blockkit.build_state(view, values)
        labels = blockkit.view_labels(view)
        response_urls = []
        for b in blockkit.input_blocks(view):
            el = b.get("element") or {}
            if el.get("response_url_enabled") and not without_values:
                entry = view["state"]["values"][b["block_id"]][el.get("action_id")]
                chan = entry.get("selected_conversation") or entry.get("selected_channel")
                if chan:
                    hook = self.ws.issue_hook("commands", user_id, chan)
                    response_urls.append(
                        {
                            "block_id": b["block_id"],
                            "action_id": el.get("action_id"),
                            "channel_id": chan,
                            "response_url": self.hook_url(hook),
                        }
                    )
        payload = {
            "type": "view_submission",
            "team": self.team_obj(),
            "user": self.user_obj(user_id),
            "api_app_id": self.dir.app_id,
            "token": self.slack.verification_token,
            "trigger_id": self.ws.issue_trigger(user_id),
            "view": view,
            "response_urls": response_urls,
            "is_enterprise_install": False,
            "enterprise": None,
        }
        reply = self._send_payload(payload)
        if reply.status != 200 or reply.elapsed > self.slack.ack_timeout:
            return reply  # Slack shows an error and the modal stays open
        answer = _parse_answer(reply.body) if reply.body.strip() else None
        action = answer.get("response_action") if isinstance(answer, dict) else None
        with self.ws.changed:
            if action == "errors":
                errors = answer.get("errors") or {}
                reply.errors = dict(errors)
                reply.errors_by_label = {labels.get(k, k): v for k, v in errors.items()}
            elif action == "clear":
                self._close(user_id, all_views=True)
            elif action == "update":
                self._apply_view(user_id, view_id, answer.get("view"), push=False, reply=reply)
            elif action == "push":
                self._apply_view(user_id, view_id, answer.get("view"), push=True, reply=reply)
            else:
                self._close(user_id, all_views=False, view_id=view_id)
            self.ws.changed.notify_all()
        return reply

    def close_view(self, user_id: str, view_id: str | None = None) -> Reply | None:
        """The user closes their top modal; sends view_closed if it asked to be notified."""
        with self.ws.changed:
            view_id = view_id or _top_id(self.ws, user_id)
            rec = self.ws.views.get(view_id or "")
            if rec is None:
                raise LookupError(f"{user_id} has no open modal")
            view = copy.deepcopy(rec.view)
            notify = view.get("notify_on_close")
            clear = view.get("clear_on_close")
            self._close(user_id, all_views=bool(clear), view_id=view_id)
            self.ws.changed.notify_all()
        if not notify:
            return None
        view["state"] = blockkit.build_state(view, {})
        payload = {
            "type": "view_closed",
            "team": self.team_obj(),
            "user": self.user_obj(user_id),
            "api_app_id": self.dir.app_id,
            "token": self.slack.verification_token,
            "view": view,
            "is_cleared": bool(clear),
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self._send_payload(payload)

    def _close(self, user_id: str, *, all_views: bool, view_id: str | None = None) -> None:
        stack = self.ws.stacks.get(user_id) or []
        if all_views:
            closing = list(stack)
        elif view_id in stack:
            closing = stack[stack.index(view_id) :]
        else:
            closing = stack[-1:]
        for vid in closing:
            stack.remove(vid)
            self.ws.closed_views.append(self.ws.views[vid].view)
        if not stack:
            self.ws.stacks.pop(user_id, None)

    def _apply_view(
        self, user_id: str, view_id: str, spec: Any, *, push: bool, reply: Reply
    ) -> None:
        code, errors = blockkit.validate_view(spec)
        if code:
            reply.errors = {"": f"{code}: {'; '.join(errors)}"}
            return
        stack = self.ws.stacks.get(user_id) or []
        if push:
            if len(stack) >= 3:
                reply.errors = {"": "push_limit_reached"}
                return
            vid = self.ws.make_id("V")
            view = self.slack.api._build_view(
                spec, vid, root=stack[0] if stack else None, previous=view_id
            )
            self.slack.api._register(view, user_id, "modal")
            stack.append(vid)
            self.ws.stacks[user_id] = stack
        else:
            self.slack.api.replace_view(self.ws.views[view_id], spec)

    # ----------------------------------------------------------------- events
    def send_event(
        self,
        event: dict[str, Any],
        retry_num: int | None = None,
        retry_reason: str | None = None,
        event_id: str | None = None,
    ) -> Reply:
        event = dict(event)
        event.setdefault("event_ts", self.action_ts())
        envelope = {
            "token": self.slack.verification_token,
            "team_id": self.dir.team_id,
            "context_team_id": self.dir.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.dir.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or self.ws.make_id("Ev", 9),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.dir.team_id,
                    "user_id": self.dir.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": "4-" + secrets.token_urlsafe(24),
        }
        extra = {}
        if retry_num is not None:
            extra["X-Slack-Retry-Num"] = str(retry_num)
            extra["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        elif retry_reason is not None:
            extra["X-Slack-Retry-Reason"] = retry_reason
        body = json.dumps(envelope, ensure_ascii=False).encode("utf-8")
        reply = self._send(body, "application/json", extra)
        reply.request = envelope
        return reply

    def open_home(self, user_id: str) -> Reply:
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": self.ws.dm_for(user_id),
            "tab": "home",
            "event_ts": self.action_ts(),
        }
        with self.ws.lock:
            vid = self.ws.homes.get(user_id)
            if vid is not None:
                event["view"] = copy.deepcopy(self.ws.views[vid].view)
        return self.send_event(event)

    # --------------------------------------------------- answers from the bot
    def handle_hook(self, token: str, body: bytes, content_type: str) -> Response:
        """A POST to a response_url."""
        hook = self.ws.hooks.get(token)
        if hook is None:
            return Response.json({"ok": False, "error": "invalid_url"}, status=404)
        with self.ws.lock:
            if time.monotonic() - hook.created > HOOK_TTL:
                return Response.json({"ok": False, "error": "expired_url"}, status=404)
            if hook.uses >= HOOK_USES:
                return Response.json({"ok": False, "error": "used_url"}, status=404)
            hook.uses += 1
        try:
            if content_type.startswith("application/x-www-form-urlencoded"):
                payload = json.loads(parse_qs(body.decode("utf-8")).get("payload", ["{}"])[0])
            else:
                payload = json.loads(body.decode("utf-8") or "{}")
        except (ValueError, UnicodeDecodeError):
            return Response.json({"ok": False, "error": "invalid_payload"}, status=400)
        if not isinstance(payload, dict):
            return Response.json({"ok": False, "error": "invalid_payload"}, status=400)
        status, answer = self.deliver(hook, payload, source="response_url")
        return Response.json(answer, status=status)

    def deliver(
        self, hook: Hook, payload: dict[str, Any], source: str
    ) -> tuple[int, dict[str, Any]]:
        """Show a message sent through a response_url (or a command's HTTP answer)."""
        api = self.slack.api
        with self.ws.changed:
            original = None
            if hook.message_ts:
                if hook.ephemeral:
                    original = self.ws.ephemeral(hook.user, hook.message_ts)
                else:
                    original = self.ws.message(hook.channel or "", hook.message_ts)
            if _truthy(payload.get("delete_original")):
                if original is None or original.deleted:
                    return 404, {"ok": False, "error": "message_not_found"}
                original.deleted = True
                original.deleted_at = time.time()
                self.ws.changed.notify_all()
                return 200, {"ok": True}
            text = payload.get("text") or ""
            raw_blocks = payload.get("blocks")
            blocks: list = []
            if raw_blocks:
                code, errors = blockkit.validate_message_blocks(raw_blocks)
                if code:
                    return 400, {"ok": False, "error": code, "errors": errors}
                blocks = api.fill_ids(raw_blocks)
            if not text and not blocks and not payload.get("attachments"):
                return 400, {"ok": False, "error": "no_text"}
            if (
                _truthy(payload.get("replace_original"))
                and original is not None
                and not original.deleted
            ):
                original.replace(
                    text=text, blocks=blocks, metadata=original.metadata, at=time.time()
                )
                self.ws.changed.notify_all()
                return 200, {"ok": True}
            in_channel = payload.get("response_type") == "in_channel"
            msg = Message(
                channel=hook.channel or self.ws.dm_for(hook.user),
                ts=self.ws.next_ts(),
                text=text,
                blocks=blocks,
                metadata=payload.get("metadata")
                if isinstance(payload.get("metadata"), dict)
                else None,
                posted_at=time.time(),
                user=self.dir.bot_user_id,
                bot_id=self.dir.bot_id,
                app_id=self.dir.app_id,
                team=self.dir.team_id,
                thread_ts=payload.get("thread_ts"),
                kind="message" if in_channel else "ephemeral",
                source=source,
                for_user=None if in_channel else hook.user,
                response_type="in_channel" if in_channel else "ephemeral",
            )
            if in_channel:
                self.ws.add_message(msg)
            else:
                self.ws.add_ephemeral(msg)
        return 200, {"ok": True}


def _has_button(blocks: list | None, text: str) -> bool:
    return any(b["text"] == text for b in blockkit.buttons(blocks))


def _top_id(ws, user_id: str) -> str | None:
    stack = ws.stacks.get(user_id) or []
    return stack[-1] if stack else None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1", "yes")
    return bool(value)


def _parse_answer(body: str) -> dict[str, Any] | None:
    """A bolt ack() body: plain text, or JSON with text/blocks/response_type/response_action."""
    body = body.strip()
    if not body:
        return None
    if body.startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            return {"text": body}
        return data if isinstance(data, dict) else None
    return {"text": body}


def _action(btn: dict[str, Any], action_ts: str) -> dict[str, Any]:
    el = btn["element"]
    action: dict[str, Any] = {
        "action_id": el.get("action_id"),
        "block_id": btn.get("block_id"),
        "text": copy.deepcopy(el.get("text")),
    }
    if "value" in el:
        action["value"] = el["value"]
    if el.get("style"):
        action["style"] = el["style"]
    if el.get("url"):
        action["url"] = el["url"]
    action["type"] = "button"
    action["action_ts"] = action_ts
    return action
