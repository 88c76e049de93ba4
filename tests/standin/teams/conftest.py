"""Fixtures for the stand-in Teams' own tests: a running stand-in, a plain HTTP client for its
Bot Connector, and a tiny HTTP receiver playing the bot so we see exactly what "Teams" sends."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import pytest

from standin.teams import StandInTeams, generate_teams_directory
from tests.standin.receiver import Receiver, serving

APP_ID = "11111111-2222-4333-8444-555555555555"
APP_PASSWORD = "test-app-password"


@pytest.fixture
def teams():
    stand_in = StandInTeams(
        generate_teams_directory(people=60, teams=3, seed=7),
        app_id=APP_ID,
        app_password=APP_PASSWORD,
        app_rps=None,
        windows={"send": None, "create": None, "members": None},
    )
    stand_in.start()
    yield stand_in
    stand_in.stop()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def code(self) -> str | None:
        data = self.json()
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return data["error"].get("code")
        return None


class Connector:
    """A bare HTTP client for the stand-in's Bot Connector, with a token from its endpoint."""

    def __init__(self, teams: StandInTeams):
        self.teams = teams
        self._token: str | None = None

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.teams.fetch_token()
        return self._token

    def call(
        self,
        verb: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
    ) -> Answer:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        tok = self.token if token is None else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        req = urllib.request.Request(
            self.teams.service_url + path.lstrip("/"), data=data, headers=headers, method=verb
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return Answer(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as e:
            return Answer(e.code, dict(e.headers.items()), e.read())

    def create(self, member_id: str, **extra: Any) -> Answer:
        body = {
            "bot": {"id": self.teams.bot_id},
            "members": [{"id": member_id}],
            "isGroup": False,
            "tenantId": self.teams.tenant_id,
            "channelData": {"tenant": {"id": self.teams.tenant_id}},
            **extra,
        }
        return self.call("POST", "v3/conversations", body)

    def send(self, conversation_id: str, activity: dict[str, Any]) -> Answer:
        return self.call("POST", f"v3/conversations/{conversation_id}/activities", activity)


@pytest.fixture
def connector(teams):
    return Connector(teams)


def card(*body: dict, actions: list | None = None, version: str = "1.5") -> dict:
    out: dict[str, Any] = {"type": "AdaptiveCard", "version": version, "body": list(body)}
    if actions is not None:
        out["actions"] = actions
    return out


def card_activity(c: dict, text: str | None = None) -> dict:
    act: dict[str, Any] = {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": c}],
    }
    if text:
        act["text"] = text
    return act


@pytest.fixture
def bot(teams):
    with serving(Receiver(answer=(201, "", "application/json"))) as rec:
        teams.bot_url = rec.url
        yield rec


def json_answer(data: Any, status: int = 200) -> tuple[int, str, str]:
    return status, json.dumps(data), "application/json; charset=utf-8"
