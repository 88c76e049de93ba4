"""The generated workspace: deterministic, realistic, and shaped like Slack's JSON."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from standin.slack import Channel, Directory, Person, UserGroup, generate_directory

USER_ID = re.compile(r"^U[0-9A-Z]{10}$")


def test_same_seed_same_workspace_other_seed_other_workspace():
    a, b, c = (
        generate_directory(300, seed=4),
        generate_directory(300, seed=4),
        generate_directory(300, seed=5),
    )
    assert [p.to_slack() for p in a.people] == [p.to_slack() for p in b.people]
    assert [p.id for p in a.people] != [p.id for p in c.people]


def test_people_is_the_exact_number_of_active_humans_and_the_rest_is_on_top():
    d = generate_directory(people=400, seed=2)
    humans = d.active_humans()
    assert len(humans) == 400
    assert len(set(humans)) == 400
    everyone = d.people
    assert len(d.deactivated()) >= 1
    assert len(d.bots()) >= 3
    assert any(p.is_app_user for p in everyone)
    assert any(p.is_restricted for p in everyone if p.is_active_human)  # a guest
    slackbot = d.person("USLACKBOT")
    assert slackbot is not None and slackbot.to_slack()["is_bot"] is False
    assert "USLACKBOT" not in humans
    for p in everyone:
        if p.id in humans:
            assert not (p.deleted or p.is_bot or p.is_app_user)
        assert p.id == "USLACKBOT" or USER_ID.match(p.id), p.id
    assert len({p.name for p in everyone}) == len(everyone)  # handles are unique


def test_member_objects_have_slacks_shape():
    d = generate_directory(people=200, seed=3)
    human = d.person(d.active_humans()[10]).to_slack()
    for key in (
        "id",
        "team_id",
        "name",
        "deleted",
        "real_name",
        "tz",
        "tz_label",
        "tz_offset",
        "profile",
        "is_bot",
        "is_app_user",
        "is_restricted",
        "updated",
    ):
        assert key in human, key
    for key in ("real_name", "display_name", "email", "real_name_normalized", "image_72"):
        assert key in human["profile"], key
    bot = d.person(d.bots()[0]).to_slack()
    assert bot["is_bot"] is True and bot["profile"]["bot_id"].startswith("B")
    gone = d.person(d.deactivated()[0]).to_slack()
    assert gone["deleted"] is True
    assert "tz" not in gone  # deactivated accounts come without time zone
    assert d.bot_user.to_slack()["is_bot"] is True


def test_time_zones_are_spread_and_offsets_come_from_zoneinfo():
    d = generate_directory(people=1000, seed=1)
    zones = Counter(p.tz for p in d.humans())
    for tz in (
        "America/New_York",
        "America/Los_Angeles",
        "Europe/London",
        "Europe/Berlin",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Australia/Sydney",
        "America/Sao_Paulo",
    ):
        assert zones[tz] > 0, tz
    now = datetime.now(UTC)
    for p in d.humans()[:200]:
        expected = int(now.astimezone(ZoneInfo(p.tz)).utcoffset().total_seconds())
        assert p.tz_offset == expected, (p.tz, p.tz_offset)
        assert p.tz_label
    kathmandu = [p for p in d.humans() if p.tz == "Asia/Kathmandu"]
    assert kathmandu and kathmandu[0].tz_offset == 5 * 3600 + 45 * 60


def test_a_share_of_names_are_not_ascii():
    d = generate_directory(people=1000, seed=1)
    names = [p.real_name for p in d.humans()]
    non_ascii = [n for n in names if not n.isascii()]
    assert 0.1 < len(non_ascii) / len(names) < 0.7
    scripts = "".join(non_ascii)
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", scripts)  # Japanese / Chinese
    assert re.search(r"[\u0400-\u04ff]", scripts)  # Cyrillic
    assert re.search(r"[\u0600-\u06ff]", scripts)  # Arabic
    for p in d.humans():
        assert p.name.isascii() and p.email.isascii()
    assert any(p.display_name == "" for p in d.humans())  # clients must fall back to real_name


def test_channels_and_groups():
    d = generate_directory(people=300, seed=1)
    general = next(c for c in d.channels if c.is_general)
    assert set(d.active_humans()) - {p.id for p in d.people if p.is_restricted} <= set(
        general.members
    )
    assert any(c.is_private for c in d.channels)
    assert any(c.id.startswith("G") for c in d.channels if c.is_private)
    assert any(not c.bot_is_member for c in d.channels)
    mixed = [c for c in d.channels if any(m in d.deactivated() or m in d.bots() for m in c.members)]
    assert mixed
    for c in d.channels:
        assert isinstance(c, Channel) and c.to_slack()["id"] == c.id
    assert d.groups and all(isinstance(g, UserGroup) and g.id.startswith("S") for g in d.groups)
    g = d.groups[0].to_slack(include_users=True)
    assert g["handle"] and g["users"]


def test_add_person_channel_and_group():
    d = generate_directory(people=20, seed=1)
    odd = d.add_person(real_name='=HYPERLINK("http://x","y")', tz="Asia/Tokyo")
    assert isinstance(odd, Person) and d.person(odd.id) is odd
    assert odd.id in d.active_humans()
    assert odd.to_slack()["real_name"] == '=HYPERLINK("http://x","y")'
    assert odd.tz_offset == 9 * 3600
    gone = d.add_person(real_name="Old Timer", deleted=True)
    assert gone.id not in d.active_humans()
    bot = d.add_person(real_name="Some Bot", is_bot=True)
    assert bot.bot_id.startswith("B") and bot.id not in d.active_humans()
    ch = d.add_channel("secret", [odd.id], is_private=True, bot_member=False)
    assert d.channel(ch.id) is ch and not ch.bot_is_member
    grp = d.add_group("oddballs", [odd.id, gone.id])
    assert d.group(grp.id).users == [odd.id, gone.id]


def test_a_100k_workspace_generates():
    # How fast it generates is the benchmarks' business (bench/audience.py), not a
    # timed test's, which flakes on a shared machine.
    d = generate_directory(people=100_000, seed=1)
    assert len(d.active_humans()) == 100_000
    assert isinstance(d, Directory)
