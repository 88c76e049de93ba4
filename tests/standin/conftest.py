"""Fixtures for the stand-in Slack's own tests: a running stand-in, a WebClient on it,
and a tiny HTTP receiver playing the bot so we can see exactly what "Slack" sends."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient

from standin.slack import StandInSlack, generate_directory
from tests.standin.receiver import Receiver, serving

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"


@pytest.fixture
def slack():
    stand_in = StandInSlack(
        generate_directory(people=120, seed=5),
        signing_secret=SECRET,
        bot_token=TOKEN,
        limits={"*": None},
        post_per_minute=None,
    )
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def client(slack):
    return WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])


@pytest.fixture
def humans(slack):
    return slack.directory.active_humans()


@pytest.fixture
def receiver(slack):
    with serving(Receiver()) as rec:
        slack.bot_url = rec.url
        yield rec


def json_answer(data: dict, status: int = 200) -> tuple[int, str, str]:
    return status, json.dumps(data), "application/json;charset=utf-8"
