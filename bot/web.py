"""The one HTTP surface: `POST /slack/events` (Slack), `POST /api/messages`
(Teams), `GET /reports/...` (signed report links), `GET /healthz`.

Nothing from a request is parsed before it is authenticated: Slack's
signature and the Bot Framework's JWT are checked on the raw bytes, and a
body over MAX_REQUEST_BYTES is refused before it is read.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

from bot.logs import escape

if TYPE_CHECKING:
    from bot.app import Bot

log = logging.getLogger(__name__)

REPLAY_SECONDS = 6 * 60  # Slack refuses a timestamp more than 5 minutes off


def wsgi_application(bot: Bot):
    """One HTTP surface: `POST /slack/events` (Slack), `POST /api/messages` (Teams),
    `GET /reports/...` (signed report links), `GET /healthz`.

    Slack's signature is checked here, before bolt parses the body: a forged
    request gets 401 whatever its body, and a signed one that cannot be parsed
    gets a clean 400 instead of a 500 with a traceback. In Socket Mode,
    `/slack/events` is served only when a signing secret is set, and then
    verified the same way: nothing unsigned is acted on in any mode. Teams
    requests are authenticated as the Bot Framework requires (a JWT from the
    Bot Connector) before their JSON is parsed.
    """
    secret = bot.settings.slack_signing_secret
    slack = SlackRequestHandler(bot.app, path="/slack/events") if bot.app and secret else None
    verifier = SignatureVerifier(secret) if secret else None
    replays = ReplayGuard()
    teams = None
    if bot.teams is not None:
        # Microsoft's SDK takes seconds to import: only when Teams is configured.
        from handlers.teams import TeamsListeners, parse_activity

        teams = TeamsListeners(bot.core, bot.teams, bot.report_link)

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        if path == "/healthz":
            return respond(start_response, "200 OK", {"ok": True})
        if path.startswith("/reports/") and method == "GET":
            return serve_report(bot, environ, start_response)
        if path == "/slack/events" and method == "POST" and slack is not None:
            raw = read_body(environ)
            if not _signed(verifier, raw, environ):
                return respond(start_response, "401 Unauthorized", {"error": "invalid request"})
            if not replays.first(environ.get("HTTP_X_SLACK_SIGNATURE", "")):
                # The very same signed bytes again (a replay, or a duplicate delivery):
                # answered as Slack expects, acted on once.
                return respond(start_response, "200 OK", b"", "text/plain")
            try:
                return slack(environ, start_response)
            except Exception:
                log.warning("unparsable request from Slack refused", exc_info=True)
                return respond(start_response, "400 Bad Request", {"error": "malformed request"})
        if path == "/api/messages" and method == "POST" and teams is not None:
            raw = read_body(environ)
            # The token first (in this worker thread), then the JSON, then the activity.
            claims = bot.teams.inbound.verify(environ.get("HTTP_AUTHORIZATION", ""))
            if claims is None:
                return respond(start_response, "401 Unauthorized", {"error": "Unauthorized"})
            activity = parse_activity(raw)
            if activity is None:
                return respond(start_response, "400 Bad Request", {"error": "malformed activity"})
            reason = bot.teams.inbound.admit(claims, activity)
            if reason is not None:
                log.warning("Teams activity refused: %r", reason[:300])
                return respond(start_response, "403 Forbidden", {"error": "Forbidden"})
            try:
                status, body = teams.handle(activity)
            except Exception:
                log.exception("Teams activity %r failed", str(activity.get("type"))[:60])
                return respond(
                    start_response, "500 Internal Server Error", {"error": "internal error"}
                )
            return respond(start_response, f"{status} OK", body if body is not None else {})
        return respond(start_response, "404 Not Found", {"error": "not found"})

    return limit_body(application, bot.settings.max_request_bytes)


def respond(start_response, status: str, payload, content_type: str = "application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def read_body(environ) -> bytes:
    """The body (already bounded by `limit_body`), left readable for bolt after us."""
    raw = environ["wsgi.input"].read(environ.get("errata.body_limit", 0) + 1)
    environ["wsgi.input"] = io.BytesIO(raw)
    return raw


def limit_body(application, max_bytes: int):
    """Refuse a body over `max_bytes` with 413 before reading it, on every route.

    A declared length is checked first (a body that claims 2 GB is refused at
    once, unread); a body without one (chunked) is read only up to the limit.
    waitress enforces the same limit itself (`create_server`); this holds behind
    any other server too.
    """

    def limited(environ, start_response):
        declared = environ.get("CONTENT_LENGTH") or ""
        if declared and not (declared.isascii() and declared.isdigit()):
            return respond(start_response, "400 Bad Request", {"error": "bad Content-Length"})
        if declared and int(declared) > max_bytes:
            return too_large(start_response, max_bytes)
        length = int(declared) if declared else None
        stream = environ.get("wsgi.input")
        if stream is not None and environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH"):
            raw = stream.read(length if length is not None else max_bytes + 1)
            if len(raw) > max_bytes:
                return too_large(start_response, max_bytes)
            environ["wsgi.input"] = io.BytesIO(raw)
            environ["CONTENT_LENGTH"] = str(len(raw))
        environ["errata.body_limit"] = max_bytes
        return application(environ, start_response)

    return limited


def too_large(start_response, max_bytes: int):
    return respond(
        start_response,
        "413 Content Too Large",
        {"error": f"request body over {max_bytes} bytes"},
    )


def serve_report(bot: Bot, environ, start_response):
    """A signed report link: the CSV, or 403 for anything altered, malformed or expired."""
    from bot import reports

    now = bot.clock.now()
    download = bot.links.check(
        environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", ""), now.timestamp()
    )
    if download is None or bot.store.memo(download.memo_id) is None:
        return respond(
            start_response,
            "403 Forbidden",
            b"This report link is not valid or has expired.",
            "text/plain; charset=utf-8",
        )
    bot.store.record_report_download(
        now,
        download.memo_id,
        download.issued_to,
        {
            "expires": download.expires,
            "from": escape(environ.get("REMOTE_ADDR", ""))[:64],
            "forwarded_for": escape(environ.get("HTTP_X_FORWARDED_FOR", ""))[:200],
        },
    )
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/csv; charset=utf-8"),
            (
                "Content-Disposition",
                f'attachment; filename="errata-M-{download.memo_id}-report.csv"',
            ),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    rows = reports.rows(bot.store, download.memo_id)
    return (chunk.encode("utf-8") for chunk in reports.csv_chunks(rows))


class ReplayGuard:
    """Signatures seen in the last REPLAY_SECONDS (Slack refuses older timestamps
    itself): the same signed bytes are acted on once."""

    def __init__(self, seconds: float = REPLAY_SECONDS, limit: int = 100_000):
        self._seconds = seconds
        self._limit = limit
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, signature: str) -> bool:
        now = time.monotonic()
        with self._lock:
            while self._seen and next(iter(self._seen.values())) < now - self._seconds:
                self._seen.popitem(last=False)
            if signature in self._seen:
                return False
            self._seen[signature] = now
            if len(self._seen) > self._limit:
                self._seen.popitem(last=False)
            return True


def create_server(bot: Bot, host: str, port: int):
    """waitress, set so that idle or slow connections cannot crowd out real requests.

    waitress parks idle connections on its event loop (they hold no worker
    thread) but stops accepting at `connection_limit` (100 by default, and 110
    half-sent requests made /healthz time out); a higher limit, poll() instead
    of select() past 1,024 descriptors, and a short idle timeout keep the bot
    answering. A reverse proxy with header and body timeouts belongs in front
    in production (README, "Security").
    """
    from waitress import create_server as waitress_server

    return waitress_server(
        wsgi_application(bot),
        host=host,
        port=port,
        threads=16,
        ident="errata",
        connection_limit=_connection_limit(),
        asyncore_use_poll=True,
        channel_timeout=30,
        cleanup_interval=5,
        max_request_header_size=64 * 1024,
        max_request_body_size=bot.settings.max_request_bytes,
        expose_tracebacks=False,
    )


def _connection_limit() -> int:
    """As many connections as the process may open files, less room for the database,
    outgoing calls and logs (raising the soft limit to the hard one first)."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
        if soft != resource.RLIM_INFINITY and soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    except (ImportError, ValueError, OSError):
        return 500
    return max(100, min(4000, (soft if soft != resource.RLIM_INFINITY else 8192) - 200))


def _signed(verifier: SignatureVerifier, raw: bytes, environ) -> bool:
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not timestamp.isdigit() or not signature:
        return False
    try:
        return verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)
    except (ValueError, TypeError, UnicodeDecodeError):
        return False
