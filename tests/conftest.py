"""Shared fixtures: a fresh store in tmp_path, a settable clock."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

os.environ.setdefault("SKIP_SLACK_SDK_WARNING", "1")

from bot.clock import SettableClock
from bot.store import Store


@pytest.fixture
def clock():
    return SettableClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))


@pytest.fixture
def store(tmp_path):
    store = Store(str(tmp_path / "errata.db"))
    store.migrate()
    yield store
    store.close()
