"""Reminder times, claims and escalation on the store with a set clock (no platform)."""

from datetime import UTC, datetime, timedelta

from bot.config import load_settings
from bot.domain import Audience, Recipient, Sent
from bot.reminders import Reminders
from tests.unit.builders import deliver, memo_to, retract

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo, 07:00 in New York


def settings(**extra):
    return load_settings({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", **extra})


def retracted_memo(store, clock, people):
    store.replace_people(
        "slack", [{"id": pid, "name": pid, "tz": tz} for pid, tz in people], clock.now()
    )
    memo = memo_to(store, clock, [pid for pid, _ in people], ask_ack=False)
    deliver(store, clock)
    retract(store, clock, memo.id)
    deliver(store, clock, "notices")
    return memo


def send_queued(store, clock):
    sent = []
    while reminder := store.claim_reminder("slack", clock.now()):
        store.record("reminders", reminder.id, Sent("D", "3.3"), clock.now())
        sent.append((reminder.recipient_id, reminder.seq, clock.now()))
    return sent


def test_tokyo_and_new_york_are_reminded_at_their_own_nine(store, clock):
    clock.set(NOW)
    retracted_memo(store, clock, [("UTOKYO", "Asia/Tokyo"), ("UNEWYORK", "America/New_York")])
    reminders = Reminders(store, clock, settings(), lambda: None)
    sent = []
    for _ in range(24 * 4):  # a day of sweeps every 15 minutes
        reminders.sweep()
        sent += send_queued(store, clock)
        clock.advance(timedelta(minutes=15))
    firsts = {who: at for who, seq, at in sent if seq == 1}
    assert firsts["UTOKYO"] == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)  # 09:00 in Tokyo
    assert firsts["UNEWYORK"] == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 09:00 in New York
    deferred = [e for e in store.audit_entries() if e["action"] == "reminder deferred"]
    assert {e["subject"] for e in deferred} == {"slack:UTOKYO"}  # due 23:00 Tokyo time


def test_a_double_sweep_queues_nothing_twice(store, clock):
    clock.set(NOW)
    retracted_memo(store, clock, [("U1", "UTC")])
    reminders = Reminders(
        store, clock, settings(WORKING_HOURS="off", RETRACTION_REMIND_AFTER="1h"), lambda: None
    )
    clock.advance(timedelta(hours=2))
    reminders.sweep()
    reminders.sweep()
    assert len(send_queued(store, clock)) == 1


def test_reminders_stop_at_the_maximum_then_one_escalation(store, clock):
    clock.set(NOW)
    retracted_memo(store, clock, [("U1", "UTC"), ("U2", "UTC")])
    notices = store.notices_of(1)
    reminders = Reminders(
        store,
        clock,
        settings(
            WORKING_HOURS="off",
            RETRACTION_REMIND_AFTER="1h",
            REMIND_EVERY="1h",
            MAX_REMINDERS="2",
            ESCALATION_CHANNEL="CESC",
        ),
        lambda: None,
    )
    sent = []
    for step in range(10):
        if step == 2:
            store.mark_seen(notices[1].id, "U2", "slack", clock.now())  # U2 confirms between rounds
        reminders.sweep()
        sent += send_queued(store, clock)
        clock.advance(timedelta(hours=1))
    assert [(who, seq) for who, seq, _ in sent] == [("U1", 1), ("U2", 1), ("U1", 2)]
    escalations = []
    while claimed := store.claim_escalation("slack", clock.now()):
        escalations.append(claimed)
        store.record("escalations", claimed.id, Sent("D", "4.4"), clock.now())
    assert [e.recipient_id for e in escalations] == ["UC", "CESC"]
    assert all(e.people == ("slack:U1",) for e in escalations)
    for _ in range(3):
        reminders.sweep()
        clock.advance(timedelta(hours=1))
    assert store.claim_escalation("slack", clock.now()) is None  # never the same people twice
    assert store.notice(notices[0].id).escalated_at is not None
    assert store.notice(notices[1].id).escalated_at is None


def test_acknowledgement_reminders_stop_at_retraction_and_deadline(store, clock):
    clock.set(NOW)
    store.replace_people(
        "slack", [{"id": "U1", "tz": "UTC"}, {"id": "U2", "tz": "UTC"}], clock.now()
    )
    memo = store.create_memo(
        title="t",
        body="b",
        sender_id="UC",
        sender_platform="slack",
        ask_ack=True,
        ack_deadline=NOW + timedelta(hours=5),
        audience=Audience(everyone=True, platform="slack"),
        now=clock.now(),
    )
    store.add_recipients(memo.id, [Recipient("slack", "U1"), Recipient("slack", "U2")], clock.now())
    while claimed := store.claim_copy("slack", clock.now()):
        store.record("copies", claimed[0].id, Sent("D", "1.1"), clock.now())
    reminders = Reminders(
        store,
        clock,
        settings(
            WORKING_HOURS="off", RETRACTION_REMIND_AFTER="1h", REMIND_EVERY="1h", MAX_REMINDERS="10"
        ),
        lambda: None,
    )
    clock.advance(timedelta(hours=1))
    reminders.sweep()
    copies = store.copies_of(memo.id)
    store.acknowledge(
        copies[1].id, "U2", "slack", clock.now()
    )  # acknowledges with a reminder queued
    sent = send_queued(store, clock)
    assert [who for who, _, _ in sent] == ["U1"]
    for _ in range(8):
        clock.advance(timedelta(hours=1))
        reminders.sweep()
        sent += send_queued(store, clock)
    # Reminders at +1h, +2h, +3h, +4h; the next would be at the 5h deadline: none after it.
    assert [seq for who, seq, _ in sent if who == "U1"] == [1, 2, 3, 4]

    other = store.create_memo(
        title="t2",
        body="b",
        sender_id="UC",
        sender_platform="slack",
        ask_ack=True,
        ack_deadline=None,
        audience=Audience(everyone=True, platform="slack"),
        now=clock.now(),
    )
    store.add_recipients(other.id, [Recipient("slack", "U1")], clock.now())
    claimed = store.claim_copy("slack", clock.now())
    store.record("copies", claimed[0].id, Sent("D", "1.1"), clock.now())
    clock.advance(timedelta(hours=1))
    reminders.sweep()  # a reminder is queued...
    retract(store, clock, other.id)
    assert send_queued(store, clock) == []  # ...and never goes out
