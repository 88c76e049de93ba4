"""A burst of Acknowledge clicks: every one recorded once, every request answered fast.

    python bench/clicks.py                       # 1,000 clicks from 50 concurrent clients
    python bench/clicks.py --clicks 2000 --clients 100 --repeat 0.1

A stand-in Slack (in this process) and the bot as its own process (`python -m
bot`, HTTP via waitress, as production runs it). Comms sends a memo to Everyone
(`--clicks` people) asking for acknowledgement, through /memo and the compose
modal; once every copy is delivered, `--clients` threads each act as Slack
sending the people's clicks (signed block_actions POSTs to /slack/events, the
stand-in's click()), one click per person (plus `--repeat` of them a second
time, at the same moment, to check idempotence).

Figures: HTTP response times of the clicks (p50, p99, max; Slack's limit is
3 s); the time until every click is recorded in the store and until every
person's message shows the acknowledgement (the bot answers through the
response_url); the store's acknowledged count and its audit entries
("acknowledged"), which must both equal the number of people; the bot's CPU
time from the first click until everything was recorded and shown.
"""

from __future__ import annotations

import argparse
import random
import time
from concurrent.futures import ThreadPoolExecutor

import _common as c


def run(people: int, clients: int, repeat: float, scale: float, seed: int, during: int = 0) -> dict:
    """`during` > 0: the memo also goes to that many more people, and the clicks come
    while their copies are still going out (the fan-out and the clicks share the bot)."""
    slack = c.stand_in(people + during, scale)
    everyone = slack.directory.active_humans()
    comms = everyone[0]
    bot = c.BotProcess(slack, scale, comms)
    store = bot.store
    try:
        bot.wait_ready()
        bot.wait_directory(timeout=120)
        c.compose(
            slack,
            comms,
            {
                "Title": "Please acknowledge",
                "Message": "Click Acknowledge once you have read this.",
                "Everyone in the workspace": True,
                "Ask for acknowledgement": True,
            },
        )
        ceiling = slack.ceiling_per_second("chat.postMessage")

        def delivered() -> dict:
            found = {}
            for person in everyone:
                for m in slack.dm(person):
                    if (m.metadata or {}).get("event_type") == c.COPY_EVENT:
                        found[person] = m
            return found

        if during:
            copies = c.wait_for(
                lambda: (d := delivered()) and len(d) >= people and d,
                people / ceiling * 3 + 60,
                "the first copies",
                0.05,
            )
            copies = dict(list(copies.items())[:people])
        else:
            c.wait_for(
                lambda: store.memo(1).state == "sent", people / ceiling * 3 + 60, "the fan-out", 0.2
            )
            copies = delivered()
            time.sleep(1.0)  # let the status board's last refresh pass
        humans = list(copies)
        pending_at_start = store.memo_counts(1).pending
        clicks = list(humans) + random.Random(seed).sample(humans, round(len(humans) * repeat))
        random.Random(seed).shuffle(clicks)

        def click(person: str):
            return slack.click(person, copies[person], "Acknowledge")

        cpu0 = bot.cpu_seconds()
        started = time.monotonic()
        with ThreadPoolExecutor(clients) as pool:
            replies = list(pool.map(click, clicks))
        burst = time.monotonic() - started
        pending_at_end = store.memo_counts(1).pending
        c.wait_for(
            lambda: store.memo_counts(1).acknowledged >= people, 120, "every click recorded", 0.05
        )
        recorded = time.monotonic() - started

        def all_shown() -> bool:
            for person in humans:
                current = slack.message(copies[person].channel, copies[person].ts)
                if any(b["text"] == "Acknowledge" for b in current.buttons()):
                    return False
            return True

        c.wait_for(all_shown, 120, "every message updated", 0.2)
        shown = time.monotonic() - started
        cpu = bot.cpu_seconds() - cpu0
        times = [r.elapsed for r in replies]
        audit = [e for e in store.audit_for_memo(1) if e["action"] == "acknowledged"]
        subjects = {e["subject"] for e in audit}
        counts = store.memo_counts(1)
        return {
            "people": people,
            "clicks": len(clicks),
            "clients": clients,
            "time_scale": scale,
            "non_200": sum(1 for r in replies if r.status != 200),
            "p50_ms": round(c.percentile(times, 50) * 1000, 1),
            "p99_ms": round(c.percentile(times, 99) * 1000, 1),
            "max_ms": round(max(times) * 1000, 1),
            "over_3s": sum(1 for t in times if t > 3.0),
            "burst_s": round(burst, 2),
            "clicks_per_s": round(len(clicks) / burst, 1),
            "all_recorded_s": round(recorded, 2),
            "all_shown_s": round(shown, 2),
            "acknowledged_in_store": counts.acknowledged,
            "audit_acknowledged": len(audit),
            "audit_distinct_people": len(subjects),
            "bot_cpu_s": round(cpu, 2),
            "bot_cpu_ms_per_click": round(cpu / len(clicks) * 1000, 2),
            "bot_log_errors": bot.log_errors(),
            "copies_still_to_send": [pending_at_start, pending_at_end],
        }
    finally:
        bot.stop()
        slack.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python bench/clicks.py",
        description="A burst of Acknowledge clicks against the bot served over HTTP.",
    )
    p.add_argument("--clicks", type=int, default=1000, help="people who click (default 1000)")
    p.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    p.add_argument(
        "--repeat",
        type=float,
        default=0.0,
        help="share of the people who click a second time, concurrently (default 0)",
    )
    p.add_argument(
        "--scale",
        type=float,
        default=20.0,
        help="time scale of Slack's limits for the fan-out before the burst (default 20)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--during-fanout",
        type=int,
        default=0,
        metavar="N",
        help="the memo also goes to N more people: the clicks come during their fan-out",
    )
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)

    c.print_machine()
    print("layout: stand-in Slack and the 50 clicking clients in this process; the bot as")
    print("        `python -m bot` (waitress, 16 threads) in its own process.\n")
    r = run(args.clicks, args.clients, args.repeat, args.scale, args.seed, args.during_fanout)
    if args.during_fanout:
        start, end = r["copies_still_to_send"]
        print(
            f"during the fan-out: {start:,} copies still to send at the first click, {end:,} at the last"
        )
    print(
        c.table(
            [
                "clicks",
                "clients",
                "p50",
                "p99",
                "max",
                "> 3 s",
                "clicks/s",
                "all recorded",
                "all shown",
                "acked in store",
                "audit entries",
                "bot CPU",
            ],
            [
                [
                    f"{r['clicks']:,}",
                    r["clients"],
                    f"{r['p50_ms']:.0f}ms",
                    f"{r['p99_ms']:.0f}ms",
                    f"{r['max_ms']:.0f}ms",
                    r["over_3s"],
                    r["clicks_per_s"],
                    f"{r['all_recorded_s']:.2f}s",
                    f"{r['all_shown_s']:.2f}s",
                    f"{r['acknowledged_in_store']:,}",
                    f"{r['audit_acknowledged']:,}",
                    f"{r['bot_cpu_s']:.2f}s ({r['bot_cpu_ms_per_click']:.1f}ms/click)",
                ]
            ],
        )
    )
    once = r["acknowledged_in_store"] == r["audit_acknowledged"] == r["people"] and (
        r["audit_distinct_people"] == r["people"]
    )
    fast = r["over_3s"] == 0 and r["non_200"] == 0
    print(
        f"\nevery click recorded exactly once: {'yes' if once else 'NO'};"
        f" every request answered within 3 s: {'yes' if fast else 'NO'}"
    )
    if r["bot_log_errors"]:
        print(f"errors in the bot's log: {r['bot_log_errors']}")
    c.save_json(args.json, {"benchmark": "clicks", "results": [r]})
    return 0 if once and fast else 1


if __name__ == "__main__":
    raise SystemExit(main())
