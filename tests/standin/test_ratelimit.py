"""Slack's rate limits: token buckets, Retry-After, time scale, and what a hammering client gets."""

from __future__ import annotations

import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from standin.slack import StandInSlack, generate_directory
from standin.slack.ratelimit import RateLimiter, format_retry_after


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tier_3_bucket_burst_then_retry_after():
    clock = FakeClock()
    rl = RateLimiter(clock=clock)
    allowed = [rl.check("chat.update").allowed for _ in range(6)]
    assert allowed == [True, True, True, True, False, False]  # 5 s of 50/min = 4.17 tokens
    denied = rl.check("chat.update")
    assert 0.9 < denied.retry_after <= 1.2
    assert rl.format_retry_after(denied.retry_after) == "1"
    clock.now += denied.retry_after
    assert rl.check("chat.update").allowed
    assert not rl.check("chat.update").allowed
    # other methods have their own buckets
    assert rl.check("users.info").allowed


def test_tier_2_waits_three_seconds_per_call():
    clock = FakeClock()
    rl = RateLimiter(clock=clock)
    assert rl.check("users.list").allowed
    d = rl.check("users.list")  # capacity 1.67: one call, then 0.67 token left
    assert not d.allowed and rl.format_retry_after(d.retry_after) == "1"
    clock.now += 1.0
    assert rl.check("users.list").allowed
    d = rl.check("users.list")
    assert not d.allowed and rl.format_retry_after(d.retry_after) == "3"


def test_post_message_per_channel_and_workspace_wide():
    clock = FakeClock()
    rl = RateLimiter(clock=clock, post_per_minute=300)
    assert [rl.check("chat.postMessage", "D1").allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    assert rl.check("chat.postMessage", "D1").retry_after == 1.0
    others = [rl.check("chat.postMessage", f"D{n}").allowed for n in range(2, 40)]
    assert others.count(True) == 22  # 25 workspace tokens in all (5 s of 300/min)
    clock.now += 1.0
    assert [rl.check("chat.postMessage", f"E{n}").allowed for n in range(8)].count(True) == 5


def test_time_scale_multiplies_rates_and_retry_after_becomes_real_seconds():
    clock = FakeClock()
    rl = RateLimiter(clock=clock, time_scale=20)
    assert rl.ceiling_per_second("chat.update") == 50 / 60 * 20
    assert rl.ceiling_per_second("chat.postMessage") == 300 / 60 * 20
    assert rl.ceiling_per_second("chat.postMessage", per_channel=True) == 20
    for _ in range(4):
        rl.check("chat.update")
    d = rl.check("chat.update")
    assert not d.allowed
    assert rl.format_retry_after(d.retry_after) == "0.05"
    assert format_retry_after(0.0001, 20) == "0.001"
    assert format_retry_after(0.3, 1) == "1" and format_retry_after(2.01, 1) == "3"
    assert format_retry_after(0.05, 20, integer=True) == "1"


def test_limits_are_overridable_and_can_be_switched_off():
    rl = RateLimiter(clock=FakeClock(), limits={"chat.update": 600}, burst_seconds=1)
    assert [rl.check("chat.update").allowed for _ in range(11)].count(True) == 10
    rl.set("chat.update", None)
    assert all(rl.check("chat.update").allowed for _ in range(100))
    rl.enabled = False
    assert all(rl.check("users.list").allowed for _ in range(100))


def test_a_hammering_client_gets_about_the_ceiling_with_retry_after():
    scale = 60.0  # chat.update: 50/min -> 50 per real second
    with StandInSlack(
        generate_directory(people=20, seed=2), bot_token="xoxb-t", time_scale=scale
    ) as slack:
        client = WebClient(token="xoxb-t", base_url=slack.api_url, retry_handlers=[])
        posted = client.chat_postMessage(channel=slack.directory.active_humans()[0], text="v0")
        accepted, limited, retry_afters = [0], [0], []
        lock = threading.Lock()
        stop_at = time.monotonic() + 1.0

        def hammer():
            c = WebClient(token="xoxb-t", base_url=slack.api_url, retry_handlers=[])
            while time.monotonic() < stop_at:
                try:
                    c.chat_update(channel=posted["channel"], ts=posted["ts"], text="again")
                    with lock:
                        accepted[0] += 1
                except SlackApiError as e:
                    assert e.response.status_code == 429 and e.response["error"] == "ratelimited"
                    with lock:
                        limited[0] += 1
                        retry_afters.append(e.response.headers["Retry-After"])

        started = time.monotonic()
        threads = [threading.Thread(target=hammer) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        ceiling = slack.ceiling_per_second("chat.update")
        assert slack.burst("chat.update") == 50 / 60 * 5
        expected = slack.burst("chat.update") + ceiling * elapsed  # the burst, then the ceiling
        assert limited[0] > accepted[0]  # the client really was hammering
        assert 0.8 * expected <= accepted[0] <= 1.1 * expected + 2, (accepted[0], expected)
        assert all(0 < float(r) <= 0.05 for r in retry_afters)
        stats = slack.stats()["chat.update"]
        assert stats["accepted"] == accepted[0] and stats["rate_limited"] == limited[0]
        assert len(slack.dm(slack.directory.active_humans()[0])[0].edits) == accepted[0]


def test_integer_retry_after_at_real_speed_over_http():
    with StandInSlack(generate_directory(people=5, seed=2), bot_token="xoxb-t") as slack:
        client = WebClient(token="xoxb-t", base_url=slack.api_url, retry_handlers=[])
        person = slack.directory.active_humans()[0]
        for _ in range(3):
            client.chat_postMessage(channel=person, text="x")
        try:
            client.chat_postMessage(channel=person, text="x")
            raise AssertionError("expected a 429")
        except SlackApiError as e:
            assert e.response.status_code == 429
            assert e.response.headers["Retry-After"] == "1"
        assert [c.status for c in slack.calls("chat.postMessage")] == [200, 200, 200, 429]
