from __future__ import annotations

import pytest

from tests.harness import stand_in, start_bot


@pytest.fixture
def slack():
    slack = stand_in()
    yield slack
    slack.stop()


@pytest.fixture
def comms(slack):
    """A comms staff member: the first active human of the directory."""
    return slack.directory.active_humans()[0]


@pytest.fixture
def bot(slack, comms, tmp_path):
    bot = start_bot(slack, tmp_path / "errata.db", COMMS_STAFF=comms)
    yield bot
    bot.stop()


def on_database(request, database: str) -> dict:
    """start_bot's settings for `database`: nothing for SQLite (DATABASE_PATH), a fresh
    PostgreSQL database (DATABASE_URL, with the AUDIT_KEY it requires) otherwise."""
    if database != "postgresql":
        return {}
    return {"DATABASE_URL": request.getfixturevalue("postgres_url"), "AUDIT_KEY": "k" * 32}


@pytest.fixture(params=["sqlite", "postgresql"])
def bot_on_both(request, slack, comms, tmp_path):
    """The `bot` fixture, once on each database (the stories that run on both ask for it)."""
    bot = start_bot(
        slack, tmp_path / "errata.db", COMMS_STAFF=comms, **on_database(request, request.param)
    )
    yield bot
    bot.stop()
