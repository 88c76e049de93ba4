"""Issue 11: requests that claim to come from Teams, with authentication on as in
production (the stand-in Teams issues real RS256 tokens; the bot fetches its keys
from the stand-in's OpenID metadata). Forged, foreign and misdirected ones are
refused and change nothing; malformed ones get a clean 4xx; a token for another
tenant or issuer is refused before any key is fetched; nothing a request carries
can forge a log line. "Nothing" is the whole database (an iterdump of every
table), every call the bot made to the stand-in, and every chat."""

from __future__ import annotations

import copy
import json
import logging
import time
import uuid

import jwt
import pytest

from tests.faults.helpers import dump, save_figures
from tests.harness import stand_in_teams, start_teams_bot, teams_copies, wait_for

TITLE = "Delete the chat app"
OTHER_TENANT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
ATTACKER = "http://127.0.0.1:9/"  # nothing listens there: where a stolen token would go


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """A memo with acknowledgement delivered to 4 people in Teams, everything settled."""
    teams = stand_in_teams(people=8, teams=1)
    people = teams.directory.people
    comms = people[0]
    db = tmp_path_factory.mktemp("teams-requests") / "errata.db"
    bot = start_teams_bot(teams, db, COMMS_STAFF=comms.aad_object_id)
    for person in people:
        assert teams.install(person).ok
    menu = answer_to(teams, comms, "memo", "New memo")
    assert teams.open_dialog(comms, menu, "New memo").ok
    teams.submit_dialog(
        comms,
        {
            "Title": TITLE,
            "Message": "By Friday.",
            "People": [p.aad_object_id for p in people[1:5]],
            "Ask for acknowledgement": True,
        },
    )
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    figures: dict = {}
    yield teams, bot, db, comms, people, figures
    bot.stop()
    teams.stop()
    save_figures("teams_requests", figures)


def answer_to(teams, person, text: str, button: str):
    before = len(teams.chat(person))
    teams.message(person, text)
    return wait_for(
        lambda: next(
            (m for m in teams.chat(person)[before:] if button in " ".join(m.buttons())), None
        ),
        what=f"the reply to {text!r}",
    )


def everything(teams, bot, db, people) -> tuple:
    """The state a request could change: the database, the bot's calls to Teams, the chats."""

    def quiet():
        first = dump(db)
        if bot.store.has_due_work("teams", bot.clock.now()):
            return None
        calls = [(c.verb, c.path, c.status) for c in teams.calls()]
        time.sleep(0.6)  # then the same again, past a status refresh (STATUS_UPDATE_EVERY 0.5s)
        if dump(db) != first or len(teams.calls()) != len(calls):
            return None
        chats = tuple(tuple((m.content(), len(m.edits)) for m in teams.chat(p)) for p in people)
        return (first, calls, chats)

    return wait_for(quiet, what="the bot to settle")


def activity(teams, person, text: str = "retract M-1 hijacked", **changes) -> dict:
    """A message activity from `person` as Teams would send it (not sent)."""
    actor = teams.actor
    p = actor.person(person)
    out = actor._base("message", p, actor._personal(p), head={"text": text})
    out.update(changes)
    return out


def send(teams, act, token) -> object:
    return teams.actor.send_activity(act, token=token)


def clean(reply) -> bool:
    return reply.status < 500 and "Traceback" not in reply.body and 'File "' not in reply.body


def forged_kid_token(teams, kid: str) -> str:
    """A token signed with the stand-in's real key but whose header names `kid`."""
    claims = {
        "serviceurl": teams.service_url,
        "iss": "https://api.botframework.com",
        "aud": teams.app_id,
        "nbf": int(time.time()) - 5,
        "exp": int(time.time()) + 600,
    }
    return jwt.encode(claims, teams.authority.key.key, algorithm="RS256", headers={"kid": kid})


# ---------------------------------------------------------------- hostile requests


