"""Time rules: durations in settings, the working-hours window in each person's own
time zone, and when a reminder is due. Pure: callers pass `now`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# ---------------------------------------------------------------- durations

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `1d`, `1h30m`: a positive duration."""
    compact = (text or "").strip().lower()
    if not compact or _DURATION_PART.sub("", compact).strip():
        raise ValueError("must be a duration such as 90s, 15m, 2h or 1d")
    seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(compact))
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return timedelta(seconds=seconds)


# ---------------------------------------------------------------- working hours


@dataclass(frozen=True)
class WorkingHours:
    """The daily window, in each person's own time zone, when reminders may go.

    `start == end == None` means no window (`off`). A window whose end is
    before its start spans midnight (e.g. 22:00-06:00 for a night shift).
    """

    start: time | None = None
    end: time | None = None

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        value = (text or "").strip().lower()
        if value == "off":
            return cls()
        match = re.match(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$", value)
        if not match:
            raise ValueError("must look like 09:00-18:00, or be off")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError("has an hour or minute out of range")
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if time(h1, m1) == end:
            raise ValueError("must not start and end at the same time")
        return cls(time(h1, m1), end)

    @property
    def off(self) -> bool:
        return self.start is None

    def __str__(self) -> str:
        if self.off:
            return "off"
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        if self.off:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """The first instant at or after `instant` inside the window in `zone`.

        Works on wall-clock times, so a window stays 09:00-18:00 local across
        daylight-saving changes; a start that falls in a DST gap moves to the
        first real instant after it.
        """
        instant = instant.astimezone(UTC)
        if self.off:
            return instant
        local = instant.astimezone(zone)
        if self.contains(local.time().replace(tzinfo=None)):
            return instant
        day: date = local.date()
        if local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        opening = _wall_clock(day, self.start, zone)
        return max(opening, instant)


def _wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`day at` in `zone`, in UTC; in a DST gap, the first real instant after it."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)  # earlier of a repeated hour
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # Wall time skipped by a DST change: walk to the first minute past the gap.
    instant = min(first, naive.replace(tzinfo=zone, fold=1).astimezone(UTC))
    while instant.astimezone(zone).replace(tzinfo=None) < naive:
        instant += timedelta(minutes=1)
    return instant


def reminder_due(
    *,
    anchor: datetime,
    reminders_sent: int,
    last_reminder_at: datetime | None,
    first_after: timedelta,
    every: timedelta,
) -> datetime:
    """When the next reminder falls due, before the working-hours window applies."""
    if reminders_sent == 0 or last_reminder_at is None:
        return anchor + first_after
    return last_reminder_at + every
