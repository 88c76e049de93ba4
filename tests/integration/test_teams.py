"""Stories in Microsoft Teams, through the stand-in Teams (a loopback Bot Connector)."""

from __future__ import annotations

import pytest

from standin.teams import StandInTeams, generate_teams_directory
from tests.harness import (
    copies_in_dm,
    notices_in_dm,
    stand_in,
    stand_in_teams,
    start_teams_bot,
    teams_copies,
    teams_notices,
    wait_for,
)

TITLE = "Delete the chat app"


@pytest.fixture
def teams():
    stand = stand_in_teams(people=220)
    yield stand
    stand.stop()


@pytest.fixture
def teams_bot(teams, tmp_path):
    """A bot on Teams whose comms staff is the first of `count` people, all with the app."""
    bots = []

    def make(count: int):
        people = teams.directory.people[:count]
        bot = start_teams_bot(teams, tmp_path / "errata.db", COMMS_STAFF=aad(people[0]))
        bots.append(bot)
        install_everyone(teams, people)
        return bot, people

    yield make
    for bot in bots:
        bot.stop()


def aad(person) -> str:
    return person.aad_object_id


def install_everyone(teams, people):
    for person in people:
        assert teams.install(person).ok


def answer_to(teams, person, text: str, button: str):
    """Write to the bot; the new reply that carries `button`."""
    before = len(teams.chat(person))
    teams.message(person, text)
    return wait_for(
        lambda: next(
            (m for m in teams.chat(person)[before:] if button in " ".join(m.buttons())), None
        ),
        what=f"the reply to {text!r}",
    )


def compose(teams, comms, values: dict):
    menu = answer_to(teams, comms, "memo", "New memo")
    opened = teams.open_dialog(comms, menu, "New memo")
    assert opened.ok, opened
    return teams.submit_dialog(
        comms, {"Title": TITLE, "Message": "Please delete it by Friday.", **values}
    )


def retract(teams, comms, memo="M-1", reason="Sent in error"):
    offer = answer_to(teams, comms, f"retract {memo} {reason}", "Retract ")
    teams.open_dialog(comms, offer, next(b for b in offer.buttons() if b.startswith("Retract")))
    return teams.submit_dialog(comms, {"Corrected instructions": "Keep the app."})


@pytest.mark.slow
def test_teams_story_memo_acknowledge_retract(teams, tmp_path):
    people = teams.directory.people[:200]
    comms = people[0]
    # Slow enough (60 requests a second) that the retraction lands mid-fan-out.
    bot = start_teams_bot(
        teams, tmp_path / "errata.db", COMMS_STAFF=aad(comms), TEAMS_REQUESTS_PER_SECOND=60
    )
    install_everyone(teams, people)
    try:
        wait_for(
            lambda: len(bot.store.everyone("teams")) == len(people), what="every install recorded"
        )
        reply = compose(
            teams, comms, {"Everyone with the app": True, "Ask for acknowledgement": True}
        )
        assert reply.ok and not reply.errors_by_label, reply
        wait_for(
            lambda: bot.store.memo_counts(1).delivered >= 40, timeout=60, what="part of the fan-out"
        )
        acknowledgers = [p for p in people[1:] if teams_copies(teams, p)][:30]
        for person in acknowledgers:
            assert teams.invoke_action(person, teams_copies(teams, person)[0], "Acknowledge").ok
        wait_for(lambda: bot.store.memo_counts(1).acknowledged == 30, what="30 acknowledgements")
        retract(teams, comms)
        wait_for(lambda: bot.store.memo(1).state == "retracted", timeout=90, what="the retraction")
        counts = bot.store.memo_counts(1)
        assert counts.cancelled > 0 and counts.delivered + counts.cancelled == len(people)
        by_state = {c.recipient_id: c for c in bot.store.copies_of(1)}
        for person in people:
            copy = by_state[aad(person)]
            if copy.state == "cancelled":
                assert teams_copies(teams, person) == [] and teams_notices(teams, person) == []
                continue
            copies = teams_copies(teams, person)
            assert len(copies) == 1, person
            assert "RETRACTED: sent in error" in copies[0].content() and copies[0].buttons() == []
            notices = teams_notices(teams, person)
            assert len(notices) == 1 and notices[0].buttons() == ["I've seen this"]
        first_others = min(
            int(teams_notices(teams, p)[0].id)
            for p in people
            if by_state[aad(p)].state == "delivered" and p not in acknowledgers
        )
        last_acker = max(int(teams_notices(teams, p)[0].id) for p in acknowledgers)
        assert last_acker <= first_others
        seers = [p for p in people if by_state[aad(p)].state == "delivered"][:20]
        for person in seers:
            assert teams.invoke_action(person, teams_notices(teams, person)[0], "I've seen this").ok
        wait_for(lambda: bot.store.retraction_counts(1).seen == 20, what="20 seen")
        # The click's answer shows on the device that clicked; the stored notice is edited
        # right after, so every device shows it.
        wait_for(
            lambda: "You confirmed" in teams_notices(teams, seers[0])[0].content(),
            what="the notice edited",
        )
        rows = {
            r["recipient_id"]: r
            for r in __import__("bot.reports", fromlist=["rows"]).rows(bot.store, 1)
        }
        assert all(r["platform"] == "teams" for r in rows.values())
        assert sum(1 for r in rows.values() if r["seen_at"]) == 20
    finally:
        bot.stop()


