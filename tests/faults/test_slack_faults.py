"""Issue 6: the same story (a memo, acknowledgements, a retraction) while the
stand-in Slack fails a fifth of the posts with 5xx, answers bursts of 429,
adds latency and drops connections before and after it acted. Nothing is lost,
nothing is doubled, everything ends final within a bounded time, and whatever
failed says why."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from bot.clock import from_text
from bot.domain import MAX_ATTEMPTS, backoff
from tests.faults.helpers import Warp, WarpClock, query, save_figures, tally
from tests.harness import SCALE, copies_in_dm, stand_in, start_bot, wait_for

PEOPLE = 200
UPDATE_PER_MINUTE = 150
# Every retry of one item waits out its backoff: 1 + 2 + 4 + 8 s before the last try.
RETRY_SPAN = sum(backoff(n) for n in range(1, MAX_ATTEMPTS))


def final_times(db, kind: str) -> list[float]:
    """Seconds (bot clock) from the start of the stream to each item's final outcome."""
    label = {"copies": "copy", "notices": "notice", "edits": "edit"}[kind]
    start_action = "memo created" if kind == "copies" else "memo retracted"
    start = from_text(query(db, "SELECT at FROM audit WHERE action = ?", [start_action])[0][0])
    ends = query(
        db,
        "SELECT at FROM audit WHERE action IN (?, ?)",
        [f"{label} delivered", f"{label} failed"],
    )
    return [(from_text(at) - start).total_seconds() for (at,) in ends]


@pytest.mark.faults
@pytest.mark.slow
def test_nothing_lost_or_doubled_under_5xx_429_latency_and_drops(tmp_path):
    # chat.update at 3x Slack's Tier 3 (the bot's budget to match): edits are not the point here.
    slack = stand_in(people=PEOPLE, seed=11, limits={"chat.update": UPDATE_PER_MINUTE})
    comms = slack.directory.active_humans()[0]
    everyone = slack.directory.active_humans()
    db = tmp_path / "errata.db"
    clock = WarpClock()
    bot = start_bot(
        slack,
        db,
        clock=clock,
        COMMS_STAFF=comms,
        SLACK_UPDATE_PER_MINUTE=int(UPDATE_PER_MINUTE * SCALE),
    )
    began = time.monotonic()
    faults = dict(status_5xx=0.2, latency=0.005, drop_before=0.04, drop_after=0.04)
    try:
        with Warp(clock, db, bot.core.outbox.kick) as warp:
            for method in ("chat.postMessage", "chat.update"):
                slack.faults.set(method=method, **faults)
            slack.faults.set(method="conversations.history", status_5xx=0.2, drop_after=0.04)
            slack.faults.burst_429("chat.postMessage", 25)

            slack.command(comms, "/memo")
            wait_for(lambda: slack.open_views(comms), what="the compose modal")
            reply = slack.submit_view(
                comms,
                {
                    "Title": "Delete the chat app",
                    "Message": "Please delete it from your phone by Friday.",
                    "Everyone in the workspace": True,
                    "Ask for acknowledgement": True,
                },
            )
            assert reply.status == 200 and not reply.errors
            wait_for(
                lambda: len(slack.calls("chat.postMessage")) > PEOPLE // 2, what="half the posts"
            )
            slack.faults.burst_429("chat.postMessage", 25)  # a second burst, mid-way
            wait_for(lambda: bot.store.memo(1).state == "sent", timeout=60, what="the fan-out")
            copies_seconds = time.monotonic() - began
            memo_tally = tally(slack, db, everyone, retracted=False)

            acknowledgers = [p for p in everyone[1:41] if copies_in_dm(slack, p)]
            for person in acknowledgers:
                assert (
                    slack.click(person, copies_in_dm(slack, person)[0], "Acknowledge").status == 200
                )
            wait_for(
                lambda: bot.store.memo_counts(1).acknowledged == len(acknowledgers),
                what="the acknowledgements",
            )

            retract_began = time.monotonic()
            slack.faults.burst_429("chat.postMessage", 25)
            slack.faults.burst_429("chat.update", 10)
            slack.command(comms, "/retract", "M-1 Sent to the wrong list")
            wait_for(lambda: slack.open_views(comms), what="the retract modal")
            reply = slack.submit_view(comms, {"Corrected instructions": "Keep the app."})
            assert reply.status == 200 and not reply.errors
            wait_for(
                lambda: bot.store.memo(1).state == "retracted",
                timeout=60,
                what="the retraction",
            )
            retract_seconds = time.monotonic() - retract_began
            warped = {"jumps": warp.jumps, "seconds_skipped": round(warp.skipped, 1)}
        final = tally(slack, db, everyone, retracted=True)
        states = {
            kind: dict(query(db, f"SELECT state, count(*) FROM {kind} GROUP BY state"))
            for kind in ("copies", "notices", "edits")
        }
        reasons = {
            kind: dict(
                Counter(
                    error
                    for (error,) in query(db, f"SELECT error FROM {kind} WHERE state = 'failed'")
                )
            )
            for kind in ("copies", "notices", "edits")
        }
        times = {kind: final_times(db, kind) for kind in ("copies", "notices", "edits")}
    finally:
        bot.stop()
        slack.stop()

    post_calls = slack.calls("chat.postMessage")
    figures = {
        "people": len(everyone),
        "faults_set": faults,
        "faults_injected": slack.faults.counts,
        "faults_by_method": {
            m: slack.faults.counts_for(m)
            for m in ("chat.postMessage", "chat.update", "conversations.history")
        },
        "stand_in_429s": sum(1 for c in post_calls if c.fault == "ratelimited"),
        "real_seconds": {
            "fan_out": round(copies_seconds, 1),
            "retraction": round(retract_seconds, 1),
        },
        "clock_warp": warped,
        "slowest_final_bot_seconds": {k: round(max(v), 1) for k, v in times.items() if v},
        "states": states,
        "failure_reasons": reasons,
        "acknowledged_before_retraction": len(acknowledgers),
        "after_fan_out": memo_tally.as_dict(),
        "final": final.as_dict(),
    }
    save_figures("slack_faults", figures)

    # Nothing doubled, nothing lost, from what the stand-in actually shows each person.
    assert memo_tally.duplicates == 0 and final.duplicates == 0, final.problems
    assert final.lost == 0 and final.copy_to_cancelled == 0, final.problems
    assert final.problems == []
    # Everything final; whatever failed carries its reason.
    for kind, by_state in states.items():
        assert set(by_state) <= {"delivered", "failed"}, (kind, by_state)
        assert sum(by_state.values()) == (len(everyone) if kind == "copies" else final.copies)
    for kind, by_reason in reasons.items():
        assert None not in by_reason and "" not in by_reason, (kind, by_reason)
    # Bounded: the whole fan-out at the allowed rate, plus one item's full retry span.
    rate = slack.ceiling_per_second("chat.postMessage")
    bound = RETRY_SPAN + 2 * len(everyone) / rate + 10
    for kind, seconds in times.items():
        assert max(seconds) <= bound, (kind, max(seconds), bound)
    # The faults were really there.
    assert slack.faults.counts.get("5xx", 0) >= 40
    assert slack.faults.counts.get("429", 0) >= 85
    assert slack.faults.counts.get("drop_after", 0) >= 5
    assert slack.faults.counts.get("drop_before", 0) >= 5
