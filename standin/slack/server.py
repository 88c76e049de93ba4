"""StandInSlack: the loopback Slack the tests, the demo and the benchmarks talk to."""

from __future__ import annotations

import contextlib
import copy
import json
import time
from typing import Any

from standin.httpd import DROP, BadRequest, LoopbackServer, Request, Response
from standin.slack.acting import SLACK_ACK_SECONDS, Actor
from standin.slack.directory import Directory, generate_directory
from standin.slack.faults import Faults
from standin.slack.ratelimit import DEFAULT_BURST_SECONDS, RateLimiter, format_retry_after
from standin.slack.recording import Recorder
from standin.slack.records import Call, Message, Reply, UploadedFile
from standin.slack.webapi import WebAPI
from standin.slack.workspace import Workspace

OAUTH_SCOPES = (
    "chat:write,chat:write.public,commands,users:read,users:read.email,usergroups:read,"
    "channels:read,groups:read,im:read,im:write,im:history,files:write"
)

_BAD_GATEWAY = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)


class StandInSlack(LoopbackServer):
    """A real HTTP server on 127.0.0.1 that behaves like Slack for one workspace and one app.

    Use as a context manager or call ``start()`` / ``stop()``. Point the bot at
    ``api_url`` (SLACK_API_URL) and set ``bot_url`` to the bot's root URL so the
    stand-in can act as Slack toward it.
    """

    thread_name = "stand-in-slack"

    def __init__(
        self,
        directory: Directory | None = None,
        *,
        signing_secret: str = "sandbox-signing-secret",
        bot_token: str = "xoxb-sandbox",
        time_scale: float = 1.0,
        post_per_minute: float | None = 300,
        seed: int = 1,
        limits: dict[str, float | None] | None = None,
        burst_seconds: float = DEFAULT_BURST_SECONDS,
        integer_retry_after: bool | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_calls: bool = True,
        scopes: str = OAUTH_SCOPES,
    ):
        super().__init__(host, port)
        self.directory = directory if directory is not None else generate_directory(seed=seed)
        self.signing_secret = signing_secret
        self.bot_token = bot_token
        self.verification_token = "sandbox-verification-token"
        self.time_scale = float(time_scale)
        self.bot_url: str | None = None
        self.ack_timeout = SLACK_ACK_SECONDS
        self.rate_limits = RateLimiter(
            time_scale=time_scale,
            post_per_minute=post_per_minute,
            limits=limits,
            burst_seconds=burst_seconds,
        )
        self.rate_limits.integer_retry_after = integer_retry_after
        self.faults = Faults(seed=seed)
        self.workspace = Workspace(self.directory, seed=seed)
        self.recorder = Recorder(keep_calls=keep_calls)
        self.api = WebAPI(self.workspace, self.directory, self.faults, lambda: self.url)
        self.actor = Actor(self)
        # The bot token's scopes (tests pass the manifest's): what Slack shows depends on them.
        self.api.scopes = frozenset(scope.strip() for scope in scopes.split(",") if scope.strip())
        self._headers = {"X-OAuth-Scopes": scopes, "X-Accepted-OAuth-Scopes": ""}

    # ------------------------------------------------------------------ URLs
    @property
    def api_url(self) -> str:
        """What goes in SLACK_API_URL (slack_sdk appends the method name)."""
        return f"{self.url}/api/"

    @property
    def bot_user_id(self) -> str:
        return self.directory.bot_user_id

    @property
    def team_id(self) -> str:
        return self.directory.team_id

    # ------------------------------------------------------------ HTTP entry
    def handle(self, req: Request) -> Response | object:
        path = req.path
        if path.startswith("/api/"):
            return self._api(req, path[5:])
        if path.startswith("/hooks/"):
            return self._hook(req, path)
        if path.startswith("/upload/v1/"):
            return self._upload(req, path[len("/upload/v1/") :])
        if path == "/_sandbox/stats":
            return Response.json({"ok": True, "stats": self.stats(), "faults": self.faults.counts})
        if path in ("/_sandbox/health", "/"):
            return Response.json({"ok": True, "api_url": self.api_url})
        return Response.text("Not Found", status=404)

    def _retry_after(self, seconds: float) -> str:
        return format_retry_after(seconds, self.time_scale, self.rate_limits.integer_retry_after)

    def _api(self, req: Request, method: str) -> Response | object:
        started = time.time()
        try:
            args = req.args()
        except BadRequest as e:
            call = self.recorder.start(Call(method, {}, started=started))
            return self._answer(call, {"ok": False, "error": e.error})
        token = None
        auth = req.headers.get("Authorization")
        if auth and auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
        form_token = args.pop("token", None)
        _decode_json_fields(args)
        token = token or form_token
        call = self.recorder.start(Call(method, args, started=started))
        if not token:
            return self._answer(call, {"ok": False, "error": "not_authed"})
        if token != self.bot_token:
            return self._answer(call, {"ok": False, "error": "invalid_auth"})
        if not self.api.has(method):
            return self._answer(
                call, {"ok": False, "error": "unknown_method", "req_method": method}
            )
        plan = self.faults.plan(method)
        if plan.latency:
            time.sleep(plan.latency)
        if plan.burst_429:
            self.recorder.fault(method)
            call.fault = "429"
            if plan.retry_after is None:
                header = self._retry_after(1.0 / self.time_scale)
            else:  # as the test gave it
                header = format_retry_after(
                    plan.retry_after, 1.0, integer=float(plan.retry_after).is_integer()
                )
            return self._answer(
                call,
                {"ok": False, "error": "ratelimited"},
                429,
                {"Retry-After": header},
            )
        if plan.drop_before:
            self.recorder.fault(method)
            call.fault = "drop_before"
            call.finished = time.time()
            return DROP
        if plan.status:
            self.recorder.fault(method)
            call.fault = "5xx"
            return self._server_error(call, plan.status)
        decision = self.rate_limits.check(method, self.api.rate_key(method, args))
        if not decision.allowed:
            self.recorder.rate_limited(method)
            call.fault = "ratelimited"
            return self._answer(
                call,
                {"ok": False, "error": "ratelimited"},
                429,
                {"Retry-After": self._retry_after(decision.retry_after)},
            )
        body = self.api.call(method, args)
        if body.pop("_sandbox_fault", None):
            call.fault = "fail_user"
        ok = bool(body.get("ok"))
        self.recorder.accepted(method, ok, time.time())
        if plan.drop_after:
            self.recorder.fault(method)
            call.fault = "drop_after"
            call.ok, call.error = ok, body.get("error")
            call.finished = time.time()
            return DROP
        return self._answer(call, body)

    def _answer(
        self, call: Call, body: dict, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        call.status = status
        call.ok = bool(body.get("ok"))
        call.error = body.get("error")
        call.finished = time.time()
        merged = dict(self._headers)
        if headers:
            merged.update(headers)
        return Response.json(body, status=status, headers=merged)

    def _server_error(self, call: Call, status: int) -> Response:
        call.status = status
        call.ok = False
        call.finished = time.time()
        if status == 502:
            call.error = "bad_gateway"
            return Response.text(_BAD_GATEWAY, status=502, content_type="text/html")
        call.error = "fatal_error" if status == 500 else "service_unavailable"
        return Response.json(
            {"ok": False, "error": call.error}, status=status, headers=dict(self._headers)
        )

    def _hook(self, req: Request, path: str) -> Response | object:
        rest = path[len("/hooks/") :]
        _kind, _, token = rest.partition("/")
        plan = self.faults.plan("response_url")
        if plan.latency:
            time.sleep(plan.latency)
        if plan.drop_before:
            return DROP
        if plan.status:
            return Response.text(_BAD_GATEWAY, status=plan.status, content_type="text/html")
        resp = self.actor.handle_hook(token, req.body, req.content_type)
        if plan.drop_after:
            return DROP
        return resp

    def _upload(self, req: Request, token: str) -> Response | object:
        file_id, _, secret = token.partition(".")
        plan = self.faults.plan("upload")
        if plan.latency:
            time.sleep(plan.latency)
        if plan.drop_before:
            return DROP
        if plan.status:
            return Response.text(_BAD_GATEWAY, status=plan.status, content_type="text/html")
        ws = self.workspace
        with ws.changed:
            f = ws.files.get(file_id)
            if (
                f is None
                or ws.upload_secrets.get(file_id) != secret
                or req.verb not in ("POST", "PUT")
            ):
                return Response.text("Not Found", status=404)
            content = req.body
            if req.content_type == "multipart/form-data":
                try:
                    fields = req.args()
                except BadRequest:
                    return Response.text("Bad Request", status=400)
                content = next((v for v in fields.values() if isinstance(v, bytes)), b"")
            f.content = content
            ws.changed.notify_all()
        if plan.drop_after:
            return DROP
        return Response.text(f"OK - {len(content)}")

    # ------------------------------------------------------------- recording
    def calls(self, method: str | None = None) -> list[Call]:
        """Every Web API call in arrival order (429s, faults and errors included)."""
        return self.recorder.calls(method)

    def stats(self) -> dict[str, dict]:
        """Per method: accepted, errors, rate_limited, faults, first/last accepted, accepted_per_second."""
        return self.recorder.stats()

    def ceiling_per_second(self, method: str, *, per_channel: bool = False) -> float:
        """The steady-state rate the stand-in allows for ``method``, in calls per real second."""
        return self.rate_limits.ceiling_per_second(method, per_channel=per_channel)

    def burst(self, method: str, *, per_channel: bool = False) -> float:
        """How many calls of ``method`` a full bucket accepts at once (before the ceiling applies)."""
        return self.rate_limits.burst(method, per_channel=per_channel)

    def dm_channel(self, user_id: str) -> str | None:
        """The D id of the bot's DM with ``user_id``, once the bot has used it."""
        return self.workspace.dm_if_open(user_id)

    def messages(self, channel_id: str, *, include_deleted: bool = False) -> list[Message]:
        """Messages in a conversation, oldest first, as they stand now (copies)."""
        with self.workspace.lock:
            msgs = self.workspace.messages.get(channel_id, [])
            return [m.snapshot() for m in msgs if include_deleted or not m.deleted]

    def dm(self, user_id: str, *, include_deleted: bool = False) -> list[Message]:
        """What the bot posted in its DM with ``user_id``, oldest first, current state."""
        channel = self.workspace.dm_if_open(user_id)
        if channel is None:
            return []
        return [
            m
            for m in self.messages(channel, include_deleted=include_deleted)
            if m.bot_id == self.directory.bot_id
        ]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """Replies in the thread of message ``ts`` in a channel, oldest first (copies)."""
        return [m for m in self.messages(channel_id) if m.thread_ts == ts and m.ts != ts]

    def message(self, channel_id: str, ts: str) -> Message | None:
        with self.workspace.lock:
            m = self.workspace.message(channel_id, ts)
            return m.snapshot() if m is not None else None

    def ephemerals(self, user_id: str) -> list[Message]:
        """Ephemeral messages ``user_id`` saw: chat.postEphemeral, response_url, command answers."""
        with self.workspace.lock:
            return [
                m.snapshot() for m in self.workspace.ephemerals.get(user_id, []) if not m.deleted
            ]

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The last App Home view published for ``user_id``."""
        with self.workspace.lock:
            vid = self.workspace.homes.get(user_id)
            return _copy(self.workspace.views[vid].view) if vid else None

    def open_views(self, user_id: str) -> list[dict[str, Any]]:
        """The user's modal stack, bottom first (empty when no modal is open)."""
        with self.workspace.lock:
            return [
                _copy(self.workspace.views[v].view) for v in self.workspace.stacks.get(user_id, [])
            ]

    def view(self, view_id: str) -> dict[str, Any] | None:
        with self.workspace.lock:
            rec = self.workspace.views.get(view_id)
            return _copy(rec.view) if rec else None

    def files(self, channel_id: str | None = None) -> list[UploadedFile]:
        """Completed uploads (with content bytes), optionally only those shared to ``channel_id``."""
        with self.workspace.lock:
            out = [f for f in self.workspace.files.values() if f.completed]
        if channel_id is not None:
            out = [f for f in out if channel_id in f.channels]
        return out

    def wait_for(self, predicate, timeout: float = 5.0) -> Any:
        """Block until ``predicate()`` is truthy (re-checked on every change); return its value."""
        return self.workspace.wait_for(predicate, timeout)

    def inject_message(
        self, channel_id: str, user_id: str, text: str, blocks: list | None = None
    ) -> Message:
        """Put a message from a person into a conversation (not from the bot)."""
        msg = Message(
            channel=channel_id,
            ts=self.workspace.next_ts(),
            text=text,
            blocks=list(blocks or []),
            posted_at=time.time(),
            user=user_id,
            team=self.directory.team_id,
            source="user",
        )
        return self.workspace.add_message(msg).snapshot()

    def reset_records(self) -> None:
        """Forget recorded calls and stats (state such as messages is kept)."""
        self.recorder.reset()

    # --------------------------------------------------------- acting as Slack
    def sign(
        self, body: bytes | str, timestamp: int | str | None = None, secret: str | None = None
    ) -> dict[str, str]:
        return self.actor.sign(body, timestamp, secret)

    def post_raw(self, body: bytes | str, headers: dict[str, str]) -> Reply:
        return self.actor.post_raw(body, headers)

    def command(
        self, user_id: str, command: str, text: str = "", channel_id: str | None = None
    ) -> Reply:
        return self.actor.command(user_id, command, text, channel_id)

    def submit_view(
        self,
        user_id: str,
        values: dict[str, Any],
        view_id: str | None = None,
        *,
        wait: float = 3.0,
        without_values: bool = False,
    ) -> Reply:
        return self.actor.submit_view(
            user_id, values, view_id, wait=wait, without_values=without_values
        )

    def close_view(self, user_id: str, view_id: str | None = None) -> Reply | None:
        return self.actor.close_view(user_id, view_id)

    def click(
        self, user_id: str, message: Message, button_text: str, *, from_view: bool = False
    ) -> Reply:
        return self.actor.click(user_id, message, button_text, from_view=from_view)

    def click_home(self, user_id: str, button_text: str) -> Reply:
        return self.actor.click_view(user_id, button_text, home=True)

    def click_view(self, user_id: str, button_text: str, view_id: str | None = None) -> Reply:
        return self.actor.click_view(user_id, button_text, view_id)

    def message_shortcut(self, user_id: str, message: Message, callback_id: str) -> Reply:
        return self.actor.message_shortcut(user_id, message, callback_id)

    def send_event(
        self,
        event: dict[str, Any],
        retry_num: int | None = None,
        retry_reason: str | None = None,
        event_id: str | None = None,
    ) -> Reply:
        return self.actor.send_event(event, retry_num, retry_reason, event_id)

    def open_home(self, user_id: str) -> Reply:
        return self.actor.open_home(user_id)

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"<StandInSlack {self.url} {state} people={len(self.directory)} time_scale={self.time_scale}>"


JSON_FIELDS = ("blocks", "metadata", "view", "files", "attachments")


def _decode_json_fields(args: dict[str, Any]) -> None:
    """Form bodies carry blocks/metadata/view as JSON strings: record them as objects."""
    for key in JSON_FIELDS:
        value = args.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)


def _copy(view: dict) -> dict:
    return copy.deepcopy(view)
