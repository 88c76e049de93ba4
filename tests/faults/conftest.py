from __future__ import annotations

import pytest

from tests.harness import stand_in


@pytest.fixture
def slack():
    slack = stand_in(people=60)
    yield slack
    slack.stop()


@pytest.fixture
def comms(slack):
    return slack.directory.active_humans()[0]
