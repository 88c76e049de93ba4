"""Errata's fan-out against the naive alternative, on the same stand-in in the same run.

    python bench/naive.py                        # both regimes below
    python bench/naive.py --regime scaled --people 2000

The naive alternative: a plain loop over the same people calling slack_sdk's
WebClient.chat_postMessage one by one, with slack_sdk's
RateLimitErrorRetryHandler (it sleeps int(Retry-After) + random() seconds on a
429). Both run against one stand-in Slack (in this process) with 50 ms added to
every chat.postMessage (faults.set(latency=0.05)); the bot runs as its own
process (`python -m bot`) and is driven through /memo and the compose modal.
The rate limiter is refilled between the two, so both start from a full bucket.

Two regimes, because the time scale changes which limit binds the naive loop:
- real: time scale 1, Slack's published limits as they are (300 posts a minute,
  Retry-After in whole seconds as Slack sends it). The naive loop could post 20
  a second, so it runs into 429s and over-waits each one by up to 2 s.
- scaled: time scale 10 (3,000 posts a minute) with integer_retry_after=True,
  because at any other scale than 1 the stand-in's Retry-After is the real
  decimal wait ("0.02") and slack_sdk's handler would crash on int("0.02").
  Latency is not scaled, so the one-at-a-time loop is bound by 50 ms per call
  and never reaches the limit: this measures sending several at once.
"""

from __future__ import annotations

import argparse
import time

import _common as c
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

LATENCY = 0.05
REGIMES = {"real": (1.0, 300), "scaled": (10.0, 1000)}


def naive_loop(slack, people: list[str], max_retries: int) -> dict:
    client = WebClient(
        token=c.TOKEN,
        base_url=slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=max_retries)],
    )
    failed = 0
    started = time.time()
    for user in people:
        try:
            client.chat_postMessage(
                channel=user,
                text="Benchmark memo",
                blocks=[
                    {"type": "header", "text": {"type": "plain_text", "text": "Benchmark memo"}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": "A memo to everyone."}},
                ],
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError:
            failed += 1
    return {"started": started, "finished": time.time(), "failed": failed}


def run(regime: str, people: int, scale: float, max_retries: int) -> dict:
    # Both at Slack's published 300 a minute: this compares with a naive loop, not with
    # a ceiling, and the recorded figures were made at it.
    slack = c.stand_in(people, scale, integer_retry_after=True, post_per_minute=300)
    humans = slack.directory.active_humans()
    comms = humans[0]
    bot = c.BotProcess(slack, scale, comms)
    try:
        bot.wait_ready()
        bot.wait_directory(timeout=600)
        slack.faults.set(method="chat.postMessage", latency=LATENCY)
        slack.rate_limits.reset()
        slack.reset_records()
        ceiling = slack.ceiling_per_second("chat.postMessage")

        # Errata: the whole story from the modal's submit to the last copy accepted.
        submitted = c.compose(
            slack,
            comms,
            {
                "Title": "Benchmark memo",
                "Message": "A memo to everyone.",
                "Everyone in the workspace": True,
            },
        )
        c.wait_for(
            lambda: bot.store.memo(1).state == "sent",
            people / ceiling * 3 + 60,
            "Errata's fan-out",
            0.05,
        )
        ours_calls = slack.calls("chat.postMessage")
        ours = c.accepted(ours_calls, c.COPY_EVENT)
        ours_time = max(call.finished for call in ours) - submitted
        bot.stop()  # nothing else of the bot's may touch the limits now

        # The naive loop over the same people, the limiter refilled.
        time.sleep(0.5)
        slack.rate_limits.reset()
        slack.reset_records()
        loop = naive_loop(slack, humans, max_retries)
        theirs_calls = slack.calls("chat.postMessage")
        theirs = c.accepted(theirs_calls)
        theirs_time = loop["finished"] - loop["started"]
        return {
            "regime": regime,
            "people": people,
            "time_scale": scale,
            "latency_s": LATENCY,
            "ceiling_per_s": round(ceiling, 2),
            "ideal_s": round(people / ceiling, 2),
            "ours_s": round(ours_time, 2),
            "ours_copies": len(ours),
            "ours_429": sum(1 for call in ours_calls if call.status == 429),
            "ours_rate_over_ceiling": round(c.rate(ours) / ceiling, 4),
            "naive_s": round(theirs_time, 2),
            "naive_copies": len(theirs),
            "naive_failed": loop["failed"],
            "naive_429": sum(1 for call in theirs_calls if call.status == 429),
            "naive_rate_over_ceiling": round(c.rate(theirs) / ceiling, 4),
            "ours_over_naive": round(ours_time / theirs_time, 4),
        }
    finally:
        bot.stop()
        slack.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python bench/naive.py",
        description="Errata's fan-out time over a naive one-by-one slack_sdk loop, same stand-in.",
    )
    p.add_argument(
        "--regime",
        choices=["real", "scaled", "both"],
        default="both",
        help="real: time scale 1, 300 people; scaled: time scale 10, 1,000 people (default both)",
    )
    p.add_argument("--people", type=int, default=None, help="override the audience size")
    p.add_argument("--scale", type=float, default=None, help="override the time scale")
    p.add_argument(
        "--max-retries",
        type=int,
        default=10,
        help="RateLimitErrorRetryHandler max_retry_count for the naive loop (default 10;"
        " slack_sdk's default of 1 can drop copies)",
    )
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)

    c.print_machine()
    print("layout: stand-in Slack in this process (+50 ms per chat.postMessage); the bot as")
    print(
        "        `python -m bot` driven through /memo (Everyone); the naive loop in this process.\n"
    )
    regimes = ["real", "scaled"] if args.regime == "both" else [args.regime]
    results = []
    for regime in regimes:
        scale, people = REGIMES[regime]
        scale = args.scale or scale
        people = args.people or people
        print(f"{regime}: N = {people:,}, time scale {scale:g} ...", flush=True)
        result = run(regime, people, scale, args.max_retries)
        results.append(result)
        print(
            f"  ours {result['ours_s']}s, naive {result['naive_s']}s:"
            f" ours/naive = {result['ours_over_naive']:.3f}",
            flush=True,
        )
    print()
    print(
        c.table(
            [
                "regime",
                "N",
                "scale",
                "ideal",
                "ours",
                "ours 429s",
                "naive",
                "naive 429s",
                "naive rate/ceiling",
                "ours/naive",
            ],
            [
                [
                    r["regime"],
                    f"{r['people']:,}",
                    r["time_scale"],
                    f"{r['ideal_s']}s",
                    f"{r['ours_s']}s",
                    r["ours_429"],
                    f"{r['naive_s']}s",
                    r["naive_429"],
                    f"{r['naive_rate_over_ceiling']:.3f}",
                    f"{r['ours_over_naive']:.3f}",
                ]
                for r in results
            ],
        )
    )
    lost = sum(r["naive_failed"] for r in results)
    if lost:
        print(f"\nthe naive loop gave up on {lost} copies after {args.max_retries} retries")
    c.save_json(args.json, {"benchmark": "naive", "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
