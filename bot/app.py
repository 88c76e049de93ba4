"""Build the bolt App, the Teams listeners and the one WSGI application that serves both."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

import handlers
from bot import audit, web
from bot.clock import Clock
from bot.config import Settings
from bot.core import Core
from bot.links import ReportLinks
from bot.store import Store

log = logging.getLogger(__name__)


def create_app(settings: Settings, core: Core) -> App:
    """The bolt App with every Errata listener registered; nothing global."""
    client = WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, retry_handlers=[]
    )
    app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or "",
        # bolt verifies every HTTP request (web.py has already, before parsing); in Socket
        # Mode without a secret /slack/events is not served at all, and what arrives over
        # the socket is authenticated by the app-level token.
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


class Bot:
    """Everything `python -m bot` runs: the core, its platforms, and their listeners."""

    def __init__(self, settings: Settings, *, clock=None, idle_wait: float = 0.25):
        self.settings = settings
        self.clock = clock or Clock()
        # The audit key is loaded once, from outside the database (raises AuditKeyError).
        audit_key = audit.load_key(settings.audit_key, settings.database_path)
        self.store = Store(settings.database, audit_key=audit_key)
        self.store.migrate()
        platforms = {}
        self.slack = None
        self.teams = None
        if settings.slack_enabled:
            from bot.slack.adapter import SlackPlatform

            self.slack = SlackPlatform(
                token=settings.slack_bot_token,
                api_url=settings.slack_api_url,
                store=self.store,
                clock=self.clock,
                post_per_minute=settings.slack_post_per_minute,
                update_per_minute=settings.slack_update_per_minute,
                learn_rates=settings.learn_rates,
                show_retracted_body=settings.show_retracted_body,
                max_reminders=settings.max_reminders,
            )
            platforms["slack"] = self.slack
        if settings.teams_enabled:
            from bot.teams.adapter import TeamsPlatform

            self.teams = TeamsPlatform(settings, self.store, self.clock)
            platforms["teams"] = self.teams
        checkpoints = None
        if settings.audit_checkpoint_channel and self.slack is not None:
            checkpoints = audit.Checkpoints(
                self.store,
                self.clock,
                settings.audit_checkpoint_channel,
                self.slack.post_checkpoint,
            )
        elif settings.audit_checkpoint_channel:
            log.warning("AUDIT_CHECKPOINT_CHANNEL is set but Slack is not: no checkpoints")
        self.core = Core(
            settings,
            self.store,
            self.clock,
            platforms,
            idle_wait=idle_wait,
            checkpoints=checkpoints,
        )
        self.app = create_app(settings, self.core) if self.slack else None
        # Loaded once: a download must not take a write transaction to read the key.
        self.links = ReportLinks(self.store.secret("report_links"), settings.public_url)
        self._server = None
        self._thread = None

    def start(self, *, scheduler: bool = True) -> None:
        self.core.start(scheduler=scheduler)

    # ------------------------------------------------------------ Teams requests and report links

    def report_link(self, memo_id: int, issued_to: str = "") -> str | None:
        """A signed CSV link for `issued_to` ("platform:id"), valid for an hour."""
        return self.links.issue(memo_id, issued_to, self.clock.now().timestamp())

    # ------------------------------------------------------------ serving

    def serve_in_background(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve HTTP on a thread (tests, demo); returns the root URL."""
        import threading

        self._server = web.create_server(self, host, port)
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
        """Production: Slack over Socket Mode when an app token is set; HTTP on PORT
        always (Slack's Events API otherwise, Teams, report links, the health check)."""
        if self.app is not None and self.settings.slack_app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            SocketModeHandler(self.app, self.settings.slack_app_token).connect()
        log.info("serving on :%d", self.settings.port)
        self._server = web.create_server(self, "0.0.0.0", self.settings.port)
        self._server.run()

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
        self.core.stop()
        if self.teams is not None:
            self.teams.close()
        self.store.close()