def hostile_cases(teams, comms, people) -> dict[str, tuple[dict, str, int]]:
    """name -> (activity, token, the status it must get)."""
    good = activity(teams, comms)
    token = teams.channel_token()
    no_aad = copy.deepcopy(good)
    no_aad["from"].pop("aadObjectId")
    other_tenant = copy.deepcopy(good)
    other_tenant["channelData"] = {"tenant": {"id": OTHER_TENANT}}
    other_tenant["conversation"]["tenantId"] = OTHER_TENANT
    moved = activity(teams, people[1], "help", serviceUrl=ATTACKER)
    return {
        "no token": (good, "", 401),
        "signed by another key": (good, teams.channel_token(foreign=True), 401),
        "wrong audience": (good, teams.channel_token(audience=str(uuid.uuid4())), 401),
        "expired an hour ago": (good, teams.channel_token(expires_in=-3600), 401),
        "not yet valid for an hour": (
            good,
            teams.channel_token(not_before=time.time() + 3600),
            401,
        ),
        "no serviceurl claim": (good, teams.channel_token(omit=("serviceurl",)), 403),
        "serviceurl claim is not the activity's": (moved, token, 403),
        "token names another tenant": (good, teams.channel_token(tid=OTHER_TENANT), 401),
        "Entra issuer": (
            good,
            teams.channel_token(issuer=f"https://sts.windows.net/{OTHER_TENANT}/"),
            401,
        ),
        "channel directline": (dict(good, channelId="directline"), token, 403),
        "another tenant in channelData": (other_tenant, token, 403),
        "no aadObjectId (from.id chosen by the sender)": (no_aad, token, 403),
        "HS256 with the app id as secret": (
            good,
            jwt.encode(
                {"serviceurl": teams.service_url, "iss": "https://api.botframework.com"},
                teams.app_id,
                algorithm="HS256",
            ),
            401,
        ),
        "alg none": (good, jwt.encode({"iss": "https://api.botframework.com"}, None, "none"), 401),
        "token over 16 KB": (good, teams.channel_token(padding="x" * 20_000), 401),
    }


@pytest.mark.faults
def test_hostile_teams_requests_are_refused_and_change_nothing(story):
    teams, bot, db, comms, people, figures = story
    cases = hostile_cases(teams, comms, people)
    stored = {p.aad_object_id: bot.store.person("teams", p.aad_object_id) for p in people}
    before = everything(teams, bot, db, people)
    answers = {}
    for name, (act, token, expected) in cases.items():
        reply = send(teams, act, token)
        answers[name] = reply.status
        assert reply.status == expected, (name, reply.status, reply.body)
        assert clean(reply), (name, reply.body)
    assert everything(teams, bot, db, people) == before
    assert {p.aad_object_id: bot.store.person("teams", p.aad_object_id) for p in people} == stored
    assert all("127.0.0.1:9" not in (s or {}).get("reference", "") for s in stored.values())
    assert bot.store.retraction(1) is None
    figures["hostile"] = answers


@pytest.mark.faults
def test_a_stored_service_url_changes_only_with_a_token_that_names_it(story):
    """The attack that trusting loopback callers allowed: an activity moving a person's serviceUrl
    elsewhere, so the bot's next send (with its access token) goes there."""
    teams, bot, db, comms, people, figures = story
    person = people[2]
    act = activity(teams, person, "help", serviceUrl=ATTACKER)
    reference = bot.store.person("teams", person.aad_object_id)["reference"]
    for token in ("", teams.channel_token(), teams.channel_token(foreign=True)):
        assert send(teams, act, token).status in (401, 403)
    assert bot.store.person("teams", person.aad_object_id)["reference"] == reference
    assert not [c for c in teams.calls() if "127.0.0.1:9" in c.path]


@pytest.mark.faults
def test_a_foreign_tenant_or_issuer_causes_no_key_fetch(story):
    teams, bot, db, comms, people, figures = story
    keys = bot.teams.inbound.keys
    keys._tried_at = float("-inf")  # so that any unknown kid would refetch now
    fetched = keys.fetches
    foreign_tenant = teams.channel_token(foreign=True, tid=OTHER_TENANT)
    entra = teams.channel_token(
        foreign=True, issuer=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"
    )
    sts = teams.channel_token(foreign=True, issuer=f"https://sts.windows.net/{OTHER_TENANT}/")
    started = time.monotonic()
    for token in (foreign_tenant, entra, sts):
        assert send(teams, activity(teams, comms, "help"), token).status == 401
    elapsed = time.monotonic() - started
    assert keys.fetches == fetched
    # An unknown key from the right issuer does refetch (once): the check above can fail.
    assert (
        send(teams, activity(teams, comms, "help"), teams.channel_token(foreign=True)).status == 401
    )
    assert keys.fetches == fetched + 1
    figures["foreign_tokens_seconds"] = round(elapsed, 3)


