"""Learned pacing against ceilings the bot is not told (issue 14).

    python bench/ceilings.py                     # every Slack run, learned and fixed
    python bench/ceilings.py --runs 600/100 --modes learned --people 600

Each run: a fresh stand-in Slack whose chat.postMessage and chat.update ceilings
are set per run (300, 600 or 1,200 posts a minute; 50 or 100 updates a minute),
and a fresh bot (`python -m bot`, new database) that is told only the defaults
(SLACK_POST_PER_MINUTE 300, SLACK_UPDATE_PER_MINUTE 50), all time-scaled by the
same factor. The scale is chosen so the scaled post ceiling is `--post-per-second`
(default 100 a second: on 2 cores much higher scaled rates become CPU-bound, and
the figures would measure the machine, not the pacing). Comms sends a memo to
Everyone; 20% acknowledge; comms retracts it (notices and edits side by side).

`learned` is the bot as shipped (LEARN_RATES=true); `fixed` the old behaviour
(LEARN_RATES=false: the settings are caps). The run `600/100/halved` halves the
post ceiling in the middle of the fan-out and reports how long the bot took to
get back to 0.95 of the new ceiling (rolling 5 s of Slack time).

Per stream (copies, notices, edits): ceiling, achieved rate over the busy period
(accepted - 1 over first to last accepted), ratio, and 429s as a share of that
stream's calls. Also: the notices' last one against the time the ceiling allows
(N / ceiling), the acknowledgers-first order, and the rates the bot learned
(read from its store, in Slack's per-minute terms).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import threading
import time

import _common as c
from retraction import acknowledge

RUNS = ("300/50", "600/100", "1200/100", "1200/50", "600/100/halved")


def _stream(calls, kind, originals=None):
    """Accepted and all calls of one stream: copies, notices (by metadata) or edits."""
    if kind == "edits":
        mine = [x for x in calls if (x.args.get("channel"), x.args.get("ts")) in originals]
    else:
        event = c.COPY_EVENT if kind == "copies" else c.NOTICE_EVENT
        mine = [x for x in calls if c.event_type(x) == event]
    return [x for x in mine if x.status == 200 and x.ok], mine


def _figures(accepted, every, ceiling):
    rate = c.rate(accepted)
    limited = sum(1 for x in every if x.status == 429)
    times = sorted(x.finished for x in accepted)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return {
        "ceiling_per_s": round(ceiling, 2),
        "achieved_per_s": round(rate, 2),
        "ratio": round(rate / ceiling, 4),
        "calls": len(every),
        "share_429": round(limited / max(1, len(every)), 4),
        # the longest pause between two accepted calls, in intervals of the ceiling, and
        # how far into the stream it came (seconds from its first accepted call)
        "longest_gap_intervals": round(max(gaps, default=0.0) * ceiling, 1),
        "longest_gap_at_s": round(times[gaps.index(max(gaps))] - times[0], 2) if gaps else None,
    }


def _recovery(copies, drop_at, new_ceiling, scale):
    """Seconds (real) from the drop until the accepted copies over a rolling window of
    5 s of Slack time reach 0.95 of the new ceiling."""
    window = 5.0 / scale
    times = sorted(x.finished for x in copies if x.finished > drop_at)
    j = 0
    for i, t in enumerate(times):
        while times[j] < t - window:
            j += 1
        if t - window >= drop_at and (i - j + 1) / window >= 0.95 * new_ceiling:
            return t - drop_at
    return float("nan")


def run(spec: str, mode: str, people: int, post_per_second: float, seed: int) -> dict:
    post, update, *extra = spec.split("/")
    halved = "halved" in extra
    post_ceiling, update_ceiling = float(post), float(update)
    scale = post_per_second / (post_ceiling / 60)
    # The stand-in answers from this process: collect the last run's garbage now and keep
    # what is left out of later collections, so that no long pause here stalls "Slack".
    gc.collect()
    gc.freeze()
    slack = c.stand_in(people, scale, limits={"chat.update": update_ceiling})
    slack.rate_limits.set_post_per_minute(post_ceiling)
    humans = slack.directory.active_humans()
    comms = humans[0]
    bot = c.BotProcess(slack, scale, comms, LEARN_RATES="true" if mode == "learned" else "false")
    store = bot.store
    try:
        bot.wait_ready()
        bot.wait_directory(timeout=120)
        slack.reset_records()
        drop = {}
        if halved:

            def halve():
                c.wait_for(
                    lambda: (
                        slack.stats().get("chat.postMessage", {}).get("accepted", 0) >= people // 3
                    ),
                    120,
                    "a third of the copies",
                    0.01,
                )
                slack.rate_limits.set_post_per_minute(post_ceiling / 2)
                drop["at"] = time.time()

            threading.Thread(target=halve, daemon=True).start()
        c.compose(
            slack,
            comms,
            {
                "Title": "Ceiling benchmark",
                "Message": "A memo to everyone.",
                "Everyone in the workspace": True,
                "Ask for acknowledgement": True,
            },
        )
        c.wait_for(
            lambda: store.memo(1) is not None and store.memo(1).state == "sent",
            people / 5 + 120,
            "the fan-out",
            0.1,
        )
        posts = slack.calls("chat.postMessage")
        copies, copy_calls = _stream(posts, "copies")
        result = {"run": spec, "mode": mode, "people": people, "time_scale": round(scale, 2)}
        if halved:
            t0 = drop["at"]
            before = [x for x in copies if x.finished < t0]
            after = [x for x in copies if x.finished >= t0]
            new_ceiling = slack.ceiling_per_second("chat.postMessage")
            result["copies_before_drop"] = _figures(
                before, [x for x in copy_calls if x.finished < t0], new_ceiling * 2
            )
            result["copies"] = _figures(
                after, [x for x in copy_calls if x.finished >= t0], new_ceiling
            )
            back = _recovery(copies, t0, new_ceiling, scale)
            result["recovered_real_s"] = round(back, 2)
            result["recovered_slack_s"] = round(back * scale, 1)
        else:
            result["copies"] = _figures(
                copies, copy_calls, slack.ceiling_per_second("chat.postMessage")
            )
        acknowledgers = random.Random(seed).sample(humans, round(len(humans) * 0.2))
        acknowledge(slack, acknowledgers, 50)
        c.wait_for(lambda: store.memo_counts(1).acknowledged >= len(acknowledgers), 60, "acks")
        time.sleep(0.5)
        slack.reset_records()
        submitted = c.retract(slack, comms, 1, "Sent in error")
        post_ceiling_now = slack.ceiling_per_second("chat.postMessage")
        update_ceiling_now = slack.ceiling_per_second("chat.update")
        c.wait_for(
            lambda: store.memo(1).state == "retracted",
            people / update_ceiling_now * 3 + 120,
            "the retraction",
            0.2,
        )
        originals = set()
        for person in humans:
            for m in slack.dm(person):
                if (m.metadata or {}).get("event_type") == c.COPY_EVENT:
                    originals.add((m.channel, m.ts))
        notices, notice_calls = _stream(slack.calls("chat.postMessage"), "notices")
        edits, edit_calls = _stream(slack.calls("chat.update"), "edits", originals)
        result["notices"] = _figures(notices, notice_calls, post_ceiling_now)
        result["edits"] = _figures(edits, edit_calls, update_ceiling_now)
        # chat.update is also how the status messages show progress: their share of it.
        updates = [x for x in slack.calls("chat.update") if x.status == 200 and x.ok]
        if edits:
            first, last = min(x.finished for x in edits), max(x.finished for x in edits)
            during = [x for x in updates if first <= x.finished <= last]
            result["status_updates_while_editing"] = len(during) - len(edits)
        last_notice = max(x.finished for x in notices) - submitted
        result["notices_last_s"] = round(last_notice, 2)
        result["notices_ideal_s"] = round(len(notices) / post_ceiling_now, 2)
        result["notices_time_over_ideal"] = round(
            last_notice / (len(notices) / post_ceiling_now), 3
        )
        user_of = {slack.dm_channel(p): p for p in humans}
        order = [user_of.get(x.args["channel"]) for x in sorted(notices, key=lambda x: x.finished)]
        acked = set(acknowledgers)
        positions = [i for i, p in enumerate(order) if p in acked]
        others = [i for i, p in enumerate(order) if p not in acked]
        result["acknowledgers_first"] = not positions or not others or max(positions) < min(others)
        learned = store.learned_rates()
        result["learned_per_minute_slack_terms"] = {
            key: round(rate / scale, 1) for key, (rate, _) in learned.items()
        }
        result["bot_log_errors"] = bot.log_errors()
        return result
    finally:
        bot.stop()
        slack.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python bench/ceilings.py",
        description="Learned vs fixed pacing against stand-in ceilings the bot is not told.",
    )
    p.add_argument("--runs", nargs="+", default=list(RUNS), help=f"default {' '.join(RUNS)}")
    p.add_argument("--modes", nargs="+", default=["learned", "fixed"], choices=["learned", "fixed"])
    p.add_argument("--people", type=int, default=1000, help="audience (default 1000)")
    p.add_argument(
        "--post-per-second",
        type=float,
        default=100.0,
        help="the scaled chat.postMessage ceiling, real calls a second (default 100)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)
    c.print_machine()
    results = []
    for spec in args.runs:
        for mode in args.modes:
            started = time.monotonic()
            print(f"{spec} {mode} ...", flush=True)
            r = run(spec, mode, args.people, args.post_per_second, args.seed)
            results.append(r)
            print(
                f"  copies {r['copies']['ratio']:.3f} ({r['copies']['share_429']:.1%} 429),"
                f" notices {r['notices']['ratio']:.3f} ({r['notices']['share_429']:.1%}),"
                f" edits {r['edits']['ratio']:.3f} ({r['edits']['share_429']:.1%}),"
                f" last notice {r['notices_time_over_ideal']:.2f}x ideal,"
                f" recovered {r.get('recovered_slack_s', '-')} s (Slack time);"
                f" learned {r['learned_per_minute_slack_terms']}; run"
                f" {time.monotonic() - started:.0f}s",
                flush=True,
            )
    rows = []
    for r in results:
        for stream in ("copies", "notices", "edits"):
            f = r[stream]
            rows.append(
                [
                    r["run"],
                    r["mode"],
                    stream,
                    f"{f['ceiling_per_s'] * 60 / r['time_scale']:.0f}/min",
                    f"{f['achieved_per_s'] * 60 / r['time_scale']:.0f}/min",
                    f"{f['ratio']:.3f}",
                    f"{f['share_429']:.1%}",
                ]
            )
    print()
    print(c.table(["run", "pacing", "stream", "ceiling", "achieved", "ratio", "429s"], rows))
    c.save_json(args.json, {"benchmark": "ceilings", "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
