"""Stories of channel announcements through the stand-in Slack: a memo posted in a
channel (its members tracked per person, no DM each), acknowledged there, retracted in
seconds (the post edited, the notice in its thread and in the channel), confirmed there,
reminded by DM; and a person's post tracked as a memo.

Scaled down from issue 15's story for run time: a 1,000-member channel (not 5,000), 50
named people (10 of them in the channel), 60 acknowledgements in the channel (not 300),
200 "I've seen this" (not 2,000)."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot import reports
from bot.clock import SettableClock
from tests.harness import copies_in_dm, notices_in_dm, stand_in, start_bot, wait_for
from tests.integration.test_broadcast import send_memo

MEMBERS, NAMED, BOTH = 1000, 50, 10


def post_in(slack, channel, event="errata_post"):
    return [
        m
        for m in slack.messages(channel)
        if (m.metadata or {}).get("event_type") == event and m.bot_id == slack.directory.bot_id
    ]


def report(bot, memo_id=1) -> list[dict]:
    text = "".join(reports.csv_chunks(reports.rows(bot.store, memo_id)))
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def world(tmp_path):
    slack = stand_in(people=MEMBERS + NAMED + 60)
    humans = slack.directory.active_humans()
    comms = humans[0]
    members = humans[1 : MEMBERS + 1]
    outsiders = [h for h in humans if h not in set(members) and h != comms]
    extra = slack.directory.bots()[:2] + slack.directory.deactivated()[:2]
    channel = slack.directory.add_channel("announcements", [*members, *extra])
    named = members[-BOTH:] + outsiders[: NAMED - BOTH]
    clock = SettableClock(datetime.now(UTC).replace(microsecond=0))
    bot = start_bot(
        slack,
        tmp_path / "errata.db",
        clock=clock,
        COMMS_STAFF=comms,
        WORKING_HOURS="off",
        RETRACTION_REMIND_AFTER="1h",
        MAX_REMINDERS="1",
    )
    yield slack, bot, clock, comms, channel, members, named, outsiders[NAMED - BOTH :]
    bot.stop()
    slack.stop()


@pytest.mark.slow
def test_a_memo_posted_in_a_channel_is_tracked_per_person_and_retracted_in_seconds(world):
    slack, bot, clock, comms, channel, members, named, outsiders = world
    reply = send_memo(
        slack,
        comms,
        People=named,
        **{"Post in channels": [channel.id], "Ask for acknowledgement": True},
    )
    assert reply.status == 200 and not reply.errors, reply.body
    wait_for(lambda: bot.store.memo(1).state == "sent", timeout=60, what="the memo to be sent")

    # One post in the channel; DMs only to the named people; one row per person.
    [post] = post_in(slack, channel.id)
    assert "Delete the chat app" in post.content()
    assert [b["text"] for b in post.buttons()] == ["Acknowledge"]
    channel_only = [m for m in members if m not in set(named)]
    assert all(copies_in_dm(slack, m) == [] for m in channel_only)
    assert all(len(copies_in_dm(slack, p)) == 1 for p in named)
    counts = bot.store.memo_counts(1)
    assert (counts.recipients, counts.delivered) == (MEMBERS + NAMED - BOTH,) * 2

    # Members acknowledge in the channel; the post's count follows, not per click.
    acknowledgers = channel_only[::13][:60]
    for person in acknowledgers:
        assert slack.click(person, post, "Acknowledge").status == 200
    slack.click(acknowledgers[0], post, "Acknowledge")  # twice: recorded once
    wait_for(lambda: bot.store.memo_counts(1).acknowledged == 60, what="60 acknowledgements")
    wait_for(
        lambda: "60* acknowledged" in slack.message(channel.id, post.ts).content(),
        timeout=15,
        what="the post to show 60 acknowledged",
    )
    assert len(slack.message(channel.id, post.ts).edits) < 60 / 2

    # Someone who is not in the channel is refused privately and audited.
    stranger = outsiders[0]
    slack.click(stranger, post, "Acknowledge")
    wait_for(
        lambda: any("not in this channel" in m.content() for m in slack.ephemerals(stranger)),
        what="the stranger's refusal",
    )
    denied = [e for e in bot.store.audit_entries() if e["action"] == "denied"]
    assert any(e["actor"] == stranger and e["subject"] == "acknowledge in channel" for e in denied)
    assert bot.store.memo_counts(1).acknowledged == 60

    # /retract: within 2 s of the submit the post reads RETRACTED and the notice is in
    # the channel (a thread reply, also sent to the channel).
    slack.command(comms, "/retract", "M-1 Sent to the wrong list")
    wait_for(lambda: slack.open_views(comms), what="the retract modal")
    submitted = time.monotonic()
    assert not slack.submit_view(comms, {}).errors

    def corrected():
        edited = "RETRACTED: sent in error" in slack.message(channel.id, post.ts).content()
        notices = post_in(slack, channel.id, "errata_post_notice")
        return edited and notices

    [notice] = wait_for(corrected, timeout=5, what="the post edited and the channel notice")
    took = time.monotonic() - submitted
    assert took < 2.0, f"the channel was corrected {took:.2f}s after the submit"
    assert notice.thread_ts == post.ts and notice.reply_broadcast
    assert slack.api.render(notice)["subtype"] == "thread_broadcast"
    assert [b["text"] for b in notice.buttons()] == ["I've seen this"]
    assert slack.message(channel.id, post.ts).buttons() == []

    # Acknowledgers get a DM notice before the other DM recipients; nobody else by DM.
    wait_for(lambda: bot.store.memo(1).state == "retracted", timeout=60, what="the retraction")
    acker_notices = [notices_in_dm(slack, p) for p in acknowledgers]
    assert all(len(n) == 1 for n in acker_notices)
    named_notices = [notices_in_dm(slack, p) for p in named]
    assert all(len(n) == 1 for n in named_notices)
    assert max(float(n[0].ts) for n in acker_notices) < min(float(n[0].ts) for n in named_notices)
    others = [m for m in channel_only if m not in set(acknowledgers)]
    assert all(notices_in_dm(slack, m) == [] for m in others)

    # Members confirm in the channel; a stranger cannot.
    seers = others[:200]
    for person in seers:
        assert slack.click(person, notice, "I've seen this").status == 200
    wait_for(lambda: bot.store.retraction_counts(1).seen == 200, what="200 seen")
    slack.click(stranger, notice, "I've seen this")
    assert bot.store.retraction_counts(1).seen == 200

    # A reminder by DM, only to those who have not confirmed.
    clock.advance(timedelta(hours=2))
    bot.core.reminders.sweep()
    unconfirmed = MEMBERS + NAMED - BOTH - 200
    wait_for(
        lambda: (
            bot.store._rows("SELECT count(*) AS n FROM reminders WHERE state = 'delivered'")[0]["n"]
            == unconfirmed
        ),
        timeout=60,
        what="a reminder to each unconfirmed person",
    )
    assert all(
        not [m for m in slack.dm(p) if (m.metadata or {}).get("event_type") == "errata_reminder"]
        for p in seers
    )
    reminded = others[-1]
    [reminder] = [
        m for m in slack.dm(reminded) if (m.metadata or {}).get("event_type") == "errata_reminder"
    ]
    assert "retraction notice" in reminder.content()

    # The report: one row per person, where each got it, who confirmed, who was reminded.
    rows = {r["recipient_id"]: r for r in report(bot)}
    assert len(rows) == MEMBERS + NAMED - BOTH
    assert list(report(bot)[0])[-1] == "delivered_in"
    for person in channel_only:
        assert rows[person]["delivered_in"] == "#announcements"
    for person in named:
        assert rows[person]["delivered_in"] == "DM"
    for person, row in rows.items():
        assert bool(row["seen_at"]) == (person in set(seers)), person
        assert row["reminders_sent"] == ("0" if person in set(seers) else "1"), person
        assert row["retraction_status"] == "delivered", person


@pytest.fixture
def small(tmp_path):
    slack = stand_in(people=80)
    humans = slack.directory.active_humans()
    comms = humans[0]
    channel = slack.directory.add_channel("it-news", humans[1:41])
    bot = start_bot(slack, tmp_path / "errata.db", COMMS_STAFF=comms)
    yield slack, bot, comms, channel, humans
    bot.stop()
    slack.stop()


def test_a_persons_post_tracked_as_a_memo_is_acknowledged_and_retracted(small):
    slack, bot, comms, channel, humans = small
    author = humans[1]
    original = slack.inject_message(channel.id, author, "Everyone: reset your VPN password today.")

    # Only comms staff may track a post: anyone else is refused privately and audited.
    slack.message_shortcut(humans[2], original, "track_as_memo")
    wait_for(
        lambda: any("Only comms staff" in m.content() for m in slack.ephemerals(humans[2])),
        what="the refusal",
    )
    assert any(
        e["action"] == "denied" and e["subject"] == "track as memo"
        for e in bot.store.audit_entries()
    )
    assert bot.store.memo(1) is None

    slack.message_shortcut(comms, original, "track_as_memo")
    wait_for(lambda: slack.open_views(comms), what="the Track as memo form")
    reply = slack.submit_view(
        comms, {"Title": "Reset your VPN password", "Ask for acknowledgement": True}
    )
    assert not reply.errors, reply.body
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="tracked")
    memo = bot.store.memo(1)
    assert memo.body == original.text and memo.title == "Reset your VPN password"
    [tracking] = wait_for(lambda: post_in(slack, channel.id), what="the reply in the thread")
    assert tracking.thread_ts == original.ts and not tracking.reply_broadcast
    assert [b["text"] for b in tracking.buttons()] == ["Acknowledge"]
    assert bot.store.memo_counts(1).recipients == 40  # the channel's members, the author too
    assert all(copies_in_dm(slack, p) == [] for p in humans[1:41])

    for person in humans[3:8]:
        slack.click(person, tracking, "Acknowledge")
    wait_for(lambda: bot.store.memo_counts(1).acknowledged == 5, what="5 acknowledgements")

    slack.command(comms, "/retract", "M-1 The VPN is fine")
    wait_for(lambda: slack.open_views(comms), what="the retract modal")
    assert not slack.submit_view(comms, {}).errors
    [notice] = wait_for(
        lambda: post_in(slack, channel.id, "errata_post_notice"), what="the notice in the thread"
    )
    assert notice.thread_ts == original.ts and notice.reply_broadcast
    wait_for(
        lambda: "RETRACTED" in slack.message(channel.id, tracking.ts).content(),
        what="the bot's reply retracted",
    )
    assert slack.message(channel.id, original.ts).text == original.text  # a person's post stays

    # The author is asked, by DM, to delete or edit their post, with a link to it.
    [asked] = wait_for(lambda: notices_in_dm(slack, author), what="the author's DM")
    assert "delete or edit" in asked.content()
    assert f"/archives/{channel.id}/p{original.ts.replace('.', '')}" in str(asked.blocks)
    # Acknowledgers get their DM notice; the other members only the channel's.
    wait_for(lambda: bot.store.memo(1).state == "retracted", what="the retraction")
    assert all(len(notices_in_dm(slack, p)) == 1 for p in humans[3:8])
    assert notices_in_dm(slack, humans[20]) == []

    slack.click(humans[20], notice, "I've seen this")
    wait_for(lambda: bot.store.retraction_counts(1).seen == 1, what="seen recorded")
    outsider = humans[60]
    slack.click(outsider, notice, "I've seen this")
    wait_for(
        lambda: any("not in this channel" in m.content() for m in slack.ephemerals(outsider)),
        what="the outsider's refusal",
    )
    assert bot.store.retraction_counts(1).seen == 1
    assert any(
        e["action"] == "denied" and e["subject"] == "seen in channel" and e["actor"] == outsider
        for e in bot.store.audit_entries()
    )


def test_a_channel_errata_is_not_in_is_refused_by_name_and_status_names_the_channel(small):
    slack, bot, comms, channel, humans = small
    elsewhere = slack.directory.add_channel("random-talk", humans[1:10], bot_member=False)
    reply = send_memo(slack, comms, **{"Post in channels": [elsewhere.id]})
    assert "#random-talk" in reply.errors.get("post_in", ""), reply.errors
    assert bot.store.memo(1) is None

    slack.close_view(comms)
    reply = send_memo(slack, comms, **{"Post in channels": [channel.id]})
    assert not reply.errors
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="sent")
    wait_for(
        lambda: any(
            f"Posted in <#{channel.id}>" in m.content() and "Delivered" in m.content()
            for m in slack.dm(comms)
        ),
        what="the status message to name the channel",
    )
    slack.command(comms, "/memo", "list")
    wait_for(
        lambda: any(f"<#{channel.id}>" in m.content() for m in slack.ephemerals(comms)),
        what="/memo list to name the channel",
    )
