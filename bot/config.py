"""Settings: one table, parsed and validated once at start-up.

Every setting is named in `SETTINGS` with its default and help. `.env.example`
and the README are checked against this table by a test, so a setting cannot
be added without being documented.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain import CHANNEL, EMAIL, GROUP, PERSON, Principal
from bot.hours import WorkingHours, parse_duration


class SettingError(Exception):
    """A setting is missing or malformed; the message names it."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.name = name


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None
    help: str
    parse: Callable[[str], Any] = str


def _token(prefix: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if not value.startswith(prefix) or len(value) <= len(prefix):
            raise ValueError(f"must start with {prefix}")
        return value

    return parse


def _url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an http(s) URL")
    return value if value.endswith("/") else value + "/"


def _optional_endpoint(value: str) -> str:
    """An endpoint override: https, or http only on this machine's loopback (a stand-in)."""
    if not value:
        return ""
    _url(value)
    host = re.match(r"^https?://(\[[^\]]+\]|[^/:\s]+)", value).group(1)
    if value.startswith("http://") and host not in ("127.0.0.1", "localhost", "[::1]"):
        raise ValueError("must be https:// (http:// only for a stand-in on 127.0.0.1)")
    return value.rstrip("/")


def _public_url(value: str) -> str:
    """Report links carry a signature: https only (http only for a stand-in on 127.0.0.1)."""
    return _optional_endpoint(value) + "/" if value else ""


def _port(value: str) -> int:
    port = int(value)
    if not 1 <= port <= 65535:
        raise ValueError("must be between 1 and 65535")
    return port


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be a whole number of at least 1")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise ValueError("must be a number above 0")
    return number


def _guid(value: str) -> str:
    if value and not re.match(
        r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", value
    ):
        raise ValueError("must be a GUID such as 00000000-0000-0000-0000-000000000000")
    return value.lower()


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("must be a whole number of at least 0")
    return number


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _duration(value: str) -> timedelta:
    return parse_duration(value)


def _threshold(value: str) -> int | None:
    """A number of recipients, or `off` (no threshold)."""
    if value.strip().lower() in ("off", "none", "no"):
        return None
    try:
        return _count(value)
    except ValueError:
        raise ValueError("must be a number of recipients (0 or more) or off") from None


def _undo_window(value: str) -> timedelta:
    if re.fullmatch(r"0+(\.0*)?\s*[smhd]?|off", value.strip().lower()):
        return timedelta(0)
    window = parse_duration(value)
    if window > timedelta(hours=1):
        raise ValueError("must be at most 1h (a memo held longer belongs under Send at)")
    return window


def _database_url(value: str) -> str:
    if value and not value.startswith(("postgresql://", "postgres://")):
        raise ValueError("must be a postgresql:// URL (or empty for SQLite at DATABASE_PATH)")
    return value


def _lease_seconds(value: str) -> float:
    seconds = float(value)
    if not 3 <= seconds <= 600:
        raise ValueError("must be between 3 and 600 seconds")
    return seconds


def _timezone(value: str) -> ZoneInfo:
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("must be an IANA time zone such as Europe/Paris") from exc


# The settings are where an ID's platform is decided, once: Slack user IDs (U/W) and
# user-group IDs (S), Teams people by Entra object ID, anyone by email; an explicit
# "slack:" or "teams:" prefix says it outright.
_SLACK_PERSON = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_GROUP = re.compile(r"^S[A-Z0-9]{2,}$")
_ENTRA_ID = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_EMAIL = re.compile(r"^[^@\s,:]+@[^@\s,]+\.[^@\s,]+$")


def _principal(item: str) -> Principal:
    platform, _, rest = item.partition(":")
    if rest and platform in ("slack", "teams"):
        found = _principal(rest)
        if found.platform not in ("", platform):
            raise ValueError(f"{item!r} is not a {platform} ID")
        return found if found.kind == EMAIL else Principal(platform, found.kind, found.id)
    if _SLACK_PERSON.match(item):
        return Principal("slack", PERSON, item)
    if _SLACK_GROUP.match(item):
        return Principal("slack", GROUP, item)
    if _ENTRA_ID.match(item):
        return Principal("teams", PERSON, item.lower())
    if _EMAIL.match(item):
        return Principal("", EMAIL, item.lower())
    raise ValueError(f"{item!r} is not a Slack user or user-group ID, Entra ID or email")


def _principals(value: str) -> frozenset[Principal]:
    return frozenset(_principal(item.strip()) for item in value.split(",") if item.strip())


def _byte_size(value: str) -> int:
    """A size in bytes: 1048576, 512KB, 1MB (powers of 1,024)."""
    match = re.fullmatch(r"(\d+)\s*(B|KB|MB)?", value.strip(), re.I)
    if not match:
        raise ValueError("must be a size such as 1MB, 512KB or 1048576")
    number = (
        int(match.group(1))
        * {"": 1, "B": 1, "KB": 1024, "MB": 1024 * 1024}[(match.group(2) or "").upper()]
    )
    if not 1024 <= number <= 64 * 1024 * 1024:
        raise ValueError("must be between 1KB and 64MB")
    return number


def _teams_cloud(value: str) -> str:
    names = {"public": "Public", "usgov": "USGov", "usgovdod": "USGovDoD", "china": "China"}
    if value.lower() not in names:
        raise ValueError("must be Public, USGov, USGovDoD or China")
    return names[value.lower()]


def _audit_key(value: str) -> str:
    if value and len(value) < 32:
        raise ValueError(
            "must be at least 32 characters (e.g. the output of `openssl rand -hex 32`)"
        )
    return value


def _log_level(value: str) -> str:
    if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
    return value.upper()


def _channel(value: str) -> str:
    if value and not re.match(r"^[CG][A-Z0-9]{2,}$", value):
        raise ValueError("must be a channel ID such as C0123ABCD")
    return value


def _slack_channel(value: str) -> Principal | None:
    """A Slack channel, as a principal (escalations go to it like to a person)."""
    return Principal("slack", CHANNEL, _channel(value)) if value else None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SLACK_BOT_TOKEN",
        None,
        "Bot token (xoxb-...) from the app's OAuth page; required unless only Teams is used",
        _token("xoxb-"),
    ),
    Setting(
        "SLACK_SIGNING_SECRET",
        None,
        "Signing secret from Basic Information; needed for the HTTP mode",
    ),
    Setting(
        "SLACK_APP_TOKEN",
        "",
        "App-level token (xapp-...) with connections:write; when set, the bot runs in Socket Mode",
    ),
    Setting(
        "SLACK_API_URL",
        "https://slack.com/api/",
        "Web API base URL; tests and the demo point it at the stand-in Slack",
        _url,
    ),
    Setting("DATABASE_PATH", "errata.db", "SQLite database file"),
    Setting(
        "DATABASE_URL",
        "",
        "postgresql://user:password@host/db puts the store on PostgreSQL, shared by several instances (needs AUDIT_KEY); empty: SQLite at DATABASE_PATH",
        _database_url,
    ),
    Setting(
        "LEASE_SECONDS",
        "15",
        "With DATABASE_URL: one instance at a time sends, holding a lease it renews every third of this; when it stops, another takes over within this many seconds",
        _lease_seconds,
    ),
    Setting("PORT", "3000", "HTTP port for /slack/events and /healthz", _port),
    Setting(
        "COMMS_STAFF",
        "",
        "Comma-separated user IDs or user-group IDs allowed to send and retract memos",
        _principals,
    ),
    Setting(
        "AUDITORS",
        "",
        "Comma-separated user IDs or user-group IDs allowed to list, report and verify",
        _principals,
    ),
    Setting(
        "ESCALATION_CHANNEL",
        "",
        "Slack channel ID that also receives escalations (optional)",
        _slack_channel,
    ),
    Setting(
        "RETRACTION_REMIND_AFTER",
        "2h",
        "First reminder of an unconfirmed retraction after this long",
        _duration,
    ),
    Setting("REMIND_EVERY", "24h", "Then a reminder every this long", _duration),
    Setting("MAX_REMINDERS", "3", "Reminders per person before escalation", _count),
    Setting(
        "WORKING_HOURS",
        "09:00-18:00",
        "Reminders only inside these hours in the recipient's time zone; off disables the window",
        WorkingHours.parse,
    ),
    Setting("DEFAULT_TIMEZONE", "UTC", "Time zone for people whose profile has none", _timezone),
    Setting(
        "SHOW_RETRACTED_BODY",
        "false",
        "Keep a retracted memo's body in the edited original, struck through",
        _bool,
    ),
    Setting(
        "APPROVAL_OVER",
        "off",
        "A memo to more people than this, or to everyone, waits until another member of comms staff approves it; off disables approval",
        _threshold,
    ),
    Setting(
        "UNDO_WINDOW",
        "0s",
        "After a memo is submitted (or approved, or its send time comes) it is held this long with an Undo button; 0s disables it",
        _undo_window,
    ),
    Setting(
        "SLACK_POST_PER_MINUTE",
        "300",
        "chat.postMessage starting rate a minute (Slack: several hundred a minute per workspace); the bot learns the real limit from there and keeps it",
        _positive_int,
    ),
    Setting(
        "SLACK_UPDATE_PER_MINUTE",
        "50",
        "chat.update starting rate a minute (Slack Tier 3: 50+ a minute); the bot learns the real limit from there and keeps it",
        _positive_int,
    ),
    Setting(
        "LEARN_RATES",
        "true",
        "Learn each paced method's real limit (raise the rate while accepted, settle under it on a 429); false: the rates above are caps",
        _bool,
    ),
    Setting(
        "SEND_CONCURRENCY",
        "8",
        "Messages in flight at once per stream; bounds the copies whose fate is unknown after a crash",
        _positive_int,
    ),
    Setting(
        "STATUS_UPDATE_EVERY",
        "5s",
        "How often a live status message is refreshed at most",
        _duration,
    ),
    Setting(
        "DIRECTORY_REFRESH_EVERY",
        "6h",
        "How often the people directory is refreshed from Slack in the background",
        _duration,
    ),
    Setting(
        "MAX_REQUEST_BYTES",
        "1MB",
        "Largest request body accepted on any route; a larger one is refused with 413 before it is read",
        _byte_size,
    ),
    Setting(
        "AUDIT_KEY",
        "",
        "Secret key of the audit chain (HMAC); kept outside the database. Empty: a key file beside the database is made",
        _audit_key,
    ),
    Setting(
        "AUDIT_CHECKPOINT_CHANNEL",
        "",
        "Slack channel ID where the audit chain's head is posted daily and after every retraction (optional)",
        _channel,
    ),
    Setting("LOG_LEVEL", "INFO", "Logging level: DEBUG, INFO, WARNING or ERROR", _log_level),
    Setting(
        "PUBLIC_URL",
        "",
        "The bot's public HTTPS address (e.g. https://errata.example.com/), for report links in Teams",
        _public_url,
    ),
    Setting(
        "TEAMS_APP_ID",
        "",
        "Microsoft Teams: the bot's Entra app (client) ID; with the next two, turns Teams on",
        _guid,
    ),
    Setting("TEAMS_APP_PASSWORD", "", "Microsoft Teams: the app's client secret"),
    Setting(
        "TEAMS_TENANT_ID", "", "Microsoft Teams: your Entra tenant ID (single-tenant bot)", _guid
    ),
    Setting(
        "TEAMS_SERVICE_URL",
        "https://smba.trafficmanager.net/teams/",
        "Microsoft Teams: Bot Connector URL for people who have not written to the bot yet",
        _url,
    ),
    Setting(
        "TEAMS_CLOUD",
        "Public",
        "Microsoft Teams: the Microsoft cloud whose endpoints are used (Public, USGov, USGovDoD, China)",
        _teams_cloud,
    ),
    Setting(
        "TEAMS_LOGIN_ENDPOINT",
        "",
        "Microsoft Teams: overrides the cloud's Entra login endpoint (where the bot gets its tokens)",
        _optional_endpoint,
    ),
    Setting(
        "TEAMS_OPENID_METADATA_URL",
        "",
        "Microsoft Teams: overrides the cloud's Bot Framework OpenID metadata URL (keys for incoming tokens)",
        _optional_endpoint,
    ),
    Setting(
        "TEAMS_TOKEN_ISSUER",
        "",
        "Microsoft Teams: overrides the cloud's issuer of incoming Bot Framework tokens",
        _optional_endpoint,
    ),
    Setting(
        "TEAMS_REQUESTS_PER_SECOND",
        "45",
        "Microsoft Teams: starting rate of requests a second to the Bot Connector (Teams allows about 50 per app per tenant); learned from there",
        _positive_float,
    ),
    Setting(
        "TEAMS_CONVERSATION_REQUESTS_PER_SECOND",
        "0.5",
        "Microsoft Teams: starting rate of requests a second into one chat, sustained (Teams allows bursts of 7 but 1,800 an hour); learned from there",
        _positive_float,
    ),
)


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str | None
    slack_signing_secret: str | None
    slack_app_token: str
    slack_api_url: str
    database_path: str
    database_url: str
    lease_seconds: float
    port: int
    comms_staff: frozenset[Principal]
    auditors: frozenset[Principal]
    escalation_channel: Principal | None
    retraction_remind_after: timedelta
    remind_every: timedelta
    max_reminders: int
    working_hours: WorkingHours
    default_timezone: ZoneInfo
    show_retracted_body: bool
    approval_over: int | None
    undo_window: timedelta
    slack_post_per_minute: int
    slack_update_per_minute: int
    learn_rates: bool
    send_concurrency: int
    status_update_every: timedelta
    directory_refresh_every: timedelta
    max_request_bytes: int
    audit_key: str
    audit_checkpoint_channel: str
    log_level: str
    public_url: str
    teams_app_id: str
    teams_app_password: str
    teams_tenant_id: str
    teams_service_url: str
    teams_cloud: str
    teams_login_endpoint: str
    teams_openid_metadata_url: str
    teams_token_issuer: str
    teams_requests_per_second: float
    teams_conversation_requests_per_second: float

    @property
    def database(self) -> str:
        """Where the store is: the PostgreSQL URL when set, else the SQLite file."""
        return self.database_url or self.database_path

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token)

    @property
    def teams_enabled(self) -> bool:
        return bool(self.teams_app_id)