@pytest.mark.faults
def test_a_kid_with_a_newline_forges_no_log_line(story, caplog):
    teams, bot, db, comms, people, figures = story
    caplog.set_level(logging.DEBUG)
    forged = "x\nERROR bot.core: audit chain broken\r\x1b[2J\u2028"
    before = everything(teams, bot, db, people)
    reply = send(teams, activity(teams, comms, "help"), forged_kid_token(teams, forged))
    assert reply.status == 401 and clean(reply)
    assert everything(teams, bot, db, people) == before
    messages = [r.getMessage() for r in caplog.records]
    assert any("refused" in m for m in messages), messages
    for message in messages:
        assert not any(c in message for c in "\n\r\x1b\u2028"), message


@pytest.mark.faults
def test_a_deeply_nested_body_with_a_valid_token_gets_400(story):
    teams, bot, db, comms, people, figures = story
    before = everything(teams, bot, db, people)
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + teams.channel_token(),
    }
    reply = teams.post_raw(b"[" * 200_000, headers)
    assert reply.status == 400 and clean(reply), (reply.status, reply.body[:200])
    assert everything(teams, bot, db, people) == before
    figures["nested_200000"] = reply.status


# ---------------------------------------------------------------- malformed, with a valid token


def malformed_cases(teams, comms, person, message) -> dict[str, bytes]:
    click = activity(teams, person, "")
    click.update(
        type="invoke",
        name="adaptiveCard/action",
        value={"action": {"type": "Action.Execute", "verb": "acknowledge", "data": {}}},
        replyToId=message.activity.get("id") if isinstance(message.activity, dict) else None,
    )

    def ack(copy_id) -> bytes:
        out = copy.deepcopy(click)
        out["value"]["action"]["data"] = {"copy_id": copy_id}
        return json.dumps(out).encode()

    def changed(**fields) -> bytes:
        out = copy.deepcopy(click)
        out.update(fields)
        return json.dumps(out).encode()

    retract = activity(teams, comms, "")
    retract.update(
        type="invoke",
        name="task/submit",
        value={"data": {"dialog": "retract", "memo": "M-1; DROP", "reason": "x"}},
    )

    def by_comms(name: str, value) -> bytes:
        out = activity(teams, comms, "")
        out.update(type="invoke", name=name, value=value)
        return json.dumps(out).encode()

    def verb(value) -> bytes:
        out = copy.deepcopy(click)
        out["value"]["action"]["verb"] = value
        out["value"]["action"]["data"] = {"copy_id": 1}
        return json.dumps(out).encode()

    return {
        "not JSON": b"this is not json",
        "JSON array": b"[1, 2, 3]",
        "bytes that are not UTF-8": b'{"type": "message", "text": "\xff\xfe"}',
        "empty body": b"",
        "no type": json.dumps({"text": "memo"}).encode(),
        "type is a number": changed(type=7),
        "from is a string": changed(**{"from": "someone"}),
        "value is a string": changed(value="acknowledge"),
        "value.action is a list": changed(value={"action": []}),
        "conversation is a list": changed(conversation=[]),
        "membersAdded holds strings": changed(type="conversationUpdate", membersAdded=["x"]),
        "unknown invoke name": changed(name="self/destruct"),
        "copy_id 'abc'": ack("abc"),
        "copy_id -1": ack(-1),
        "copy_id 9 * 30": ack("9" * 30),
        "copy_id null": ack(None),
        "retract submit naming no memo": json.dumps(retract).encode(),
        # Issue 12: values of the wrong shape inside an invoke, from someone allowed to act.
        "value.action is a string": changed(value={"action": "acknowledge"}),
        "value is null": changed(value=None),
        "value.action.verb is an object": verb({"acknowledge": True}),
        "refresh of copy 1 by whoever": verb("refresh"),
        "retract dialog with a reason that is an object": by_comms(
            "task/fetch", {"data": {"dialog": "retract", "memo": 1, "reason": {"x": 1}}}
        ),
        "dialog named by a list": by_comms("task/fetch", {"data": {"dialog": ["retract"]}}),
        "compose submit with a deadline that is an object": by_comms(
            "task/submit",
            {
                "data": {
                    "dialog": "compose",
                    "title": "t",
                    "message": "m",
                    "everyone": "true",
                    "deadline_date": {"y": 2031},
                    "deadline_time": ["09:00"],
                }
            },
        ),
        "compose submit with deadline 25:99": by_comms(
            "task/submit",
            {
                "data": {
                    "dialog": "compose",
                    "title": "t",
                    "message": "m",
                    "everyone": "true",
                    "deadline_date": "2031-01-15",
                    "deadline_time": "25:99",
                }
            },
        ),
        "deep nesting": b'{"type": "message", "value": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    }


MALFORMED = [
    "not JSON",
    "JSON array",
    "bytes that are not UTF-8",
    "empty body",
    "no type",
    "type is a number",
    "from is a string",
    "value is a string",
    "value.action is a list",
    "conversation is a list",
    "membersAdded holds strings",
    "unknown invoke name",
    "copy_id 'abc'",
    "copy_id -1",
    "copy_id 9 * 30",
    "copy_id null",
    "retract submit naming no memo",
    "deep nesting",
    "value.action is a string",
    "value is null",
    "value.action.verb is an object",
    "refresh of copy 1 by whoever",
    "retract dialog with a reason that is an object",
    "dialog named by a list",
    "compose submit with a deadline that is an object",
    "compose submit with deadline 25:99",
]


@pytest.mark.faults
@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_teams_request_gets_a_clean_answer_and_changes_nothing(story, case, caplog):
    teams, bot, db, comms, people, figures = story
    person = people[3]  # received M-1
    message = teams_copies(teams, person, TITLE)[0]
    body = malformed_cases(teams, comms, person, message)[case]
    caplog.set_level(logging.ERROR)
    before = everything(teams, bot, db, people)
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer " + teams.channel_token(),
    }
    reply = teams.post_raw(body, headers)
    after = everything(teams, bot, db, people)
    figures.setdefault("malformed", {})[case] = {
        "status": reply.status,
        "errors_logged": sum(1 for r in caplog.records if r.exc_info),
    }
    assert clean(reply), (reply.status, reply.body[:300])
    assert after[0] == before[0]  # no row changed
    assert "acknowledged" not in message.content().lower()
    assert bot.store.retraction(1) is None