def test_an_acknowledge_by_someone_else_is_refused(teams, teams_bot):
    bot, people = teams_bot(5)
    compose(teams, people[0], {"People": [aad(people[1])], "Ask for acknowledgement": True})
    wait_for(lambda: teams_copies(teams, people[1]), what="the copy")
    copy_id = bot.store.copies_of(1)[0].id
    intruder = people[2]
    forged = {
        "type": "invoke",
        "name": "adaptiveCard/action",
        "id": "forged-1",
        "channelId": "msteams",
        "serviceUrl": teams.service_url,
        "from": intruder.to_account(),
        "recipient": {"id": f"28:{teams.app_id}"},
        "conversation": {
            "id": teams.conversation_of(intruder) or "a:x",
            "conversationType": "personal",
            "tenantId": teams.tenant_id,
        },
        "channelData": {"tenant": {"id": teams.tenant_id}},
        "value": {
            "action": {
                "type": "Action.Execute",
                "verb": "acknowledge",
                "data": {"copy_id": copy_id},
            },
            "trigger": "manual",
        },
    }
    reply = teams.actor.send_activity(forged)
    assert reply.status == 200 and "someone else" in str(reply.json())
    assert bot.store.memo_counts(1).acknowledged == 0


def test_compose_dialog_refuses_bad_input_and_employees(teams, teams_bot):
    bot, people = teams_bot(5)
    reply = compose(teams, people[0], {})
    assert "at least one audience" in str(reply.json())
    assert bot.store.memo(1) is None
    teams.message(people[3], "memo")
    wait_for(lambda: teams.chat(people[3]), what="the refusal")
    assert "Only comms staff" in teams.chat(people[3])[-1].content()
    assert any(e["action"] == "denied" for e in bot.store.audit_entries())


def test_blocked_and_uninstalled_people_are_failed_with_the_reason(teams, teams_bot):
    bot, people = teams_bot(8)
    teams.block(people[2], code="ConversationBlockedByUser")
    teams.block(people[3], code="BotDisabledByAdmin")
    compose(teams, people[0], {"Everyone with the app": True})
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    failures = bot.store.memo_counts(1).failures
    assert (
        failures.get("ConversationBlockedByUser") == 1 and failures.get("BotDisabledByAdmin") == 1
    )
    teams.uninstall(people[4])
    wait_for(
        lambda: (bot.store.person("teams", aad(people[4])) or {}).get("deleted") == 1,
        what="uninstall recorded",
    )
    compose(teams, people[0], {"People": [aad(people[4]), aad(people[5])]})
    wait_for(lambda: bot.store.memo(2) and bot.store.memo(2).state == "sent", what="second fan-out")
    assert bot.store.memo_counts(2).failures == {"app not installed": 1}


def test_faults_429_503_nothing_doubled_nothing_lost(teams, teams_bot):
    bot, people = teams_bot(60)
    menu = answer_to(teams, people[0], "memo", "New memo")
    teams.open_dialog(people[0], menu, "New memo")
    teams.faults.burst_429(15, retry_after=None)
    teams.faults.burst_429(15, retry_after=0.05)
    teams.faults.set(op="activities.send", status_5xx=0.2)
    teams.submit_dialog(
        people[0], {"Title": TITLE, "Message": "By Friday.", "Everyone with the app": True}
    )
    wait_for(
        lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent",
        timeout=120,
        what="fan-out",
    )
    teams.faults.clear()
    for person in people:
        assert len(teams_copies(teams, person)) == 1, person
    assert bot.store.memo_counts(1).delivered == len(people)


