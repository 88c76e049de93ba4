"""StandInTeams: the loopback Bot Connector + Teams the tests, the demo and the benchmarks use."""

from __future__ import annotations

import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl, unquote

from standin.httpd import DROP, Handler, LoopbackServer, Request, Response, SandboxHTTPServer
from standin.slack.ratelimit import format_retry_after
from standin.slack.recording import Recorder
from standin.teams.acting import INVOKE_TIMEOUT, TeamsActor
from standin.teams.auth import (
    BOT_FRAMEWORK_ISSUER,
    BOT_FRAMEWORK_LOGIN_TENANT,
    BOT_FRAMEWORK_SCOPE,
    Authority,
    TokenError,
)
from standin.teams.connector import (
    MAX_MESSAGE_BYTES,
    ChatState,
    Connector,
    Conversation,
    error,
)
from standin.teams.directory import Team, TeamsDirectory, TeamsPerson, generate_teams_directory
from standin.teams.faults import TeamsFaults
from standin.teams.limits import OP_CLASS, TeamsRateLimiter
from standin.teams.records import Call, Dialog, InvokeRecord, Message, Replies, Reply

DEFAULT_APP_ID = "00000000-0000-4000-8000-00000000e4a7"
DEFAULT_APP_PASSWORD = "sandbox-app-password"
DEFAULT_BOT_NAME = "Errata"

_BAD_GATEWAY = (
    "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    "<body><h1>502 Bad Gateway</h1><p>The server encountered a temporary error.</p></body></html>"
)
_UNAUTHORIZED = "Authorization has been denied for this request."


class _TeamsHandler(Handler):
    server_version = "Microsoft-HTTPAPI/2.0"

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")


class _TeamsHTTPServer(SandboxHTTPServer):
    handler_class = _TeamsHandler


