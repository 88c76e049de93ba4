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


# ------------------------------------------------------------------ PostgreSQL, when asked for

PG_KEY = b"k" * 32  # several instances on PostgreSQL share AUDIT_KEY; tests use this one


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the session (tests/postgres.py). Skipped, with
    the reason, when PostgreSQL is not installed, except in CI, where it must be."""
    from tests import postgres

    why = postgres.missing()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI: .ci/run installs it)")
        pytest.skip(why)
    server = postgres.PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database()


def open_store(database: str, tmp_path, request, *, audit_key: bytes | None = None):
    """A migrated store on `database` ("sqlite": a file in tmp_path; "postgresql": a fresh
    database on the session's server)."""
    if database == "postgresql":
        url = request.getfixturevalue("postgres_url")
        return Store(url, audit_key=audit_key or PG_KEY)
    return Store(str(tmp_path / "errata.db"), audit_key=audit_key)