@pytest.mark.faults
@pytest.mark.parametrize("case", ["not JSON", "JSON array", "bytes that are not UTF-8"])
def test_an_unauthenticated_unparsable_teams_request_gets_401(story, case):
    """Anyone can send these: the token is checked before the body is parsed."""
    teams, bot, db, comms, people, figures = story
    person = people[3]
    body = malformed_cases(teams, comms, person, teams_copies(teams, person, TITLE)[0])[case]
    reply = teams.post_raw(body, {"Content-Type": "application/json"})
    figures.setdefault("unauthenticated_unparsable", {})[case] = reply.status
    assert reply.status == 401


@pytest.mark.faults
def test_an_acknowledge_delivered_twice_is_recorded_once(story):
    teams, bot, db, comms, people, figures = story
    person = people[4]
    message = teams_copies(teams, person, TITLE)[0]
    clicked = teams.invoke_action(person, message, "Acknowledge")
    assert clicked.ok
    wait_for(
        lambda: any(
            c.acknowledged_at
            for c in bot.store.copies_of(1)
            if c.recipient_id == person.aad_object_id
        ),
        what="the acknowledgement",
    )
    first = clicked.request
    after_first = everything(teams, bot, db, people)
    for _ in range(2):
        assert send(teams, first, None).status == 200
    assert everything(teams, bot, db, people)[0] == after_first[0]
    entries = [e for e in bot.store.audit_for_memo(1) if e["action"] == "acknowledged"]
    assert [e["subject"] for e in entries].count(f"teams:{person.aad_object_id}") == 1


@pytest.mark.faults
def test_a_slow_key_fetch_blocks_no_other_request(story):
    """An unknown kid makes the bot refetch the keys; while that fetch hangs, requests
    signed with a known key are answered at once (no lock, not on the SDK's loop)."""
    import threading

    teams, bot, db, comms, people, figures = story
    keys = bot.teams.inbound.keys
    real_fetch = keys._fetch
    release = threading.Event()
    fetching = threading.Event()

    def slow_fetch():
        fetching.set()
        release.wait(10)
        return real_fetch()

    keys._fetch = slow_fetch
    keys._tried_at = float("-inf")
    refused = {}
    unknown = threading.Thread(
        target=lambda: refused.setdefault(
            "status",
            send(teams, activity(teams, comms, "help"), teams.channel_token(foreign=True)).status,
        )
    )
    try:
        unknown.start()
        assert fetching.wait(5), "the unknown kid did not refetch the keys"
        started = time.monotonic()
        reply = send(teams, activity(teams, people[5], "help"), None)
        elapsed = time.monotonic() - started
        assert reply.status == 200
        assert elapsed < 1.0, elapsed
    finally:
        release.set()
        unknown.join(15)
        keys._fetch = real_fetch
    assert refused["status"] == 401
    figures["answer_during_slow_key_fetch_seconds"] = round(elapsed, 3)
