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
from typing import TYPE_CHECKING

from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier

if TYPE_CHECKING:
    from bot.app import Bot

log = logging.getLogger(__name__)


def wsgi_application(bot: Bot):
    """One HTTP surface: `POST /slack/events` (Slack), `POST /api/messages` (Teams),
    `GET /reports/...` (signed report links), `GET /healthz`.

    Slack's signature is checked here, before bolt parses the body: a forged
    request gets 401 whatever its body, and a signed one that cannot be parsed
    gets a clean 400 instead of a 500 with a traceback. Teams requests are
    authenticated as the Bot Framework requires (a JWT from the Bot Connector).
    """
    slack = SlackRequestHandler(bot.app, path="/slack/events") if bot.app else None
    secret = bot.settings.slack_signing_secret
    verifier = SignatureVerifier(secret) if secret and not bot.settings.slack_app_token else None
    teams = None
    if bot.teams is not None:
        # Microsoft's SDK takes seconds to import: only when Teams is configured.
        from handlers.teams import TeamsListeners, parse_activity

        teams = TeamsListeners(bot.core, bot.teams, bot.report_link)

    def respond(start_response, status: str, payload, content_type: str = "application/json"):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]

    def read_body(environ) -> bytes:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        return raw

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD")
        if path == "/healthz":
            return respond(start_response, "200 OK", {"ok": True})
        if path.startswith("/reports/") and method == "GET":
            return bot.serve_report(path, environ.get("QUERY_STRING", ""), start_response)
        if path == "/slack/events" and method == "POST" and slack is not None:
            raw = read_body(environ)
            if verifier is not None and not _signed(verifier, raw, environ):
                return respond(start_response, "401 Unauthorized", {"error": "invalid request"})
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

    return application


def _signed(verifier: SignatureVerifier, raw: bytes, environ) -> bool:
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not timestamp.isdigit() or not signature:
        return False
    try:
        return verifier.is_valid(body=raw, timestamp=timestamp, signature=signature)
    except (ValueError, TypeError, UnicodeDecodeError):
        return False
