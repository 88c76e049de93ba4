"""Teams' rate limits: 50 RPS per app per tenant, per-conversation windows, Retry-After."""

from __future__ import annotations

import math

import pytest

from standin.teams import StandInTeams, generate_teams_directory
from standin.teams.limits import TeamsRateLimiter
from tests.standin.teams.conftest import Connector


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_per_conversation_send_windows():
    clock = FakeClock()
    rl = TeamsRateLimiter(clock=clock, app_rps=None)
    assert [rl.check("activities.send", "a:1").allowed for _ in range(8)] == [True] * 7 + [False]
    d = rl.check("activities.update", "a:1")  # edits share the conversation's budget
    assert not d.allowed and d.scope == "send" and d.retry_after == pytest.approx(1 / 7)
    assert rl.check("activities.send", "a:2").allowed  # other conversations are untouched
    clock.now += 1.0
    # buckets refill continuously: the 2 s bucket (8, 4/s) had 1 left, now 5
    assert [rl.check("activities.send", "a:1").allowed for _ in range(6)] == [True] * 5 + [False]


def count_accepted(rl, clock, seconds: float, step: float = 0.05) -> int:
    accepted = 0
    end = clock.now + seconds
    while clock.now < end:
        accepted += rl.check("activities.send", "a:1").allowed
        clock.now += step
    return accepted


def test_a_hammered_conversation_gets_the_30_s_and_hourly_budgets():
    clock = FakeClock()
    rl = TeamsRateLimiter(clock=clock, app_rps=None)
    assert count_accepted(rl, clock, 30) == pytest.approx(60 + 2 * 30, abs=2)
    clock.now = 10_000.0
    rl.reset()
    assert count_accepted(rl, clock, 3600, step=0.25) == pytest.approx(1800 + 1800, abs=3)


def test_app_limit_is_50_per_second_across_conversations():
    clock = FakeClock()
    rl = TeamsRateLimiter(clock=clock)
    allowed = [rl.check("activities.send", f"a:{n}").allowed for n in range(60)]
    assert allowed.count(True) == 50
    d = rl.check("members.paged", "19:x")
    assert not d.allowed and d.scope == "app" and d.retry_after == pytest.approx(1 / 50)
    clock.now += 0.1
    assert [rl.check("teams.get").allowed for _ in range(6)].count(True) == 5


def test_ceilings_and_time_scale():
    rl = TeamsRateLimiter(time_scale=20)
    assert rl.ceiling_per_second("app") == 50 * 20
    assert rl.ceiling_per_second("send") == 0.5 * 20  # 1800 per hour
    assert rl.ceiling_per_second("activities.send", window=1) == 7 * 20
    assert rl.ceiling_per_second("members", window=30) == 4 * 20
    assert rl.burst("send") == 7 and rl.burst("app") == 50
    assert rl.windows("create")[0] == (7, 1 / 20)
    rl.enabled = False
    assert rl.ceiling_per_second("app") == math.inf


def hammer(connector: Connector, cid: str, n: int) -> list:
    return [connector.send(cid, {"type": "message", "text": f"#{i}"}) for i in range(n)]


def test_over_the_limit_429_throttled_with_retry_after_in_real_seconds():
    # 3 sends per Teams minute at 20x: one token a real second, far slower than the client
    with StandInTeams(
        generate_teams_directory(people=5, teams=1),
        time_scale=20,
        windows={"send": ((3, 60),)},
    ) as teams:
        c = Connector(teams)
        p = teams.directory.installed()[0]
        cid = c.create(p.id).json()["id"]
        answers = hammer(c, cid, 5)
        assert [a.status for a in answers] == [201, 201, 201, 429, 429]
        refused = answers[3]
        assert refused.code == "Throttled"
        wait = float(refused.headers["Retry-After"])
        assert 0 < wait <= 1.0 and refused.headers["Retry-After"] != "1"
        assert teams.ceiling_per_second("send") == 1.0
        assert teams.stats()["activities.send"]["rate_limited"] == 2
        faults = [x.fault for x in teams.calls("activities.send")]
        assert faults == [None, None, None, "ratelimited", "ratelimited"]
        assert len(teams.chat(p)) == 3


def test_the_default_windows_refuse_a_burst_of_sends_into_one_chat():
    with StandInTeams(generate_teams_directory(people=5, teams=1)) as teams:
        c = Connector(teams)
        cid = c.create(teams.directory.installed()[0].id).json()["id"]
        statuses = [a.status for a in hammer(c, cid, 10)]
        assert statuses[:7] == [201] * 7 and 429 in statuses[7:]


def test_retry_after_is_whole_seconds_at_real_speed():
    with StandInTeams(generate_teams_directory(people=5, teams=1)) as teams:
        teams.rate_limits.set_app_rps(None)
        teams.rate_limits.set_windows("send", ((1, 5),))
        c = Connector(teams)
        cid = c.create(teams.directory.installed()[0].id).json()["id"]
        first, second = hammer(c, cid, 2)
        assert first.status == 201 and second.status == 429
        assert second.headers["Retry-After"] in ("4", "5")
        assert teams.ceiling_per_second("send") == 0.2
