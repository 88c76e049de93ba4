"""Retraction: from the modal's submit to the first notice, the last notice and the last edit.

    python bench/retraction.py                  # N = 1,000 and 10,000 (about 10 minutes)
    python bench/retraction.py --people 2000 --acknowledged 0.5

For each N: a fresh stand-in Slack (in this process) with Slack's published
limits `scale` times faster, the bot as its own process (`python -m bot`) with
its budgets scaled to match. Comms sends a memo to Everyone asking for
acknowledgement (/memo and the compose modal); once every copy is delivered, a
share of the people (`--acknowledged`, default 30%, chosen at random) click
Acknowledge (50 concurrent clients), the others do not; then comms runs
/retract M-1 and submits the retraction modal.

Figures (times from the submit, from the stand-in's records of accepted calls):
first notice; last notice to an acknowledger (they are notified first); last
notice, against the ideal N / ceiling(chat.postMessage); last edit of an
original, against the ideal N / ceiling(chat.update), which is a sixth of the
post rate. Edits run on their own budget, so the notices never wait for them.

The time scale is chosen so the edit stream (the slow one) takes about
`--seconds`, but capped (`--max-scale`, default 40: 200 posts a second) so the
post stream stays within what one machine can drive.

Also reported: the gap between the last acknowledger's notice and the first
notice to anyone else (the hand-over between the two priorities), the rate of
the other notices once they flow, and how many chat.update calls went to the
issuer's live status message (they share the edits' budget).
"""

from __future__ import annotations

import argparse
import random
import time
from concurrent.futures import ThreadPoolExecutor

import _common as c


def acknowledge(slack, people: list[str], clients: int) -> list:
    def click(person: str):
        copy = next(
            m for m in slack.dm(person) if (m.metadata or {}).get("event_type") == c.COPY_EVENT
        )
        return slack.click(person, copy, "Acknowledge")

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(click, people))


def wait_or_stall(store, stall: float) -> dict | None:
    """Wait for the retraction to complete; None, or the counts once it has stalled:
    no notice settled for `stall` s while some are outstanding, or nothing at all moved."""
    last_notices = last_all = None
    notices_moved = all_moved = time.monotonic()
    while store.memo(1).state != "retracted":
        counts = store.retraction_counts(1)
        notices = (counts.notified, counts.failed)
        progress = (*notices, counts.edits_done, counts.edits_failed)
        now = time.monotonic()
        if notices != last_notices:
            last_notices, notices_moved = notices, now
        if progress != last_all:
            last_all, all_moved = progress, now
        waiting_notices = counts.pending > 0 and now - notices_moved > stall
        if waiting_notices or now - all_moved > stall:
            return {
                "notified": counts.notified,
                "to_notify": counts.to_notify,
                "edits_done": counts.edits_done,
                "edits_total": counts.edits_total,
                "no_notice_for_s": round(now - notices_moved, 1),
            }
        time.sleep(0.2)
    return None