class StandInTeams(LoopbackServer):
    """A real HTTP server on 127.0.0.1: the Bot Connector for one tenant and one bot, and Teams.

    Use as a context manager or ``start()`` / ``stop()``. The bot posts to
    ``service_url``; set ``bot_url`` (the bot's root) so the stand-in can act
    as Teams toward ``bot_url + "/api/messages"``.
    """

    server_class = _TeamsHTTPServer
    thread_name = "stand-in-teams"

    def __init__(
        self,
        directory: TeamsDirectory | None = None,
        *,
        tenant_id: str | None = None,
        app_id: str = DEFAULT_APP_ID,
        app_password: str = DEFAULT_APP_PASSWORD,
        bot_name: str = DEFAULT_BOT_NAME,
        time_scale: float = 1.0,
        seed: int = 1,
        app_rps: float | None = 50.0,
        windows: dict[str, tuple[tuple[float, float], ...] | None] | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        integer_retry_after: bool | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_calls: bool = True,
    ):
        super().__init__(host, port)
        if directory is None:
            directory = generate_teams_directory(seed=seed, tenant_id=tenant_id)
        elif tenant_id is not None and tenant_id != directory.tenant_id:
            raise ValueError(
                f"tenant_id {tenant_id!r} differs from the directory's {directory.tenant_id!r}"
            )
        self.directory = directory
        self.tenant_id = directory.tenant_id
        self.app_id = app_id
        self.app_password = app_password
        self.bot_name = bot_name
        self.bot_id = f"28:{app_id}"
        self.time_scale = float(time_scale)
        self.seed = seed
        self.bot_url: str | None = None
        self.invoke_timeout = INVOKE_TIMEOUT
        self.integer_retry_after = integer_retry_after
        self.rate_limits = TeamsRateLimiter(time_scale=time_scale, app_rps=app_rps, windows=windows)
        self.faults = TeamsFaults(seed=seed)
        self.authority = Authority(
            app_id=app_id, app_password=app_password, tenant_id=self.tenant_id
        )
        self.state = ChatState(directory, seed=seed)
        self.connector = Connector(
            self.state,
            directory,
            self.faults,
            tenant_id=self.tenant_id,
            bot_id=self.bot_id,
            app_id=app_id,
            bot_name=bot_name,
            max_message_bytes=max_message_bytes,
        )
        self.recorder = Recorder(keep_calls=keep_calls)
        self.actor = TeamsActor(self)

    # ------------------------------------------------------------------ URLs
    @property
    def service_url(self) -> str:
        """The Bot Connector base (activity.serviceUrl), with a trailing slash as Teams sends it."""
        return f"{self.url}/"

    @property
    def login_endpoint(self) -> str:
        """Replaces https://login.microsoftonline.com (CloudEnvironment.login_endpoint)."""
        return self.url

    @property
    def login_url(self) -> str:
        """The authority for bot tokens, like https://login.microsoftonline.com/botframework.com."""
        return f"{self.url}/{BOT_FRAMEWORK_LOGIN_TENANT}"

    @property
    def token_url(self) -> str:
        """POST client credentials here (also under /{tenant_id}/oauth2/v2.0/token)."""
        return f"{self.login_url}/oauth2/v2.0/token"

    @property
    def openid_metadata_url(self) -> str:
        """Like https://login.botframework.com/v1/.well-known/openidconfiguration."""
        return f"{self.url}/v1/.well-known/openidconfiguration"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/v1/.well-known/keys"

    @property
    def messaging_endpoint(self) -> str:
        if not self.bot_url:
            raise RuntimeError("stand_in.bot_url is not set (e.g. 'http://127.0.0.1:3978')")
        return self.bot_url.rstrip("/") + "/api/messages"

    def cloud_environment(self):
        """A microsoft_teams CloudEnvironment whose login, OpenID metadata and JWKS are this stand-in."""
        from microsoft_teams.api.auth.cloud_environment import PUBLIC, with_overrides

        return with_overrides(
            PUBLIC,
            login_endpoint=self.login_endpoint,
            openid_metadata_url=self.openid_metadata_url,
            token_issuer=BOT_FRAMEWORK_ISSUER,
        )

    # ------------------------------------------------------------------ tokens
    def fetch_token(self, *, client_secret: str | None = None, tenant: str | None = None) -> str:
        """Get an access token from the token endpoint over HTTP, as a bot would."""
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": self.app_id,
                "client_secret": self.app_password if client_secret is None else client_secret,
                "scope": BOT_FRAMEWORK_SCOPE,
            }
        ).encode()
        url = f"{self.url}/{tenant or BOT_FRAMEWORK_LOGIN_TENANT}/oauth2/v2.0/token"
        req = urllib.request.Request(
            url, data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())["access_token"]
        except urllib.error.HTTPError as e:
            body = e.read().decode(errors="replace")
            raise PermissionError(f"token endpoint answered {e.code}: {body}") from None

    def token_provider(self) -> Callable[..., str]:
        """A callable (scope, tenant_id=None) -> access token, cached until a minute before expiry.

        Fits microsoft_teams' ``TokenCredentials(client_id=app_id, token=...)``
        / ``App(client_id=..., token=...)``.
        """
        lock = threading.Lock()
        cache: dict[str, Any] = {"token": None, "exp": 0.0}
        lifetime = self.authority.access_token_lifetime

        def provider(scope: Any = BOT_FRAMEWORK_SCOPE, tenant_id: str | None = None) -> str:
            with lock:
                if cache["token"] is None or time.time() > cache["exp"] - 60:
                    cache["token"] = self.fetch_token()
                    cache["exp"] = time.time() + lifetime
                return cache["token"]

        return provider

    def access_token(self, **overrides: Any) -> str:
        """An access token as the token endpoint issues it; override claims to forge
        (app_id=, audience=, expires_in=, foreign=True signs with a key not in the JWKS)."""
        return self.authority.access_token(**overrides)

    def channel_token(self, **overrides: Any) -> str:
        """The JWT Teams sends to the bot; override to forge (audience=, issuer=,
        expires_in=, not_before=, service_url=, foreign=True, omit=("serviceurl",))."""
        service_url = overrides.pop("service_url", self.service_url)
        return self.authority.channel_token(service_url, **overrides)

    # ------------------------------------------------------------ HTTP entry
    def handle(self, req: Request) -> Response | object:
        path = req.path
        low = path.lower()
        if "/v3/" in low:
            return self._connector(req, path[low.index("/v3/") :])
        if low == "/v1/.well-known/openidconfiguration":
            return Response.json(self._openid_configuration())
        if low == "/v1/.well-known/keys":
            return Response.json(self.authority.jwks())
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return self._token(req, parts[0])
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            return Response.json(self._tenant_discovery(parts[0]))
        if path == "/_sandbox/stats":
            return Response.json({"stats": self.stats(), "faults": self.faults.counts})
        if path in ("/_sandbox/health", "/"):
            return Response.json({"ok": True, "service_url": self.service_url})
        return Response.json(
            {"error": {"code": "NotFound", "message": f"No route for {path}"}}, status=404
        )

    def _openid_configuration(self) -> dict[str, Any]:
        return {
            "issuer": BOT_FRAMEWORK_ISSUER,
            "authorization_endpoint": "https://invalid.botframework.com",
            "jwks_uri": self.jwks_url,
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }

    def _tenant_discovery(self, tenant: str) -> dict[str, Any]:
        base = f"{self.url}/{tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "jwks_uri": f"{self.url}/{tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "issuer": f"{self.url}/{self.tenant_id}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "tenant_region_scope": "EU",
        }

    def _token(self, req: Request, tenant: str) -> Response | object:
        started = time.time()
        form = dict(parse_qsl(req.body.decode("utf-8", errors="replace"), keep_blank_values=True))
        shown = {k: ("***" if k == "client_secret" else v) for k, v in form.items()}
        call = self.recorder.start(Call("token", req.verb, req.path, shown, started=started))
        plan = self.faults.plan("token")
        if plan.latency:
            time.sleep(plan.latency)
        if plan.drop_before:
            return self._drop(call, "drop_before")
        if plan.status or plan.burst_429:
            status = plan.status or 429
            call.fault = "429" if plan.burst_429 else str(status)
            self.recorder.fault("token")
            return self._finish(
                call,
                status,
                {"error": "temporarily_unavailable", "error_description": "AADSTS50196"},
            )
        if req.verb != "POST":
            return self._finish(call, 405, {"error": "invalid_request"})
        status, body = self.authority.token_request(tenant, form)
        call.error = body.get("error") if status != 200 else None
        self.recorder.accepted("token", status == 200, time.time())
        if plan.drop_after:
            return self._drop(call, "drop_after")
        return self._finish(call, status, body, error_code=call.error)

    # ------------------------------------------------------------- connector
    def _route(self, verb: str, path: str) -> tuple[str, list[str]]:
        """(operation, decoded path arguments) for a /v3/... path."""
        segs = [unquote(s) for s in path.split("/")[2:]]  # after "", "v3"
        n = len(segs)
        low = [s.lower() for s in segs]
        if low[:1] == ["conversations"]:
            if n == 1 and verb == "POST":
                return "conversations.create", []
            if n == 3 and low[2] == "activities" and verb == "POST":
                return "activities.send", [segs[1]]
            if n == 4 and low[2] == "activities":
                op = {
                    "POST": "activities.reply",
                    "PUT": "activities.update",
                    "DELETE": "activities.delete",
                }.get(verb)
                if op:
                    return op, [segs[1], segs[3]]
            if n == 5 and low[2] == "activities" and low[4] == "members" and verb == "GET":
                return "activity.members", [segs[1], segs[3]]
            if n == 3 and low[2] == "pagedmembers" and verb == "GET":
                return "members.paged", [segs[1]]
            if n == 3 and low[2] == "members" and verb == "GET":
                return "members.list", [segs[1]]
            if n == 4 and low[2] == "members" and verb == "GET":
                return "members.get", [segs[1], segs[3]]
        if low[:1] == ["teams"] and verb == "GET":
            if n == 2:
                return "teams.get", [segs[1]]
            if n == 3 and low[2] == "conversations":
                return "teams.conversations", [segs[1]]
        return "unknown", segs

    def _connector(self, req: Request, path: str) -> Response | object:
        started = time.time()
        op, args = self._route(req.verb, path)
        body: Any = None
        bad_json = False
        if req.body:
            try:
                body = json.loads(req.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                bad_json = True
        rec_op = "activities.send" if op == "activities.reply" else op
        call = self.recorder.start(
            Call(
                rec_op,
                req.verb,
                path,
                body,
                started=started,
                query=req.query,
                conversation_id=args[0] if args and op != "teams.get" else None,
                activity_id=args[1]
                if len(args) > 1 and op.startswith(("activities", "activity"))
                else None,
            )
        )
        try:
            self.authority.check_access_token(req.headers.get("Authorization"))
        except TokenError as e:
            call.error = "Unauthorized"
            return self._finish(
                call,
                401,
                {
                    "message": _UNAUTHORIZED,
                    "error": {"code": "Unauthorized", "message": str(e)},
                },
                headers={"WWW-Authenticate": 'Bearer realm="api.botframework.com"'},
            )
        if op == "unknown":
            return self._finish(call, *error(404, "NotFound", f"No {req.verb} {path}"))
        if bad_json:
            return self._finish(
                call, *error(400, "BadSyntax", "The request body is not valid JSON.")
            )
        plan = self.faults.plan_for(rec_op, call.conversation_id)
        if plan.latency:
            time.sleep(plan.latency)
        if plan.burst_429:
            self.recorder.fault(rec_op)
            call.fault = "429"
            headers = {}
            if plan.retry_after is not None:
                ra = plan.retry_after
                headers["Retry-After"] = format_retry_after(ra, 1.0, float(ra).is_integer())
            return self._finish(call, *self._throttled(), headers=headers)
        if plan.drop_before:
            self.recorder.fault(rec_op)
            return self._drop(call, "drop_before")
        if plan.status:
            self.recorder.fault(rec_op)
            call.fault = "412" if plan.status == 412 else "5xx"
            return self._server_error(call, plan.status)
        thread = self._thread_key(op, args, body)
        decision = self.rate_limits.check(rec_op, thread)
        if not decision.allowed:
            self.recorder.rate_limited(rec_op)
            call.fault = "ratelimited"
            return self._finish(
                call,
                *self._throttled(),
                headers={"Retry-After": self._retry_after(decision.retry_after)},
            )
        status, out = self._perform(op, args, body, req.query)
        ok = 200 <= status < 300
        if isinstance(out, dict) and out.pop("_sandbox_fault", None):
            call.fault = "blocked"
        if not ok and isinstance(out, dict):
            call.error = _error_code(out)
        if ok and isinstance(out, dict) and op.startswith("activities"):
            call.activity_id = out.get("id") or call.activity_id
        if ok and op == "conversations.create" and isinstance(out, dict):
            call.conversation_id = out.get("id")
        self.recorder.accepted(rec_op, ok, time.time())
        if plan.drop_after:
            self.recorder.fault(rec_op)
            call.status = status
            return self._drop(call, "drop_after")
        return self._finish(call, status, out)

    def _thread_key(self, op: str, args: list[str], body: Any) -> str | None:
        if op == "conversations.create":
            return self.connector.member_of_create(body)
        if OP_CLASS.get(op) or op == "activities.reply":
            return args[0] if args else None
        return None

    def _perform(self, op: str, args: list[str], body: Any, query: str) -> tuple[int, Any]:
        c = self.connector
        if op == "conversations.create":
            return c.create_conversation(body)
        if op == "activities.send":
            return c.send(args[0], body)
        if op == "activities.reply":
            return c.send(args[0], body, reply_to=args[1])
        if op == "activities.update":
            return c.update(args[0], args[1], body)
        if op == "activities.delete":
            return c.delete(args[0], args[1])
        if op == "members.paged":
            q = {k.lower(): v for k, v in parse_qsl(query, keep_blank_values=True)}
            return c.paged_members(args[0], q.get("pagesize"), q.get("continuationtoken"))
        if op == "members.list":
            return c.members(args[0])
        if op == "members.get":
            return c.member(args[0], args[1])
        if op == "activity.members":
            return c.activity_members(args[0], args[1])
        if op == "teams.get":
            return c.team_details(args[0])
        if op == "teams.conversations":
            return c.team_conversations(args[0])
        return error(404, "NotFound", op)

    def _throttled(self) -> tuple[int, dict[str, Any]]:
        return error(
            429,
            "Throttled",
            "Too many requests. Retry after the time in the Retry-After header, or back off.",
        )

    def _retry_after(self, seconds: float) -> str:
        return format_retry_after(seconds, self.time_scale, self.integer_retry_after)

    def _server_error(self, call: Call, status: int) -> Response:
        if status == 502:
            call.status, call.error, call.finished = 502, "BadGateway", time.time()
            return Response.text(_BAD_GATEWAY, status=502, content_type="text/html; charset=utf-8")
        code = {412: "PreconditionFailed", 503: "ServiceUnavailable", 504: "GatewayTimeout"}.get(
            status, "ServiceError"
        )
        message = {
            412: "The operation could not be completed because of a concurrent operation "
            "on the same conversation. Retry.",
            503: "The service is temporarily unavailable.",
            504: "The upstream service timed out.",
        }.get(status, "An unexpected error occurred.")
        return self._finish(call, *error(status, code, message))

    def _finish(
        self,
        call: Call,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        error_code: str | None = None,
    ) -> Response:
        call.status = status
        if status >= 300 and call.error is None:
            call.error = error_code or (_error_code(body) if isinstance(body, dict) else None)
        call.finished = time.time()
        merged = {"MS-CV": secrets.token_urlsafe(16)}
        if headers:
            merged.update(headers)
        if body is None:
            return Response(status, b"", "application/json; charset=utf-8", merged)
        return Response.json(body, status=status, headers=merged)

    def _drop(self, call: Call, kind: str) -> object:
        call.fault = kind
        call.finished = time.time()
        return DROP

    # ------------------------------------------------------------- recording
    def calls(self, method: str | None = None) -> list[Call]:
        """Every connector/token call in arrival order (401s, 429s and faults included)."""
        return self.recorder.calls(method)

    def stats(self) -> dict[str, dict]:
        """Per operation: accepted, errors, rate_limited, faults, first/last, accepted_per_second."""
        return self.recorder.stats()

    def reset_records(self) -> None:
        self.recorder.reset()

    def ceiling_per_second(self, scope: str = "app", *, window: float | None = None) -> float:
        """Allowed calls per real second: "app" (per tenant) or per conversation for
        "send" / "create" / "members" (or an operation name); see TeamsRateLimiter."""
        return self.rate_limits.ceiling_per_second(scope, window=window)

    def burst(self, scope: str = "app") -> float:
        return self.rate_limits.burst(scope)

    def person(self, user: str | TeamsPerson) -> TeamsPerson:
        p = self.directory.person(user)
        if p is None:
            raise LookupError(f"no person {user!r} in the directory")
        return p

    def team(self, team: str | Team) -> Team:
        t = self.directory.team(team)
        if t is None:
            raise LookupError(f"no team {team!r} in the directory")
        return t

    def block(
        self, user: str | TeamsPerson, code: str | None = "ConversationBlockedByUser"
    ) -> None:
        """Writes into the user's 1:1 answer 403 ``code`` (None unblocks); any key of the person."""
        self.faults.block(self.person(user).id, code)

    def conversation_of(self, user: str | TeamsPerson) -> str | None:
        """The id of the user's 1:1 chat with the bot, once it exists."""
        with self.state.lock:
            return self.state.personal.get(self.person(user).id)

    def _conversation(self, cid: str) -> Conversation | None:
        with self.state.lock:
            return self.state.conversations.get(cid)

    def messages(self, conversation_id: str, *, include_deleted: bool = False) -> list[Message]:
        """Every message in a conversation (the bot's and people's), oldest first, current state."""
        with self.state.lock:
            conv = self.state.conversations.get(conversation_id)
            if conv is None:
                return []
            return [m.snapshot() for m in conv.messages if include_deleted or not m.deleted]

    def chat(self, user: str | TeamsPerson, *, include_deleted: bool = False) -> list[Message]:
        """What the bot sent into its 1:1 with ``user``, oldest first, as it stands now."""
        cid = self.conversation_of(user)
        if cid is None:
            return []
        return [m for m in self.messages(cid, include_deleted=include_deleted) if m.sender == "bot"]

    def find_message(self, conversation_id: str, activity_id: str) -> Message | None:
        with self.state.lock:
            conv = self.state.conversations.get(conversation_id)
            msg = conv.by_id.get(activity_id) if conv else None
            return msg.snapshot() if msg else None

    def channel_messages(self, team: str | Team) -> list[Message]:
        """What the bot posted in a team's General channel."""
        return [m for m in self.messages(self.team(team).id) if m.sender == "bot"]

    def channel_posts(self, channel_id: str) -> list[Message]:
        """What the bot posted in a channel (each post the root of a thread)."""
        return [m for m in self.messages(channel_id) if m.sender == "bot"]

    def thread(self, channel_id: str, root_id: str) -> list[Message]:
        """Replies in the thread of post ``root_id`` in a channel, oldest first."""
        return self.messages(f"{channel_id};messageid={root_id}")

    def invokes(self, user: str | TeamsPerson) -> list[InvokeRecord]:
        """Invokes sent as ``user`` and what became of the bot's answers."""
        with self.state.lock:
            return list(self.state.invokes.get(self.person(user).id, []))

    def shown(self, user: str | TeamsPerson) -> list[str]:
        """Messages Teams showed ``user`` from invoke answers (activity.message, task message)."""
        with self.state.lock:
            return list(self.state.shown.get(self.person(user).id, []))

    def open_dialog_views(self, user: str | TeamsPerson) -> list[dict[str, Any]]:
        """The user's open dialog as [{id, title, card, url, height, width, message_id}] (or [])."""
        with self.state.lock:
            d = self.state.dialogs.get(self.person(user).id)
            return [d.view()] if d else []

    def dialog(self, user: str | TeamsPerson) -> Dialog | None:
        with self.state.lock:
            return self.state.dialogs.get(self.person(user).id)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Block until ``predicate()`` is truthy (re-checked on every change); return its value."""
        return self.state.wait_for(predicate, timeout)

    # --------------------------------------------------------- acting as Teams
    def install(self, user: str | TeamsPerson, *, profile: bool = True) -> Replies:
        return self.actor.install(user, profile=profile)

    def uninstall(self, user: str | TeamsPerson) -> Replies:
        return self.actor.uninstall(user)

    def install_many(
        self, users: list[str | TeamsPerson] | None = None, *, workers: int = 8
    ) -> list[Replies]:
        """``install`` for many people at once (default: everyone the directory says has the
        app, so the bot learns of them as it would have from Teams), ``workers`` at a time."""
        people = self.directory.installed() if users is None else list(users)
        if workers <= 1:
            return [self.actor.install(u) for u in people]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(self.actor.install, people))

    def install_in_team(self, team: str | Team, by: str | TeamsPerson | None = None) -> Replies:
        return self.actor.install_in_team(team, by)

    def uninstall_from_team(self, team: str | Team, by: str | TeamsPerson | None = None) -> Replies:
        return self.actor.uninstall_from_team(team, by)

    def message(self, user: str | TeamsPerson, text: str) -> Reply:
        """``user`` writes ``text`` to the bot in their 1:1 chat."""
        return self.actor.message(user, text)

    def message_in_channel(self, user: str | TeamsPerson, team: str | Team, text: str) -> Reply:
        """``user`` @mentions the bot in a new thread of the team's General channel."""
        return self.actor.message_in_channel(user, team, text)

    def post_in_channel(self, user: str | TeamsPerson, channel_id: str, text: str) -> Message:
        """``user`` posts ``text`` in a channel of their team (not sent to the bot)."""
        return self.actor.post_in_channel(user, channel_id, text)

    def message_action(self, user: str | TeamsPerson, message: Message, command_id: str) -> Reply:
        """``user`` picks the app's message action ``command_id`` on a channel ``message``
        (composeExtension/fetchTask); submit_dialog then sends composeExtension/submitAction."""
        return self.actor.message_action(user, message, command_id)

    def group_chat(self, users: list[str | TeamsPerson], *, bot_installed: bool = True) -> str:
        """A group chat of ``users`` with the app added; its conversation id."""
        return self.actor.group_chat(users, bot_installed=bot_installed)

    def message_in_group_chat(self, user: str | TeamsPerson, chat_id: str, text: str) -> Reply:
        """``user`` @mentions the bot in a group chat."""
        return self.actor.message_in_group_chat(user, chat_id, text)

    def rename_team(
        self, team: str | Team, name: str, by: str | TeamsPerson | None = None
    ) -> Reply:
        return self.actor.rename_team(team, name, by)

    def open_card(self, user: str | TeamsPerson, message: Message) -> Reply | None:
        """``user`` looks at ``message``: its card's ``refresh`` runs (None if it has none)."""
        return self.actor.open_card(user, message)

    def invoke_action(
        self,
        user: str | TeamsPerson,
        message: Message,
        title: str,
        values: dict[str, Any] | None = None,
    ) -> Reply:
        return self.actor.invoke_action(user, message, title, values)

    def open_dialog(
        self,
        user: str | TeamsPerson,
        message: Message,
        title: str,
        values: dict[str, Any] | None = None,
    ) -> Reply:
        return self.actor.open_dialog(user, message, title, values)

    def submit_dialog(
        self,
        user: str | TeamsPerson,
        values: dict[str, Any],
        *,
        button: str | None = None,
        client_checks: bool = True,
    ) -> Reply:
        return self.actor.submit_dialog(user, values, button=button, client_checks=client_checks)

    def close_dialog(self, user: str | TeamsPerson) -> None:
        self.actor.close_dialog(user)

    def send_activity(
        self, activity: dict[str, Any], *, token: str | None = None, headers: dict | None = None
    ) -> Reply:
        """POST any activity as Teams (token: a forged one, "" for none, None = a good one)."""
        return self.actor.send_activity(activity, token=token, headers=headers)

    def post_raw(self, body: bytes | str, headers: dict[str, str]) -> Reply:
        return self.actor.post_raw(body, headers)

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return (
            f"<StandInTeams {self.url} {state} people={len(self.directory)} "
            f"teams={len(self.directory.teams)} time_scale={self.time_scale}>"
        )


def _error_code(body: dict[str, Any]) -> str | None:
    err = body.get("error")
    if isinstance(err, dict):
        return err.get("code")
    if isinstance(err, str):
        return err
    if "errorCode" in body:
        try:
            return json.loads(body.get("message", "{}")).get("subCode") or str(body["errorCode"])
        except (ValueError, AttributeError):
            return str(body["errorCode"])
    return None
