"""Fan-out efficiency: how busy does a memo to N people keep Slack's rate limit?

    python bench/fanout.py                      # N = 1,000 and 10,000, about a minute each
    python bench/fanout.py --people 5000 --seconds 30
    python bench/fanout.py --postgres           # the store on a throwaway PostgreSQL server

For each N: a fresh stand-in Slack (in this process) enforcing Slack's
limits (chat.postMessage: 600 a minute per workspace, 1 a second per channel)
run `scale` times faster, chosen so the fan-out takes about `--seconds`; the
bot as its own process (`python -m bot`), told only its shipped starting rate
(300 a minute, scaled): it learns the ceiling it is measured against. A comms person sends a memo to Everyone
through /memo and the compose modal, as Slack would.

Figures: the achieved chat.postMessage rate for the copies (accepted copies - 1
over the time from the first to the last, from the stand-in's records) divided
by the stand-in's ceiling (target >= 0.95); 429s; API calls per copy; time from
the submit to the first and the last copy against the ideal N / ceiling; the
bot's CPU time per copy.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import _common as c


def run(people: int, scale: float, database: dict | None = None) -> dict:
    slack = c.stand_in(people, scale)
    comms = slack.directory.active_humans()[0]
    bot = c.BotProcess(slack, scale, comms, **(database or {}))
    try:
        bot.wait_ready()
        bot.wait_directory(timeout=120)
        slack.reset_records()
        cpu0 = bot.cpu_seconds()
        submitted = c.compose(
            slack,
            comms,
            {
                "Title": "Benchmark memo",
                "Message": "A memo to everyone in the workspace.",
                "Everyone in the workspace": True,
                "Ask for acknowledgement": True,
            },
        )
        ceiling = slack.ceiling_per_second("chat.postMessage")
        c.wait_for(
            lambda: slack.stats().get("chat.postMessage", {}).get("accepted", 0) >= people,
            timeout=people / ceiling * 3 + 60,
            what=f"{people} copies",
            interval=0.2,
        )
        # The last copies' outcomes reach the store a moment later: wait for the memo to close.
        c.wait_for(lambda: bot.store.memo(1).state == "sent", 60, "the memo to be sent", 0.1)
        cpu = bot.cpu_seconds() - cpu0
        posts = slack.calls("chat.postMessage")
        copies = c.accepted(posts, c.COPY_EVENT)
        per_person = Counter(call.args["channel"] for call in copies)
        copy_calls = [call for call in posts if c.event_type(call) == c.COPY_EVENT]
        first = min(call.finished for call in copies)
        last = max(call.finished for call in copies)
        achieved = c.rate(copies)
        counts = bot.store.memo_counts(1)
        return {
            "people": people,
            "time_scale": round(scale, 3),
            "ceiling_per_s": round(ceiling, 2),
            "achieved_per_s": round(achieved, 2),
            "efficiency": round(achieved / ceiling, 4),
            "rate_limited_429": sum(1 for call in posts if call.status == 429),
            "copies_delivered": counts.delivered,
            "people_with_one_copy": sum(1 for n in per_person.values() if n == 1),
            "people_with_several": sum(1 for n in per_person.values() if n > 1),
            "calls_per_copy": round(len(copy_calls) / max(1, len(copies)), 4),
            "conversations_open": len(slack.calls("conversations.open")),
            "submit_to_first_s": round(first - submitted, 3),
            "submit_to_last_s": round(last - submitted, 2),
            "ideal_s": round(people / ceiling, 2),
            "ideal_over_actual": round(people / ceiling / (last - submitted), 4),
            "bot_cpu_s": round(cpu, 2),
            "bot_cpu_ms_per_copy": round(cpu / max(1, len(copies)) * 1000, 2),
        }
    finally:
        bot.stop()
        slack.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python bench/fanout.py",
        description="Fan-out efficiency against the stand-in Slack's chat.postMessage ceiling.",
    )
    p.add_argument(
        "--people",
        type=int,
        nargs="+",
        default=[1000, 10000],
        help="audience sizes, one run each (default 1000 10000)",
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=60.0,
        help="pick the time scale so each fan-out takes about this long (default 60)",
    )
    p.add_argument(
        "--scale", type=float, default=None, help="fixed time scale instead of --seconds"
    )
    p.add_argument(
        "--postgres",
        action="store_true",
        help="the store on PostgreSQL: a throwaway server (fsync on), a fresh database per run",
    )
    p.add_argument(
        "--no-fsync",
        action="store_true",
        help="with --postgres: the server without fsync (the disk's share of the time, apart)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)
    server = None
    if args.postgres:
        sys.path.insert(0, str(c.ROOT))
        from tests.postgres import PostgresServer

        server = PostgresServer(durable=not args.no_fsync).start()
        fsync = "off" if args.no_fsync else "on"
        print(f"store: PostgreSQL (throwaway server on port {server.port}, fsync {fsync})")
    try:
        return _runs(args, server)
    finally:
        if server is not None:
            server.stop()


def _runs(args, server) -> int:

    c.print_machine()
    print("layout: stand-in Slack in this process, the bot as `python -m bot` (own process);")
    print("        driven through /memo and the compose modal (Everyone), as Slack would.\n")
    results = []
    for people in args.people:
        # At scale 1 the workspace allows 300 posts a minute (5 a second).
        scale = args.scale or people / (c.CEILING_POST_PER_MINUTE / 60 * args.seconds)
        started = time.monotonic()
        print(f"N = {people:,}: time scale {scale:.2f} ...", flush=True)
        database = None
        if server is not None:
            database = {"DATABASE_URL": server.create_database(), "AUDIT_KEY": "b" * 32}
        result = run(people, scale, database)
        result["store"] = "postgresql" if server is not None else "sqlite"
        results.append(result)
        print(
            f"  efficiency {result['efficiency']:.3f} of the ceiling"
            f" ({result['achieved_per_s']}/s of {result['ceiling_per_s']}/s),"
            f" {result['rate_limited_429']} x 429, run {time.monotonic() - started:.0f}s",
            flush=True,
        )
    print()
    print(
        c.table(
            [
                "N",
                "scale",
                "ceiling/s",
                "achieved/s",
                "achieved/ceiling",
                "429s",
                "calls/copy",
                "first copy",
                "last copy",
                "ideal N/ceiling",
                "bot CPU/copy",
            ],
            [
                [
                    f"{r['people']:,}",
                    r["time_scale"],
                    r["ceiling_per_s"],
                    r["achieved_per_s"],
                    f"{r['efficiency']:.3f}",
                    r["rate_limited_429"],
                    r["calls_per_copy"],
                    f"{r['submit_to_first_s']:.2f}s",
                    f"{r['submit_to_last_s']:.1f}s",
                    f"{r['ideal_s']:.1f}s",
                    f"{r['bot_cpu_ms_per_copy']:.2f}ms",
                ]
                for r in results
            ],
        )
    )
    ok = all(r["efficiency"] >= 0.95 for r in results)
    dupes = sum(r["people_with_several"] for r in results)
    print(
        f"\ntarget achieved/ceiling >= 0.95: {'met' if ok else 'MISSED'};"
        f" people with more than one copy: {dupes};"
        f" conversations.open calls: {sum(r['conversations_open'] for r in results)}"
    )
    c.save_json(args.json, {"benchmark": "fanout", "results": results})
    return 0 if ok and not dupes else 1


if __name__ == "__main__":
    raise SystemExit(main())
