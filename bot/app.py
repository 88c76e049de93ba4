"""Build the bolt App and the WSGI application around it."""

from __future__ import annotations

import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

import handlers
from bot.config import Settings
from bot.core import Core

log = logging.getLogger(__name__)


def create_app(settings: Settings, core: Core) -> App:
    """The bolt App with every Errata listener registered; nothing global."""
    client = WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, retry_handlers=[]
    )
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=not settings.slack_app_token,
        process_before_response=False,
        # A burst of clicks must never queue behind slow listeners.
        listener_executor=ThreadPoolExecutor(max_workers=32, thread_name_prefix="listener"),
    )

    @app.middleware
    def provide_core(context, next):
        context["core"] = core
        return next()

    @app.middleware
    def once_per_event(body, next):
        """Slack retries an event it thinks we missed; each event_id is handled once."""
        event = body.get("event") if isinstance(body, dict) else None
        event_id = body.get("event_id") if isinstance(event, dict) else None
        if event_id and not core.store.first_delivery_of_event(event_id, core.clock.now()):
            return BoltResponse(status=200, body="")
        return next()

    @app.error
    def on_error(error, body, logger):
        logger.exception("listener failed for %s", (body or {}).get("type"), exc_info=error)
        return BoltResponse(status=200, body="")

    handlers.register(app)
    return app


def wsgi_application(app: App, signing_secret: str | None = None):
    """`POST /slack/events` for Slack, `GET /healthz` for the platform's health check.

    The signature is checked here, before bolt parses the body: a forged request
    gets 401 whatever its body, and a signed one that cannot be parsed gets a
    clean 400 instead of a 500 with a traceback.
    """
    slack = SlackRequestHandler(app, path="/slack/events")
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    def respond(start_response, status: str, payload: dict):
        body = json.dumps(payload).encode()
        start_response(
            status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return respond(start_response, "200 OK", {"ok": True})
        if path != "/slack/events" or environ.get("REQUEST_METHOD") != "POST":
            return respond(start_response, "404 Not Found", {"error": "not found"})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        if verifier is not None and not _signed(verifier, raw, environ):
            return respond(start_response, "401 Unauthorized", {"error": "invalid request"})
        try:
            return slack(environ, start_response)
        except Exception:
            log.warning("unparsable request from Slack refused", exc_info=True)
            return respond(start_response, "400 Bad Request", {"error": "malformed request"})

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


class Bot:
    """Everything `python -m bot` runs: the core, its Slack adapter and the bolt App."""

    def __init__(self, settings: Settings, *, clock=None, idle_wait: float = 0.25):
        from bot.clock import Clock
        from bot.slack.adapter import SlackPlatform
        from bot.store import Store

        self.settings = settings
        self.clock = clock or Clock()
        self.store = Store(settings.database_path)
        self.store.migrate()
        self.slack = SlackPlatform(
            token=settings.slack_bot_token,
            api_url=settings.slack_api_url,
            store=self.store,
            clock=self.clock,
            post_per_minute=settings.slack_post_per_minute,
            update_per_minute=settings.slack_update_per_minute,
            show_retracted_body=settings.show_retracted_body,
            max_reminders=settings.max_reminders,
        )
        self.core = Core(
            settings, self.store, self.clock, {"slack": self.slack}, idle_wait=idle_wait
        )
        self.app = create_app(settings, self.core)
        self._server = None
        self._thread = None

    def start(self, *, scheduler: bool = True) -> None:
        self.core.start(scheduler=scheduler)

    def serve_in_background(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve HTTP on a thread (tests, demo); returns the root URL."""
        import threading

        from waitress import create_server

        self._server = create_server(
            wsgi_application(self.app, self.settings.slack_signing_secret),
            host=host,
            port=port,
            threads=16,
            ident="errata",
        )
        server = self._server

        def run() -> None:
            try:
                server.run()
            except OSError:
                if self._server is server:  # not a shutdown: a real failure
                    raise

        self._thread = threading.Thread(target=run, name="http", daemon=True)
        self._thread.start()
        return f"http://{host}:{self._server.effective_port}"

    def serve_forever(self) -> None:
        """Production: Socket Mode when an app token is set, else HTTP via waitress."""
        if self.settings.slack_app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            SocketModeHandler(self.app, self.settings.slack_app_token).start()
            return
        from waitress import serve

        log.info("serving Slack at :%d/slack/events", self.settings.port)
        serve(
            wsgi_application(self.app, self.settings.slack_signing_secret),
            host="0.0.0.0",
            port=self.settings.port,
            threads=16,
            ident="errata",
        )

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
        self.core.stop()
        self.store.close()
