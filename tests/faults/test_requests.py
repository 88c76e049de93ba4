"""Issue 6: requests that claim to come from Slack. Forged and stale ones get 401
and change nothing; a click or an event delivered twice is processed once;
malformed ones get a clean answer (no 500, no traceback) and change nothing.
"Nothing" is checked on the whole database: an iterdump of every table before
and after must be identical."""

from __future__ import annotations

import copy
import json
import logging
import time
from urllib.parse import urlencode

import pytest

from tests.faults.helpers import dump, save_figures
from tests.harness import copies_in_dm, stand_in, start_bot, wait_for

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """A memo with acknowledgement delivered to 12 people, everything settled."""
    slack = stand_in(people=40)
    comms = slack.directory.active_humans()[0]
    people = slack.directory.active_humans()[1:13]
    db = tmp_path_factory.mktemp("requests") / "errata.db"
    bot = start_bot(slack, db, COMMS_STAFF=comms)
    slack.command(comms, "/memo")
    wait_for(lambda: slack.open_views(comms), what="the compose modal")
    reply = slack.submit_view(
        comms,
        {
            "Title": "Delete the chat app",
            "Message": "By Friday.",
            "People": people,
            "Ask for acknowledgement": True,
        },
    )
    assert not reply.errors
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="the fan-out")
    wait_for(lambda: bot.store.memo(1).status_ts, what="the status message")
    figures = {}
    yield slack, bot, db, comms, people, figures
    bot.stop()
    slack.stop()
    save_figures("requests", figures)


def settled(bot, db):
    """The database once the bot has stopped writing (nothing in the outbox, same dump twice)."""

    def quiet():
        first = dump(db)
        if bot.store.has_due_work("slack", bot.clock.now()):
            return None
        time.sleep(0.05)  # then the same again: nothing changed in between
        return first if dump(db) == first else None

    return wait_for(quiet, what="the database to settle")


