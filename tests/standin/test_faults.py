"""Injected faults: what a client sees, and what really happened on "Slack's" side."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.standin.conftest import TOKEN

CONNECTION_ERRORS = (ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError)


def test_drop_after_posts_the_message_but_the_client_sees_a_connection_error(slack, client, humans):
    person = humans[0]
    slack.faults.drop_next("chat.postMessage", after=True)
    started = time.monotonic()
    with pytest.raises(CONNECTION_ERRORS):
        client.chat_postMessage(channel=person, text="memo")
    assert time.monotonic() - started < 2.0  # a reset, not a hang
    assert [m.text for m in slack.dm(person)] == ["memo"]  # it was posted all the same
    [call] = slack.calls("chat.postMessage")
    assert call.fault == "drop_after" and call.status == 0 and call.ok is True
    assert slack.faults.counts["drop_after"] == 1


def test_a_careless_retry_after_drop_after_double_sends(slack, humans):
    # slack_sdk's default retry handler retries once on a connection reset: the copy goes out twice.
    careless = WebClient(token=TOKEN, base_url=slack.api_url)
    slack.faults.drop_next("chat.postMessage", after=True)
    assert careless.chat_postMessage(channel=humans[0], text="memo")["ok"]
    assert [m.text for m in slack.dm(humans[0])] == ["memo", "memo"]


def test_drop_before_posts_nothing(slack, client, humans):
    slack.faults.set("chat.postMessage", drop_before=1.0)
    with pytest.raises(CONNECTION_ERRORS):
        client.chat_postMessage(channel=humans[0], text="memo")
    assert slack.dm(humans[0]) == []
    assert slack.calls("chat.postMessage")[0].fault == "drop_before"
    slack.faults.clear()
    assert client.chat_postMessage(channel=humans[0], text="memo")["ok"]


def test_5xx_answers_without_acting(slack, humans):
    slack.faults.set(status_5xx=1.0)  # every method
    statuses = []
    for _ in range(12):
        req = urllib.request.Request(
            slack.api_url + "chat.postMessage",
            data=json.dumps({"channel": humans[0], "text": "x"}).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        statuses.append(e.value.code)
    assert set(statuses) <= {500, 502, 503} and len(set(statuses)) > 1
    assert slack.dm(humans[0]) == []
    assert slack.faults.counts["5xx"] == 12
    assert slack.stats()["chat.postMessage"]["faults"] == 12


def test_burst_429_then_normal_service(slack, client, humans):
    slack.faults.burst_429("chat.postMessage", 2, retry_after=0.01)
    for _ in range(2):
        with pytest.raises(SlackApiError) as e:
            client.chat_postMessage(channel=humans[0], text="x")
        assert (
            e.value.response.status_code == 429
            and e.value.response.headers["Retry-After"] == "0.01"
        )
    assert client.chat_postMessage(channel=humans[0], text="x")["ok"]
    assert slack.faults.counts["429"] == 2


def test_fail_user_answers_that_error_for_that_person_only(slack, client, humans):
    slack.faults.fail_user(humans[0], "account_inactive")
    with pytest.raises(SlackApiError) as e:
        client.chat_postMessage(channel=humans[0], text="x")
    assert e.value.response["error"] == "account_inactive"
    assert client.chat_postMessage(channel=humans[1], text="x")["ok"]
    assert slack.calls("chat.postMessage")[0].fault == "fail_user"
    assert slack.faults.counts["fail_user"] == 1
    slack.faults.fail_user(humans[0], None)
    assert client.chat_postMessage(channel=humans[0], text="x")["ok"]


def test_latency_delays_the_answer(slack, client, humans):
    slack.faults.set("users.info", latency=0.2)
    started = time.monotonic()
    client.users_info(user=humans[0])
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    client.chat_postMessage(channel=humans[0], text="x")  # other methods are not affected
    assert time.monotonic() - started < 0.2


def test_rates_are_probabilities_from_a_seeded_rng(slack, client, humans):
    slack.faults.set("chat.postMessage", status_5xx=0.3)
    outcomes = []
    for i in range(60):
        try:
            client.chat_postMessage(channel=humans[i % 10], text="x")
            outcomes.append("ok")
        except SlackApiError:
            outcomes.append("5xx")
    assert 8 <= outcomes.count("5xx") <= 30
    assert len([c for c in slack.calls("chat.postMessage") if c.ok]) == outcomes.count("ok")
