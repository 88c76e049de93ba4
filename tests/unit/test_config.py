"""Settings: a missing or malformed one stops start-up with one line and exit status 2."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import SettingError, load_settings

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def test_defaults():
    settings = load_settings(GOOD)
    assert settings.port == 3000 and settings.database_path == "errata.db"
    assert settings.retraction_remind_after == timedelta(hours=2)
    assert settings.remind_every == timedelta(hours=24) and settings.max_reminders == 3
    assert str(settings.working_hours) == "09:00-18:00"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.show_retracted_body is False


@pytest.mark.parametrize(
    "name,value",
    [
        ("SLACK_BOT_TOKEN", "xoxp-user-token"),
        ("PORT", "http"),
        ("PORT", "70000"),
        ("REMIND_EVERY", "soon"),
        ("RETRACTION_REMIND_AFTER", "0s"),
        ("MAX_REMINDERS", "-1"),
        ("WORKING_HOURS", "9 to 5"),
        ("COMMS_STAFF", "U123,not an id"),
        ("SHOW_RETRACTED_BODY", "maybe"),
        ("SLACK_API_URL", "slack.com"),
        ("ESCALATION_CHANNEL", "#general"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus"),
        ("SEND_CONCURRENCY", "0"),
        ("PUBLIC_URL", "http://errata.example.com/"),
        ("PUBLIC_URL", "errata.example.com"),
        ("MAX_REQUEST_BYTES", "lots"),
        ("MAX_REQUEST_BYTES", "2GB"),
        ("MAX_REQUEST_BYTES", "10"),
        ("TEAMS_CLOUD", "Azure"),
        ("TEAMS_LOGIN_ENDPOINT", "http://login.example.com"),
        ("TEAMS_OPENID_METADATA_URL", "http://10.0.0.1/v1/.well-known/openidconfiguration"),
        ("TEAMS_TOKEN_ISSUER", "api.botframework.com"),
        ("AUDIT_KEY", "short"),
        ("AUDIT_CHECKPOINT_CHANNEL", "#audit"),
    ],
)
def test_malformed_settings_are_named(name, value):
    with pytest.raises(SettingError) as caught:
        load_settings({**GOOD, name: value})
    assert caught.value.name == name


def test_security_settings_parse():
    settings = load_settings(
        {
            **GOOD,
            "MAX_REQUEST_BYTES": "512KB",
            "PUBLIC_URL": "https://errata.example.com",
            "TEAMS_CLOUD": "usgov",
            "TEAMS_LOGIN_ENDPOINT": "http://127.0.0.1:4000/",
        }
    )
    assert settings.max_request_bytes == 512 * 1024
    assert settings.public_url == "https://errata.example.com/"
    assert settings.teams_cloud == "USGov"
    assert settings.teams_login_endpoint == "http://127.0.0.1:4000"  # loopback: a stand-in
    assert load_settings(GOOD).max_request_bytes == 1024 * 1024


def test_missing_token_is_named():
    with pytest.raises(SettingError) as caught:
        load_settings({"SLACK_SIGNING_SECRET": "s"})
    assert caught.value.name == "SLACK_BOT_TOKEN"


def test_signing_secret_needed_unless_socket_mode():
    with pytest.raises(SettingError) as caught:
        load_settings({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert caught.value.name == "SLACK_SIGNING_SECRET"
    assert load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}).slack_app_token


def test_start_up_stops_with_one_line_and_status_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REMIND", "WORKING"))}
    env.update({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "REMIND_EVERY": "often"})
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "REMIND_EVERY" in lines[0] and "Traceback" not in result.stderr