def form(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def headers(slack, body: bytes, content_type: str = FORM, **sign) -> dict:
    return {"Content-Type": content_type, **slack.sign(body, **sign)}


def click_payload(slack, person, message, button="Acknowledge") -> dict:
    """The payload Slack would send for `person` clicking `button`, without sending it."""
    sent = {}
    real = slack.actor._send_payload
    slack.actor._send_payload = lambda payload: sent.setdefault("payload", payload)
    try:
        slack.click(person, message, button)
    finally:
        slack.actor._send_payload = real
    return sent["payload"]


def clean(reply) -> bool:
    return reply.status < 500 and "Traceback" not in reply.body and 'File "' not in reply.body


# ---------------------------------------------------------------- forged and stale


@pytest.mark.faults
def test_forged_and_stale_requests_get_401_and_change_nothing(story):
    slack, bot, db, comms, people, figures = story
    victim = people[0]
    body = form(click_payload(slack, victim, copies_in_dm(slack, victim)[0]))
    command = urlencode(
        {"command": "/memo", "text": "", "user_id": comms, "trigger_id": "1.2.x", "team_id": "T1"}
    ).encode()
    event = json.dumps(
        {
            "type": "event_callback",
            "event_id": "EvFORGED1",
            "event": {"type": "app_home_opened", "user": victim, "tab": "home"},
        }
    ).encode()
    now = int(time.time())
    cases = {
        "click, wrong secret": (body, headers(slack, body, secret="not-the-secret")),
        "click, 10 minutes old": (body, headers(slack, body, timestamp=now - 600)),
        "click, 10 minutes ahead": (body, headers(slack, body, timestamp=now + 600)),
        "click, no signature": (body, {"Content-Type": FORM}),
        "click, body changed after signing": (
            body.replace(b"Acknowledge", b"Acknowledgf"),
            headers(slack, body),
        ),
        "command, wrong secret": (command, headers(slack, command, secret="nope")),
        "command, 10 minutes old": (command, headers(slack, command, timestamp=now - 600)),
        "event, wrong secret": (event, headers(slack, event, JSON, secret="nope")),
        "event, 10 minutes old": (event, headers(slack, event, JSON, timestamp=now - 600)),
    }
    before = settled(bot, db)
    calls_before = len(slack.calls())
    answers = {}
    for name, (raw, hdrs) in cases.items():
        reply = slack.post_raw(raw, hdrs)
        answers[name] = reply.status
        assert reply.status == 401, (name, reply.status, reply.body)
        assert clean(reply), (name, reply.body)
    assert settled(bot, db) == before
    assert len(slack.calls()) == calls_before  # nothing reached Slack either
    assert not slack.ephemerals(victim) and not slack.open_views(comms)
    assert "You acknowledged" not in copies_in_dm(slack, victim)[0].content()
    figures["forged_and_stale"] = answers


# ---------------------------------------------------------------- delivered twice


@pytest.mark.faults
def test_a_click_delivered_twice_is_recorded_once(story):
    slack, bot, db, comms, people, figures = story
    person = people[1]
    body = form(click_payload(slack, person, copies_in_dm(slack, person)[0]))
    hdrs = headers(slack, body)
    first = slack.post_raw(body, hdrs)
    assert first.status == 200
    wait_for(lambda: "You acknowledged" in copies_in_dm(slack, person)[0].content(), what="shown")
    after_first = settled(bot, db)
    acked_at = bot.store.copies_of(1)[1].acknowledged_at
    replays = [
        slack.post_raw(body, hdrs),  # the very same bytes and headers
        slack.post_raw(body, headers(slack, body)),  # the same body, signed again
    ]
    assert [r.status for r in replays] == [200, 200]
    assert all(clean(r) for r in replays)
    assert settled(bot, db) == after_first
    assert bot.store.copies_of(1)[1].acknowledged_at == acked_at
    entries = [e for e in bot.store.audit_for_memo(1) if e["action"] == "acknowledged"]
    assert [e["subject"] for e in entries] == [f"slack:{person}"]
    figures["click_delivered_three_times"] = {"recorded": len(entries)}


@pytest.mark.faults
def test_an_event_slack_retries_is_processed_once(story):
    slack, bot, db, comms, people, figures = story
    person = people[2]
    before = settled(bot, db)
    first = slack.send_event(
        {"type": "app_home_opened", "user": person, "tab": "home"}, event_id="EvHOME0001"
    )
    assert first.status == 200
    wait_for(lambda: slack.home(person), what="the App Home")
    publishes = len(slack.calls("views.publish"))
    after_first = settled(bot, db)
    assert after_first != before  # the delivery was noted (its event_id)
    body = json.dumps(first.request, ensure_ascii=False).encode()
    retries = []
    for n, why in ((1, "http_timeout"), (2, "http_error"), (3, "http_timeout")):
        retry_headers = {
            **headers(slack, body, JSON),
            "X-Slack-Retry-Num": str(n),
            "X-Slack-Retry-Reason": why,
        }
        retries.append(slack.post_raw(body, retry_headers))
    assert [r.status for r in retries] == [200, 200, 200]
    assert settled(bot, db) == after_first
    assert len(slack.calls("views.publish")) == publishes
    figures["event_retried_three_times"] = {"publishes": publishes}


# ---------------------------------------------------------------- malformed


def malformed_cases(slack, comms, person, message) -> dict[str, tuple[bytes, str]]:
    click = click_payload(slack, person, message)

    def with_value(value):
        payload = copy.deepcopy(click)
        payload["actions"][0]["value"] = value
        return form(payload)

    unknown_action = copy.deepcopy(click)
    unknown_action["actions"][0]["action_id"] = "self_destruct"
    no_actions = copy.deepcopy(click)
    del no_actions["actions"]
    no_user = copy.deepcopy(click)
    del no_user["user"]
    never_opened = {
        "type": "view_submission",
        "team": {"id": slack.team_id},
        "user": {"id": comms},
        "api_app_id": slack.directory.app_id,
        "trigger_id": "1.2.never",
        "view": {
            "id": "VNEVEROPENED",
            "type": "modal",
            "callback_id": "a_view_we_never_opened",
            "private_metadata": "",
            "state": {"values": {}},
        },
    }
    compose_without_state = copy.deepcopy(never_opened)
    compose_without_state["view"]["callback_id"] = "compose_memo"
    del compose_without_state["view"]["state"]
    retract_bad_memo = copy.deepcopy(never_opened)
    retract_bad_memo["view"].update(callback_id="retract_memo", private_metadata="M-1; DROP")
    event_without_event = {"type": "event_callback", "event_id": "EvNOEVENT1"}
    return {
        "not JSON, sent as JSON": (b"this is not json", JSON),
        "JSON array": (b"[1, 2, 3]", JSON),
        "bytes that are not UTF-8": (b"payload=\xff\xfe\xfd", FORM),
        "empty body": (b"", FORM),
        "form with payload not JSON": (b"payload=%7Bnot-json", FORM),
        "form with no payload": (b"hello=world", FORM),
        "payload of no known type": (form({"type": "mystery"}), FORM),
        "event_callback without the event": (json.dumps(event_without_event).encode(), JSON),
        "block_actions without actions": (form(no_actions), FORM),
        "block_actions without user": (form(no_user), FORM),
        "unknown action id": (form(unknown_action), FORM),
        "value 'abc'": (with_value("abc"), FORM),
        "value ''": (with_value(""), FORM),
        "value '-1'": (with_value("-1"), FORM),
        "value '1.5'": (with_value("1.5"), FORM),
        "value '0'": (with_value("0"), FORM),
        "value '²' (a digit to isdigit, not to int)": (with_value("²"), FORM),
        "value too big for SQLite": (with_value("9" * 30), FORM),
        "value null": (with_value(None), FORM),
        "view_submission for a view we never opened": (form(never_opened), FORM),
        "compose submission without state": (form(compose_without_state), FORM),
        "retract submission naming no memo": (form(retract_bad_memo), FORM),
    }


MALFORMED = [
    "not JSON, sent as JSON",
    "JSON array",
    "form with payload not JSON",
    "bytes that are not UTF-8",
    "empty body",
    "form with no payload",
    "payload of no known type",
    "event_callback without the event",
    "block_actions without actions",
    "block_actions without user",
    "unknown action id",
    "value 'abc'",
    "value ''",
    "value '-1'",
    "value '1.5'",
    "value '0'",
    "value '²' (a digit to isdigit, not to int)",
    "value too big for SQLite",
    "value null",
    "view_submission for a view we never opened",
    "compose submission without state",
    "retract submission naming no memo",
]


@pytest.mark.faults
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_request_gets_a_clean_answer_and_changes_nothing(story, case, caplog):
    slack, bot, db, comms, people, figures = story
    person = people[3]
    body, content_type = malformed_cases(slack, comms, person, copies_in_dm(slack, person)[0])[case]
    caplog.set_level(logging.ERROR)
    before = settled(bot, db)
    reply = slack.post_raw(body, headers(slack, body, content_type))
    after = settled(bot, db)
    changed = [line for line in after if line not in before]
    figures.setdefault("malformed", {})[case] = {
        "status": reply.status,
        "clean": clean(reply),
        "rows_changed": changed,
        "errors_logged": sum(1 for r in caplog.records if r.exc_info),
    }
    assert clean(reply), (reply.status, reply.body[:300])
    assert changed == [], changed
    assert "You acknowledged" not in copies_in_dm(slack, person)[0].content()


@pytest.mark.faults
@pytest.mark.parametrize(
    "case", ["not JSON, sent as JSON", "JSON array", "bytes that are not UTF-8"]
)
def test_an_unsigned_unparsable_request_gets_401(story, case):
    """Anyone can send these: the signature must be checked before the body is trusted."""
    slack, bot, db, comms, people, figures = story
    body, content_type = malformed_cases(
        slack, comms, people[3], copies_in_dm(slack, people[3])[0]
    )[case]
    reply = slack.post_raw(body, {"Content-Type": content_type})
    figures.setdefault("unsigned_unparsable", {})[case] = reply.status
    assert reply.status == 401
