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