def test_unauthenticated_teams_requests_are_refused(tmp_path):
    teams = StandInTeams(generate_teams_directory(people=3, seed=2))
    teams.start()
    bot = start_teams_bot(teams, tmp_path / "errata.db")
    try:
        person = teams.directory.people[0]
        unsigned = {
            "type": "message",
            "text": "help",
            "channelId": "msteams",
            "serviceUrl": teams.service_url,
            "from": person.to_account(),
            "conversation": {
                "id": "a:1",
                "conversationType": "personal",
                "tenantId": teams.tenant_id,
            },
        }
        assert teams.actor.send_activity(unsigned, token="").status == 401
        forged = teams.post_raw(
            b'{"type": "message", "text": "help"}',
            {
                "Content-Type": "application/json",
                "Authorization": "Bearer " + teams.channel_token(foreign=True),
            },
        )
        assert forged.status == 401
        assert bot.store.person("teams", person.aad_object_id) is None
    finally:
        bot.stop()
        teams.stop()


@pytest.mark.slow
def test_one_memo_to_slack_and_teams_is_retracted_on_each(tmp_path):
    slack = stand_in(people=110)
    teams = stand_in_teams(people=100)
    comms_slack = slack.directory.active_humans()[0]
    on_teams = teams.directory.people[:100]
    bot = start_teams_bot(teams, tmp_path / "errata.db", slack=slack, COMMS_STAFF=comms_slack)
    install_everyone(teams, on_teams)
    try:
        wait_for(lambda: len(bot.store.everyone("teams")) == 100, what="installs")
        slack_people = slack.directory.active_humans()[1:101]
        slack.command(comms_slack, "/memo")
        wait_for(lambda: slack.open_views(comms_slack), what="the modal")
        reply = slack.submit_view(
            comms_slack,
            {
                "Title": TITLE,
                "Message": "Please delete it.",
                "People": slack_people,
                "Teams: everyone with the app": True,
            },
        )
        assert not reply.errors, reply.errors
        wait_for(
            lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent",
            timeout=60,
            what="fan-out to both",
        )
        slack.command(comms_slack, "/retract", "M-1 Sent in error")
        wait_for(lambda: slack.open_views(comms_slack), what="the retract modal")
        slack.submit_view(comms_slack, {})
        wait_for(lambda: bot.store.memo(1).state == "retracted", timeout=90, what="the retraction")
        for person in slack_people:
            assert len(copies_in_dm(slack, person)) == 1 and len(notices_in_dm(slack, person)) == 1
        for person in on_teams:
            assert len(teams_copies(teams, person)) == 1 and len(teams_notices(teams, person)) == 1
        platforms = {}
        for copy in bot.store.copies_of(1):
            platforms[copy.platform] = platforms.get(copy.platform, 0) + 1
        assert platforms == {"slack": 100, "teams": 100}
    finally:
        bot.stop()
        teams.stop()
        slack.stop()


def test_members_of_a_team_are_reached_through_its_roster(teams, tmp_path):
    comms = teams.directory.people[0]
    bot = start_teams_bot(teams, tmp_path / "errata.db", COMMS_STAFF=aad(comms))
    try:
        install_everyone(teams, [comms])
        team = teams.directory.teams[1]
        assert all(r.ok for r in teams.install_in_team(team))
        wait_for(lambda: bot.store.group("teams", team.id), what="the team install recorded")
        reply = compose(teams, comms, {"Members of teams": [team.name]})
        assert reply.ok and not reply.errors_by_label
        wait_for(
            lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent",
            timeout=60,
            what="fan-out",
        )
        members = [teams.directory.person(m) for m in team.members]
        assert len(bot.store.copies_of(1)) == len(members) > 5
        for member in members:
            assert len(teams_copies(teams, member)) == 1, member.name
    finally:
        bot.stop()


def test_a_send_lost_in_transit_is_delivered_unconfirmed_never_twice(teams, tmp_path):
    people = teams.directory.people[:5]
    audience = people[1:5]
    bot = start_teams_bot(teams, tmp_path / "errata.db", COMMS_STAFF=aad(people[0]))
    try:
        install_everyone(teams, people)
        menu = answer_to(teams, people[0], "memo", "New memo")
        teams.open_dialog(people[0], menu, "New memo")
        # Teams acts on the next three sends but their answers are lost (at most one of
        # them is the sender's status message; the rest are copies).
        teams.faults.drop_next(3, after=True, op="activities.send")
        teams.submit_dialog(
            people[0],
            {"Title": TITLE, "Message": "By Friday.", "People": [aad(p) for p in audience]},
        )
        wait_for(
            lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent",
            timeout=60,
            what="fan-out",
        )
        dropped = {
            c.conversation_id for c in teams.calls("activities.send") if c.fault == "drop_after"
        }
        copies = bot.store.copies_of(1)
        unconfirmed = [c for c in copies if c.channel in dropped]
        assert len(unconfirmed) >= 2
        for copy in copies:
            assert copy.state == "delivered"
            assert (copy.error or "").startswith("unconfirmed") == (copy in unconfirmed)
        for person in audience:
            assert len(teams_copies(teams, person)) == 1  # never sent twice
        rows = list(__import__("bot.reports", fromlist=["rows"]).rows(bot.store, 1))
        assert sum(r["delivery_error"].startswith("unconfirmed") for r in rows) == len(unconfirmed)
        retract(teams, people[0])
        for person in audience:
            wait_for(lambda p=person: teams_notices(teams, p), what="every notice still goes out")
    finally:
        bot.stop()