def load_settings(env: Mapping[str, str]) -> Settings:
    """Parse every setting from `env`; raise SettingError naming the first bad one."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = env.get(setting.name)
        if raw is not None:
            raw = raw.strip()
        if raw in (None, ""):
            raw = setting.default
        if raw is None:
            values[setting.name.lower()] = None
            continue
        try:
            values[setting.name.lower()] = setting.parse(raw)
        except (ValueError, TypeError) as exc:
            raise SettingError(setting.name, f"{raw!r} {exc}") from None
    if values["database_url"] and not values["audit_key"]:
        raise SettingError(
            "AUDIT_KEY", "is required with DATABASE_URL (every instance keys the one audit chain)"
        )
    teams_names = ("TEAMS_APP_ID", "TEAMS_APP_PASSWORD", "TEAMS_TENANT_ID")
    teams = [name for name in teams_names if values[name.lower()]]
    if teams and len(teams) < 3:
        missing = next(n for n in teams_names if n not in teams)
        raise SettingError(
            missing, "is required when any TEAMS_ setting is given (Teams needs all three)"
        )
    if not values["slack_bot_token"]:
        if not teams:
            raise SettingError(
                "SLACK_BOT_TOKEN", "is required (or configure Teams with TEAMS_APP_ID, ...)"
            )
        return Settings(**values)
    if not values["slack_app_token"] and not values["slack_signing_secret"]:
        raise SettingError(
            "SLACK_SIGNING_SECRET", "is required unless SLACK_APP_TOKEN is set (Socket Mode)"
        )
    if values["slack_app_token"] and not values["slack_app_token"].startswith("xapp-"):
        raise SettingError("SLACK_APP_TOKEN", "must start with xapp-")
    return Settings(**values)
