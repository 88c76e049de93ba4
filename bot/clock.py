"""The one clock the bot reads, and how instants are written in the store.

Everything that decides "is it due?" asks a Clock, so tests can set the time.
Instants are stored as fixed-width ISO 8601 UTC text, which sorts in time
order, so SQL can compare them directly.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SettableClock(Clock):
    """A clock that stands still until told to move (tests and the demo)."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


def to_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def from_text(text: str | None) -> datetime | None:
    """An instant stored by `to_text`. fromisoformat reads that form (3.11 takes the "Z")
    about a hundred times faster than strptime, which was most of the reminders sweep's
    CPU after a fan-out (three instants per person)."""
    if not text:
        return None
    instant = datetime.fromisoformat(text)
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def to_report(text: str | None) -> str:
    """A stored instant as report text: ISO 8601 UTC to the second."""
    return text[:19] + "Z" if text else ""
