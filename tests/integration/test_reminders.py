"""Stories of reminders and escalation through the stand-in Slack, with a set clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import SettableClock
from tests.harness import copies_in_dm, notices_in_dm, stand_in, start_bot, wait_for
from tests.integration.test_broadcast import send_memo
from tests.integration.test_retraction import retract

MONDAY_NOON_UTC = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def reminders_in_dm(slack, person):
    return [
        m for m in slack.dm(person) if (m.metadata or {}).get("event_type") == "errata_reminder"
    ]


def run_rounds(bot, clock, hours: float, step_minutes: int = 30):
    """Sweep as the scheduler would, every `step_minutes`, for `hours`; wait for each send."""
    for _ in range(int(hours * 60 / step_minutes)):
        clock.advance(timedelta(minutes=step_minutes))
        bot.core.reminders.sweep()
        wait_for(lambda: _outbox_idle(bot), what="reminders sent")


def _outbox_idle(bot) -> bool:
    rows = bot.store._rows(
        "SELECT count(*) AS n FROM reminders WHERE state IN ('pending', 'sending')"
    )
    escalations = bot.store._rows(
        "SELECT count(*) AS n FROM escalations WHERE state IN ('pending', 'sending')"
    )
    return rows[0]["n"] == 0 and escalations[0]["n"] == 0


def story(tmp_path, **settings):
    slack = stand_in(people=30)
    tokyo = slack.directory.add_person(real_name="Haruto Sato", tz="Asia/Tokyo").id
    new_york = slack.directory.add_person(real_name="Ava Miller", tz="America/New_York").id
    comms = slack.directory.active_humans()[0]
    clock = SettableClock(MONDAY_NOON_UTC)
    bot = start_bot(slack, tmp_path / "errata.db", clock=clock, COMMS_STAFF=comms, **settings)
    return slack, bot, clock, comms, tokyo, new_york


def test_each_person_is_reminded_at_nine_in_their_own_time_zone(tmp_path):
    slack, bot, clock, comms, tokyo, new_york = story(
        tmp_path, RETRACTION_REMIND_AFTER="2h", REMIND_EVERY="24h", MAX_REMINDERS="1"
    )
    try:
        send_memo(slack, comms, People=[tokyo, new_york])
        wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
        clock.set(datetime(2026, 11, 30, 23, 0, tzinfo=UTC))  # 08:00 Tokyo, 18:00 New York
        retract(slack, comms)
        wait_for(lambda: bot.store.memo(1).state == "retracted", what="retraction")
        run_rounds(bot, clock, hours=24)
        sent = {
            r["recipient_id"]: datetime.fromisoformat(r["delivered_at"].replace("Z", "+00:00"))
            for r in bot.store._rows("SELECT * FROM reminders WHERE state = 'delivered'")
        }
        # Due at 01:00 UTC: 10:00 in Tokyo (inside the window), 20:00 in New York (outside).
        assert sent[tokyo].astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M") == "10:00"
        assert sent[new_york].astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") == "09:00"
        assert (
            len(reminders_in_dm(slack, tokyo)) == 1 and len(reminders_in_dm(slack, new_york)) == 1
        )
        reminder = reminders_in_dm(slack, new_york)[0]
        assert [b["text"] for b in reminder.buttons()] == ["I've seen this"]
        assert "retraction notice" in reminder.content()
        deferred = [e for e in bot.store.audit_entries() if e["action"] == "reminder deferred"]
        assert [e["subject"] for e in deferred] == [f"slack:{new_york}"]
    finally:
        bot.stop()
        slack.stop()


def test_a_restart_between_rounds_sends_nothing_twice_and_skips_no_one(tmp_path):
    slack, bot, clock, comms, tokyo, new_york = story(
        tmp_path,
        WORKING_HOURS="off",
        RETRACTION_REMIND_AFTER="1h",
        REMIND_EVERY="2h",
        MAX_REMINDERS="3",
    )
    people = [tokyo, new_york, *slack.directory.active_humans()[1:6]]
    try:
        send_memo(slack, comms, People=people)
        wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
        retract(slack, comms)
        wait_for(lambda: bot.store.memo(1).state == "retracted", what="retraction")
        run_rounds(bot, clock, hours=1.5)  # first round
        assert all(len(reminders_in_dm(slack, p)) == 1 for p in people)
        confirmer = people[2]
        slack.click(confirmer, notices_in_dm(slack, confirmer)[0], "I've seen this")
        wait_for(
            lambda: bot.store.retraction_counts(1).seen == 1, what="a confirmation between rounds"
        )
        bot.stop()
        clock.advance(timedelta(hours=5))  # down through the second round's time
        bot = start_bot(
            slack,
            tmp_path / "errata.db",
            clock=clock,
            COMMS_STAFF=comms,
            WORKING_HOURS="off",
            RETRACTION_REMIND_AFTER="1h",
            REMIND_EVERY="2h",
            MAX_REMINDERS="3",
        )
        bot.core.reminders.sweep()
        bot.core.reminders.sweep()  # a double fire after the restart
        wait_for(lambda: _outbox_idle(bot), what="the catch-up reminders")
        run_rounds(bot, clock, hours=0.5)
        for person in people:
            expected = 1 if person == confirmer else 2
            assert len(reminders_in_dm(slack, person)) == expected, (
                person
            )  # caught up once, not per missed tick
        run_rounds(bot, clock, hours=6)
        for person in people:
            assert len(reminders_in_dm(slack, person)) == (1 if person == confirmer else 3)
        escalation = wait_for(
            lambda: [m for m in slack.dm(comms) if "Not confirmed" in m.content()],
            what="escalation",
        )
        assert len(escalation) == 1
        named = escalation[0].content()
        assert confirmer not in named and all(p in named for p in people if p != confirmer)
        run_rounds(bot, clock, hours=6)
        assert (
            len([m for m in slack.dm(comms) if "Not confirmed" in m.content()]) == 1
        )  # never twice
    finally:
        bot.stop()
        slack.stop()


def test_acknowledgement_reminders_stop_when_the_memo_is_retracted(tmp_path):
    slack, bot, clock, comms, tokyo, new_york = story(
        tmp_path,
        WORKING_HOURS="off",
        RETRACTION_REMIND_AFTER="1h",
        REMIND_EVERY="1h",
        MAX_REMINDERS="5",
    )
    people = slack.directory.active_humans()[1:8]
    try:
        send_memo(slack, comms, People=people, **{"Ask for acknowledgement": True})
        wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
        slack.click(people[0], copies_in_dm(slack, people[0])[0], "Acknowledge")
        wait_for(lambda: bot.store.memo_counts(1).acknowledged == 1, what="one acknowledgement")
        run_rounds(bot, clock, hours=1)
        assert len(reminders_in_dm(slack, people[0])) == 0
        assert [len(reminders_in_dm(slack, p)) for p in people[1:]] == [1] * 6
        assert "please acknowledge" in reminders_in_dm(slack, people[1])[0].content()
        # The reminder's own button acknowledges.
        slack.click(people[1], reminders_in_dm(slack, people[1])[0], "Acknowledge")
        wait_for(
            lambda: bot.store.memo_counts(1).acknowledged == 2, what="acknowledged from a reminder"
        )
        clock.advance(timedelta(minutes=50))  # the second round is ten minutes away...
        retract(slack, comms)  # ...when the memo is retracted
        wait_for(lambda: bot.store.memo(1).state == "retracted", what="retraction")
        run_rounds(bot, clock, hours=3)
        # No acknowledgement reminder after the retraction; only retraction reminders now.
        for person in people:
            kinds = [m.content() for m in reminders_in_dm(slack, person)]
            assert sum("please acknowledge" in k for k in kinds) <= 1, person
    finally:
        bot.stop()
        slack.stop()
