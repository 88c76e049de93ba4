from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import (
    Audience,
    Recipient,
    compose_errors,
    merge_recipients,
    parse_memo_ref,
    progress_bar,
    split_memo_ref,
)
from bot.hours import WorkingHours, parse_duration, reminder_due


@pytest.mark.parametrize(
    "text,expected",
    [("M-7", 7), ("m-7", 7), ("7", 7), (" M7 ", 7), ("M-", None), ("x7", None), ("", None)],
)
def test_memo_refs(text, expected):
    assert parse_memo_ref(text) == expected


def test_split_memo_ref_keeps_the_reason():
    assert split_memo_ref("M-12 sent to the wrong list") == (12, "sent to the wrong list")
    assert split_memo_ref("") == (None, "")
    assert split_memo_ref("oops wrong") == (None, "oops wrong")


@pytest.mark.parametrize(
    "text,seconds",
    [("90s", 90), ("15m", 900), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("0.5h", 1800)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "2", "2x", "h", "-1h", "0s", "2 hours"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_working_hours_in_each_persons_zone():
    hours = WorkingHours.parse("09:00-18:00")
    # 23:00 UTC on 30 Nov: 08:00 next day in Tokyo, 18:00 in New York.
    instant = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    tokyo = hours.next_open(instant, ZoneInfo("Asia/Tokyo"))
    assert tokyo.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%Y-%m-%d %H:%M") == "2026-12-01 09:00"
    new_york = hours.next_open(instant, ZoneInfo("America/New_York"))
    assert (
        new_york.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M")
        == "2026-12-01 09:00"
    )
    inside = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)  # 10:00 in New York
    assert hours.next_open(inside, ZoneInfo("America/New_York")) == inside


def test_working_hours_across_daylight_saving_changes():
    hours = WorkingHours.parse("09:00-18:00")
    zone = ZoneInfo("America/New_York")
    # The night before DST starts (8 Mar 2026) and ends (1 Nov 2026): still 09:00 local.
    for night in (datetime(2026, 3, 8, 4, 0, tzinfo=UTC), datetime(2026, 11, 1, 4, 0, tzinfo=UTC)):
        opening = hours.next_open(night, zone)
        assert opening.astimezone(zone).strftime("%H:%M") == "09:00"
    assert hours.next_open(datetime(2026, 3, 8, 4, 0, tzinfo=UTC), zone) == datetime(
        2026, 3, 8, 13, 0, tzinfo=UTC
    )
    assert hours.next_open(datetime(2026, 11, 1, 4, 0, tzinfo=UTC), zone) == datetime(
        2026, 11, 1, 14, 0, tzinfo=UTC
    )


def test_window_opening_inside_a_dst_gap_moves_after_the_gap():
    hours = WorkingHours.parse("02:30-05:00")
    zone = ZoneInfo("America/New_York")
    # 2026-03-08 02:30 does not exist in New York; first real instant is 03:00 EDT.
    opening = hours.next_open(datetime(2026, 3, 8, 5, 0, tzinfo=UTC), zone)
    assert opening == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_night_shift_window_and_off():
    night = WorkingHours.parse("22:00-06:00")
    zone = ZoneInfo("UTC")
    assert night.contains(datetime(2026, 1, 1, 23, 0).time())
    assert night.contains(datetime(2026, 1, 1, 5, 0).time())
    assert not night.contains(datetime(2026, 1, 1, 12, 0).time())
    noon = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert night.next_open(noon, zone) == datetime(2026, 1, 1, 22, 0, tzinfo=UTC)
    assert WorkingHours.parse("off").next_open(noon, zone) == noon


@pytest.mark.parametrize("text", ["9-5", "25:00-18:00", "09:00-09:00", "nine to five", ""])
def test_bad_working_hours(text):
    with pytest.raises(ValueError):
        WorkingHours.parse(text)


def test_reminder_due():
    anchor = datetime(2026, 1, 1, 9, tzinfo=UTC)
    first = reminder_due(
        anchor=anchor,
        reminders_sent=0,
        last_reminder_at=None,
        first_after=timedelta(hours=2),
        every=timedelta(hours=24),
    )
    assert first == anchor + timedelta(hours=2)
    later = reminder_due(
        anchor=anchor,
        reminders_sent=1,
        last_reminder_at=first,
        first_after=timedelta(hours=2),
        every=timedelta(hours=24),
    )
    assert later == first + timedelta(hours=24)


def test_each_person_once_and_reachable_wins():
    a = Recipient("slack", "U1", "Ann")
    a_failed = Recipient("slack", "U1", "Ann", "account_inactive")
    b = Recipient("slack", "U2", "Bo")
    merged = merge_recipients([a_failed, b], [a, b], [Recipient("teams", "U1", "Ann")])
    assert [(r.platform, r.id, r.error) for r in merged] == [
        ("slack", "U1", None),
        ("slack", "U2", None),
        ("teams", "U1", None),
    ]


def test_compose_errors_name_the_field():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    ok = compose_errors(
        title="T", body="B", audience=Audience(everyone=True), ack_deadline=None, now=now
    )
    assert ok == {}
    errors = compose_errors(
        title="x" * 151, body="y" * 3001, audience=Audience(), ack_deadline=now, now=now
    )
    assert set(errors) == {"title", "message", "people", "deadline"}
    assert "150" in errors["title"] and "3000" in errors["message"]


def test_progress_bar():
    assert progress_bar(0, 10, 10) == "░" * 10 + " 0%"
    assert progress_bar(5, 10, 10) == "▓" * 5 + "░" * 5 + " 50%"
    assert progress_bar(0, 0, 4).endswith("100%")