def run(
    people: int, scale: float, share: float, clients: int, seed: int, stall: float = 60.0
) -> dict:
    slack = c.stand_in(people, scale)
    humans = slack.directory.active_humans()
    comms = humans[0]
    bot = c.BotProcess(slack, scale, comms)
    store = bot.store
    try:
        bot.wait_ready()
        bot.wait_directory(timeout=300)
        post_ceiling = slack.ceiling_per_second("chat.postMessage")
        update_ceiling = slack.ceiling_per_second("chat.update")
        c.compose(
            slack,
            comms,
            {
                "Title": "Delete the app from your phone by Friday",
                "Message": "For security reasons, delete the app from any phone used for work.",
                "Everyone in the workspace": True,
                "Ask for acknowledgement": True,
            },
        )
        c.wait_for(
            lambda: store.memo(1).state == "sent",
            people / post_ceiling * 3 + 60,
            "the memo's fan-out",
            0.2,
        )
        acknowledgers = random.Random(seed).sample(humans, round(len(humans) * share))
        replies = acknowledge(slack, acknowledgers, clients)
        bad = [r for r in replies if r.status != 200]
        if bad:
            raise RuntimeError(f"{len(bad)} acknowledgement clicks failed: {bad[0]}")
        c.wait_for(lambda: store.memo_counts(1).acknowledged >= len(acknowledgers), 60, "acks", 0.1)
        time.sleep(1.5)  # let the status board settle so its updates do not start with ours
        slack.reset_records()
        cpu0 = bot.cpu_seconds()
        submitted = c.retract(slack, comms, 1, "Sent in error: no app needs deleting")
        stalled = wait_or_stall(store, stall)
        cpu = bot.cpu_seconds() - cpu0

        user_of = {slack.dm_channel(person): person for person in humans}
        originals = set()
        for person in humans:
            for m in slack.dm(person):
                if (m.metadata or {}).get("event_type") == c.COPY_EVENT:
                    originals.add((m.channel, m.ts))
        posts = slack.calls("chat.postMessage")
        updates = slack.calls("chat.update")
        notices = sorted(c.accepted(posts, c.NOTICE_EVENT), key=lambda call: call.finished)
        edits = sorted(
            (
                call
                for call in c.accepted(updates)
                if (call.args.get("channel"), call.args.get("ts")) in originals
            ),
            key=lambda call: call.finished,
        )
        acked = set(acknowledgers)
        notified = [user_of.get(call.args["channel"]) for call in notices]
        ack_positions = [i for i, person in enumerate(notified) if person in acked]
        other_positions = [i for i, person in enumerate(notified) if person not in acked]
        in_order = (
            not ack_positions or not other_positions or (max(ack_positions) < min(other_positions))
        )
        counts = store.retraction_counts(1)
        first_notice = notices[0].finished - submitted if notices else float("nan")
        last_ack_notice = notices[max(ack_positions)].finished - submitted if ack_positions else 0
        # The hand-over from the acknowledgers' notices to everyone else's.
        others = [notices[i] for i in other_positions]
        first_other = others[0].finished - submitted if others else float("nan")
        last_notice = notices[-1].finished - submitted if notices else float("nan")
        last_edit = edits[-1].finished - submitted if edits else float("nan")
        ideal_notices = people / post_ceiling  # every copy was delivered: N notices, N edits
        ideal_edits = people / update_ceiling
        return {
            "people": people,
            "time_scale": round(scale, 3),
            "acknowledgers": len(acknowledgers),
            "post_ceiling_per_s": round(post_ceiling, 2),
            "update_ceiling_per_s": round(update_ceiling, 2),
            "notices": len(notices),
            "edits": len(edits),
            "notified_in_store": counts.notified,
            "edits_in_store": counts.edits_done,
            "people_with_several_notices": len(notified) - len(set(notified)),
            "acknowledgers_first": in_order,
            "first_notice_s": round(first_notice, 3),
            "last_acknowledger_notice_s": round(last_ack_notice, 2),
            "first_other_notice_s": round(first_other, 2),
            "handover_gap_s": round(first_other - last_ack_notice, 2),
            "other_notice_rate_over_ceiling": round(c.rate(others) / post_ceiling, 4),
            "ideal_acknowledger_notices_s": round(len(acknowledgers) / post_ceiling, 2),
            "last_notice_s": round(last_notice, 2),
            "ideal_notices_s": round(ideal_notices, 2),
            "notices_ideal_over_actual": round(ideal_notices / last_notice, 4),
            "notice_rate_over_ceiling": round(c.rate(notices) / post_ceiling, 4),
            "last_edit_s": round(last_edit, 2),
            "ideal_edits_s": round(ideal_edits, 2),
            "edits_ideal_over_actual": round(ideal_edits / last_edit, 4),
            "edit_rate_over_ceiling": round(c.rate(edits) / update_ceiling, 4),
            "status_updates": sum(
                1
                for call in c.accepted(updates)
                if (call.args.get("channel"), call.args.get("ts")) not in originals
            ),
            "post_429": sum(1 for call in posts if call.status == 429),
            "update_429": sum(1 for call in updates if call.status == 429),
            "bot_cpu_s": round(cpu, 2),
            "stalled": stalled,
            "bot_log_errors": bot.log_errors(),
        }
    finally:
        bot.stop()
        slack.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python bench/retraction.py",
        description="Retraction notices and edits against the chat.postMessage/chat.update ceilings.",
    )
    p.add_argument(
        "--people",
        type=int,
        nargs="+",
        default=[1000, 10000],
        help="audience sizes, one run each (default 1000 10000)",
    )
    p.add_argument(
        "--acknowledged",
        type=float,
        default=0.3,
        help="share of the people who acknowledged before the retraction (default 0.3)",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="pick the time scale so the edits take about this long (default 60)",
    )
    p.add_argument(
        "--max-scale",
        type=float,
        default=40.0,
        help="upper bound of the time scale (default 40: 200 posts and 33 edits a second)",
    )
    p.add_argument("--scale", type=float, default=None, help="fixed time scale")
    p.add_argument("--clients", type=int, default=50, help="concurrent clickers (default 50)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--stall",
        type=float,
        default=60.0,
        help="give up when no notice (or nothing at all) completes for this long (default 60)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)

    c.print_machine()
    print("layout: stand-in Slack in this process, the bot as `python -m bot` (own process);")
    print("        driven through /memo, Acknowledge clicks and /retract with its modal.\n")
    results = []
    for people in args.people:
        scale = args.scale or min(
            args.max_scale, people / (c.CEILING_UPDATE_PER_MINUTE / 60 * args.seconds)
        )
        started = time.monotonic()
        print(f"N = {people:,}: time scale {scale:.2f} ...", flush=True)
        r = run(people, scale, args.acknowledged, args.clients, args.seed, args.stall)
        results.append(r)
        if r["stalled"]:
            print(f"  STALLED: {r['stalled']}")
        if r["bot_log_errors"]:
            print(f"  errors in the bot's log: {r['bot_log_errors']}")
        print(
            f"  first notice {r['first_notice_s']}s, last notice {r['last_notice_s']}s"
            f" (ideal {r['ideal_notices_s']}s), last edit {r['last_edit_s']}s"
            f" (ideal {r['ideal_edits_s']}s); run {time.monotonic() - started:.0f}s",
            flush=True,
        )
    print()
    print(
        c.table(
            [
                "N",
                "scale",
                "acked",
                "first notice",
                "last acked notice",
                "gap to others",
                "last notice (ideal)",
                "ideal/actual",
                "last edit (ideal)",
                "ideal/actual",
                "429s post/update",
                "acked first",
                "completed",
            ],
            [
                [
                    f"{r['people']:,}",
                    r["time_scale"],
                    f"{r['acknowledgers']:,}",
                    f"{r['first_notice_s']:.2f}s",
                    f"{r['last_acknowledger_notice_s']:.1f}s ({r['ideal_acknowledger_notices_s']:.1f}s)",
                    "-" if r["stalled"] else f"{r['handover_gap_s']:.1f}s",
                    "-"
                    if r["stalled"]
                    else f"{r['last_notice_s']:.1f}s ({r['ideal_notices_s']:.1f}s)",
                    "-" if r["stalled"] else f"{r['notices_ideal_over_actual']:.3f}",
                    "-" if r["stalled"] else f"{r['last_edit_s']:.1f}s ({r['ideal_edits_s']:.1f}s)",
                    "-" if r["stalled"] else f"{r['edits_ideal_over_actual']:.3f}",
                    f"{r['post_429']}/{r['update_429']}",
                    "yes" if r["acknowledgers_first"] else "NO",
                    "yes"
                    if not r["stalled"]
                    else f"STALLED at {r['stalled']['notified']:,}/{r['stalled']['to_notify']:,}"
                    f" notices, {r['stalled']['edits_done']:,}/{r['stalled']['edits_total']:,} edits",
                ]
                for r in results
            ],
        )
    )
    c.save_json(args.json, {"benchmark": "retraction", "results": results})
    ok = all(
        r["acknowledgers_first"]
        and not r["stalled"]
        and r["notices"] == r["people"]
        and r["edits"] == r["people"]
        and not r["people_with_several_notices"]
        for r in results
    )
    if not ok:
        print("\nsomething is off: a stall, or see notices, edits, people_with_several_notices")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
