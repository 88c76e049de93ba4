"""The pieces every story needs: a stand-in Slack, a real bot served over HTTP
against it, and waiting on conditions (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bot.app import Bot
from bot.config import load_settings
from standin.slack import StandInSlack, generate_directory

SECRET = "story-signing-secret"
TOKEN = "xoxb-story-token"
# The stand-in runs Slack's published limits this many times faster, and the
# bot's budgets are scaled to match, so stories take seconds, not minutes.
SCALE = 20.0


def wait_for(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition"):
    """Poll `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(0.2, delay * 1.5)


def manifest_scopes() -> str:
    """The bot scopes manifest.yml asks for: the stand-in grants exactly these, so a
    feature that needs a scope the manifest lacks fails in the tests."""
    import yaml

    manifest = yaml.safe_load((Path(__file__).resolve().parents[1] / "manifest.yml").read_text())
    return ",".join(manifest["oauth_config"]["scopes"]["bot"])


def stand_in(people: int = 500, seed: int = 3, scale: float = SCALE, **kwargs) -> StandInSlack:
    slack = StandInSlack(
        generate_directory(people=people, seed=seed),
        signing_secret=SECRET,
        bot_token=TOKEN,
        time_scale=scale,
        **{"scopes": manifest_scopes(), **kwargs},
    )
    slack.start()
    return slack


def settings_for(slack: StandInSlack, db: Path, *, scale: float = SCALE, **overrides):
    env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_PATH": str(db),
        "SLACK_POST_PER_MINUTE": str(int(300 * scale)),
        "SLACK_UPDATE_PER_MINUTE": str(int(50 * scale)),
        "STATUS_UPDATE_EVERY": "0.5s",
        "LOG_LEVEL": "WARNING",
        # The stories pace at the stand-in's own limits, as a cap: a learning budget
        # probes above them, and a 429's retry never comes due on a clock held still.
        "LEARN_RATES": "false",
    }
    env.update({k: str(v) for k, v in overrides.items()})
    return load_settings(env)


def start_bot(
    slack: StandInSlack, db: Path, *, clock=None, scheduler: bool = False, **overrides
) -> Bot:
    bot = Bot(settings_for(slack, db, **overrides), clock=clock, idle_wait=0.05)
    bot.start(scheduler=scheduler)
    slack.bot_url = bot.serve_in_background()
    return bot


def copies_in_dm(slack: StandInSlack, user_id: str) -> list:
    """The memo copies (not notices, not status messages) in a person's DM."""
    return [m for m in slack.dm(user_id) if (m.metadata or {}).get("event_type") == "errata_copy"]


def notices_in_dm(slack: StandInSlack, user_id: str) -> list:
    return [m for m in slack.dm(user_id) if (m.metadata or {}).get("event_type") == "errata_notice"]


def status_fields(message) -> dict[str, str]:
    """A status message's fields as {label: value}, e.g. {"Seen": "120"}."""
    fields = {}
    for block in message.blocks or []:
        for field in block.get("fields") or []:
            label, _, value = field["text"].partition("\n")
            fields[label.strip("*")] = value
    return fields


def view_text(view: dict | None) -> str:
    """Every text in a view (App Home or modal), flattened, for assertions."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                if isinstance(value, dict | list):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(view or {})
    return "\n".join(found)


def stand_in_teams(
    people: int = 200, teams: int = 3, seed: int = 5, scale: float = SCALE, **kwargs
):
    from standin.teams import StandInTeams, generate_teams_directory

    stand = StandInTeams(
        generate_teams_directory(people=people, teams=teams, seed=seed, installed=1.0),
        time_scale=scale,
        **kwargs,
    )
    stand.start()
    return stand


def teams_settings(teams, *, scale: float = SCALE) -> dict:
    """What a bot needs to talk to the stand-in Teams, with authentication on both ways as in
    production: the bot's tokens come from the stand-in's login endpoint, and the keys that
    check Teams' tokens from its OpenID metadata."""
    return {
        "TEAMS_APP_ID": teams.app_id,
        "TEAMS_APP_PASSWORD": teams.app_password,
        "TEAMS_TENANT_ID": teams.tenant_id,
        "TEAMS_SERVICE_URL": teams.service_url,
        "TEAMS_LOGIN_ENDPOINT": teams.login_endpoint,
        "TEAMS_OPENID_METADATA_URL": teams.openid_metadata_url,
        "TEAMS_REQUESTS_PER_SECOND": str(45 * scale),
        "TEAMS_CONVERSATION_REQUESTS_PER_SECOND": str(0.5 * scale),
    }


def start_teams_bot(teams, db: Path, *, slack=None, clock=None, **overrides) -> Bot:
    """A bot on Teams (and on Slack too when `slack` is given), served over HTTP."""
    env = {
        "DATABASE_PATH": str(db),
        "STATUS_UPDATE_EVERY": "0.5s",
        "LOG_LEVEL": "WARNING",
        "LEARN_RATES": "false",  # as in settings_for
        **teams_settings(teams),
    }
    if slack is not None:
        env.update(
            {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url,
                "SLACK_POST_PER_MINUTE": str(int(300 * SCALE)),
                "SLACK_UPDATE_PER_MINUTE": str(int(50 * SCALE)),
            }
        )
    env.update({k: str(v) for k, v in overrides.items()})
    bot = Bot(load_settings(env), clock=clock, idle_wait=0.05)
    bot.start(scheduler=False)
    url = bot.serve_in_background()
    teams.bot_url = url
    if slack is not None:
        slack.bot_url = url
    return bot


def first_line(message) -> str:
    card = message.card() or {}
    return ((card.get("body") or [{}])[0]).get("text", "")


def teams_copies(teams, person, title: str = "Delete the chat app") -> list:
    """The memo copies in a person's Teams chat (as sent, or as edited after a retraction)."""
    return [m for m in teams.chat(person) if first_line(m) in (title, "RETRACTED: sent in error")]


def teams_notices(teams, person) -> list:
    return [m for m in teams.chat(person) if first_line(m).startswith("Retraction: ")]