def test_teams_reminders_and_the_report_link(teams, tmp_path):
    from datetime import timedelta

    from bot.clock import SettableClock

    people = teams.directory.people[:4]
    clock = SettableClock()
    bot = start_teams_bot(
        teams,
        tmp_path / "errata.db",
        clock=clock,
        COMMS_STAFF=aad(people[0]),
        WORKING_HOURS="off",
        RETRACTION_REMIND_AFTER="1h",
        MAX_REMINDERS="1",
        PUBLIC_URL="http://127.0.0.1:1/",
    )
    try:
        install_everyone(teams, people)
        compose(teams, people[0], {"People": [aad(people[1]), aad(people[2])]})
        wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
        retract(teams, people[0])
        wait_for(lambda: bot.store.memo(1).state == "retracted", what="retraction")
        clock.advance(timedelta(hours=2))
        bot.core.reminders.sweep()
        reminder = wait_for(
            lambda: [m for m in teams.chat(people[1]) if "Reminder:" in m.content()],
            what="the reminder",
        )[0]
        assert teams.invoke_action(people[1], reminder, "I've seen this").ok
        wait_for(lambda: bot.store.retraction_counts(1).seen == 1, what="seen from the reminder")
        report = answer_to(teams, people[0], "memo report M-1", "")
        link = next(
            part for part in report.content().split("(") if "reports/M-1.csv" in part
        ).split(")")[0]
        path = link.split("127.0.0.1:1", 1)[1]
        import urllib.request

        with urllib.request.urlopen(teams.bot_url + path) as response:
            body = response.read().decode()
        assert (
            body.splitlines()[0].startswith("memo_id,recipient_id") and len(body.splitlines()) == 3
        )
        tampered = teams.bot_url + path.replace("sig=", "sig=0")
        try:
            urllib.request.urlopen(tampered)
            raise AssertionError("a tampered link was served")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
    finally:
        bot.stop()


def test_a_retraction_is_applied_within_a_second_while_one_person_floods_the_bot(teams, tmp_path):
    """Replies wait on each chat's pace (Teams allows 1,800 an hour); a retraction must not
    wait behind them. One employee sends 40 messages while comms staff retract a memo."""
    import threading
    import time

    people = teams.directory.people[:8]
    comms, flooder = people[0], people[7]
    bot = start_teams_bot(
        teams,
        tmp_path / "errata.db",
        COMMS_STAFF=aad(comms),
        # Teams' real per-chat pace (not scaled): a reply queue builds up at once.
        TEAMS_CONVERSATION_REQUESTS_PER_SECOND="0.5",
    )
    try:
        install_everyone(teams, people)
        compose(teams, comms, {"People": [aad(p) for p in people[1:7]]})
        wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
        offer = answer_to(teams, comms, "retract M-1 Sent in error", "Retract ")
        teams.open_dialog(comms, offer, next(b for b in offer.buttons() if b.startswith("Retract")))
        sent = []

        def flood():
            for _ in range(5):
                sent.append(teams.message(flooder, "help").status)

        threads = [threading.Thread(target=flood) for _ in range(8)]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(sent) >= 30, what="30 messages from one person")
        started = time.monotonic()
        teams.submit_dialog(comms, {"Corrected instructions": "Keep the app."})
        wait_for(lambda: bot.store.retraction(1) and bot.store.retraction(1).applied, timeout=60)
        delay = time.monotonic() - started
        for thread in threads:
            thread.join()
        print(f"retraction applied {delay:.3f}s after the submit, during a flood of {len(sent)}")
        assert delay < 1.0, delay
        assert set(sent) == {200}
        # The flooder's answers were capped (a couple waiting at a time), not 40 queued ones.
        wait_for(lambda: not bot.core._pending_replies, what="replies to drain")
        answered = len([m for m in teams.chat(flooder) if "Errata" in m.content()])
        print(f"the flooder got {answered} answers to {len(sent)} messages")
        assert answered < 20, answered
    finally:
        bot.stop()
