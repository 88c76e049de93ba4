"""Fault injection: 5xx and 412 without acting, 429 bursts with and without Retry-After,
dropped connections before and after acting, latency, blocked recipients."""

from __future__ import annotations

import http.client
import json
import time
import urllib.error

import pytest

from tests.standin.teams.conftest import Connector


@pytest.fixture
def cid(teams, connector):
    p = teams.directory.installed()[0]
    return connector.create(p.id).json()["id"]


def send(connector: Connector, cid: str, text: str = "hi"):
    return connector.send(cid, {"type": "message", "text": text})


def test_5xx_and_412_answer_without_acting(teams, connector, cid):
    teams.faults.fail_next(1, 502, op="activities.send")
    bad_gateway = send(connector, cid)
    assert bad_gateway.status == 502 and bad_gateway.headers["Content-Type"].startswith("text/html")
    for status, code in [
        (503, "ServiceUnavailable"),
        (504, "GatewayTimeout"),
        (412, "PreconditionFailed"),
    ]:
        teams.faults.fail_next(1, status)
        ans = send(connector, cid)
        assert (ans.status, ans.code) == (status, code)
    assert teams.chat(teams.directory.installed()[0]) == []
    assert teams.faults.counts == {"5xx": 3, "412": 1}
    assert send(connector, cid).status == 201


def test_rates_are_seeded_probabilities(teams, connector, cid):
    teams.faults.set(status_5xx=0.3, status_412=0.1)
    statuses = [send(connector, cid, f"#{i}").status for i in range(60)]
    assert set(statuses) <= {201, 412, 502, 503, 504}
    failed = sum(s != 201 for s in statuses)
    assert 8 <= failed <= 35
    counts = teams.faults.counts
    assert counts.get("5xx", 0) + counts.get("412", 0) == failed
    assert len(teams.chat(teams.directory.installed()[0])) == 60 - failed
    teams.faults.set()  # all zero: the rule is removed
    assert send(connector, cid).status == 201


def test_burst_429_with_and_without_retry_after(teams, connector, cid):
    teams.faults.burst_429(2)
    a, b = send(connector, cid), send(connector, cid)
    assert (a.status, a.code) == (429, "Throttled") and "Retry-After" not in a.headers
    assert b.status == 429
    teams.faults.burst_429(1, retry_after=2, op="activities.send")
    c = send(connector, cid)
    assert c.status == 429 and c.headers["Retry-After"] == "2"
    teams.faults.burst_429(1, retry_after=0.25)
    assert send(connector, cid).headers["Retry-After"] == "0.25"
    assert send(connector, cid).status == 201
    assert teams.faults.counts["429"] == 4
    assert [x.fault for x in teams.calls("activities.send")] == ["429"] * 4 + [None]


def raw_post(teams, cid: str, text: str):
    conn = http.client.HTTPConnection("127.0.0.1", teams.port, timeout=5)
    body = json.dumps({"type": "message", "text": text})
    headers = {
        "Content-Type": "application/json",
        "Authorization": f"Bearer {teams.fetch_token()}",
    }
    try:
        conn.request("POST", f"/v3/conversations/{cid}/activities", body, headers)
        return conn.getresponse().status
    finally:
        conn.close()


def test_drops_reset_the_connection_before_or_after_acting(teams, cid):
    person = teams.directory.installed()[0]
    teams.faults.drop_next(1, after=False)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected, urllib.error.URLError)):
        raw_post(teams, cid, "never")
    assert teams.chat(person) == []
    teams.faults.drop_next(1, after=True, op="activities.send")
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        raw_post(teams, cid, "posted anyway")
    assert [m.text for m in teams.chat(person)] == ["posted anyway"]
    assert raw_post(teams, cid, "fine") == 201
    assert [c.fault for c in teams.calls("activities.send")] == ["drop_before", "drop_after", None]
    assert teams.calls("activities.send")[1].status == 201  # acted, then dropped


def test_latency_delays_the_answer(teams, connector, cid):
    teams.faults.set("activities.send", latency=0.2)
    started = time.monotonic()
    assert send(connector, cid).status == 201
    assert time.monotonic() - started >= 0.2
    assert teams.faults.counts_for("activities.send") == {"latency": 1}


@pytest.mark.parametrize(
    "code", ["ConversationBlockedByUser", "BotDisabledByAdmin", "BotNotInConversationRoster"]
)
def test_block_answers_403_with_the_code_for_that_user_only(teams, connector, code):
    blocked, other = teams.directory.installed()[:2]
    cid = connector.create(blocked.id).json()["id"]
    cid2 = connector.create(other.id).json()["id"]
    c = connector.send(cid, {"type": "message", "text": "memo"})
    aid = c.json()["id"]
    teams.block(blocked.aad_object_id, code)
    ans = send(connector, cid)
    assert (ans.status, ans.code) == (403, code)
    put = connector.call(
        "PUT", f"v3/conversations/{cid}/activities/{aid}", {"type": "message", "text": "x"}
    )
    assert put.code == code
    assert send(connector, cid2).status == 201
    if code == "BotDisabledByAdmin":
        assert connector.create(blocked.id).code == code
    else:
        assert connector.create(blocked.id).status == 201
    assert teams.calls("activities.send")[-2].fault == "blocked"
    teams.block(blocked, None)
    assert send(connector, cid).status == 201


def test_message_writes_blocked_comes_in_its_own_form(teams, connector, cid):
    teams.block(teams.directory.installed()[0], "MessageWritesBlocked")
    ans = send(connector, cid)
    assert ans.status == 403
    body = ans.json()
    assert body["errorCode"] == 209 and "error" not in body
    assert json.loads(body["message"])["subCode"] == "MessageWritesBlocked"
    assert teams.calls("activities.send")[-1].error == "MessageWritesBlocked"
    assert teams.faults.counts == {"blocked": 1}


def test_token_endpoint_faults(teams):
    teams.faults.fail_next(1, 503, op="token")
    with pytest.raises(PermissionError):
        teams.fetch_token()
    assert teams.fetch_token()
