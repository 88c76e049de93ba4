"""Channel announcement: a memo posted in a channel of N members (default 100,000),
acknowledged by some of them in the channel, then retracted.

    python bench/channel.py [--members 100000] [--acknowledged 300] [--scale 20]

A stand-in Slack (in this process) with a channel of `--members` active people, its
published limits `--scale` times faster; the bot in this process too, served over HTTP,
its budgets scaled to match. The directory is loaded into the store before the memo
(in production it is refreshed in the background), so what is measured is the channel.

Figures:
- send: from the compose submit to the post in the channel, and to every member stored
  as a recipient (conversations.members paged, a copy each), with the process's peak RSS;
- retraction: from the retract submit to the post edited into its RETRACTED form and to
  the notice in its thread (reply_broadcast: in the channel), target under 2 s; and to
  every member's notice stored (delivered by the channel's);
- report: writing the CSV of N rows (time, rows a second) and its peak allocation
  under tracemalloc.
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as c

from bot import reports
from bot.app import Bot
from bot.config import load_settings
from bot.slack import SLACK
from bot.slack.directory import _person_row


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--acknowledged", type=int, default=300)
    parser.add_argument("--scale", type=float, default=20.0)
    args = parser.parse_args()
    c.print_machine()

    started = time.monotonic()
    slack = c.stand_in(args.members + 20, args.scale)
    humans = slack.directory.active_humans()
    comms, members = humans[0], humans[1 : args.members + 1]
    channel = slack.directory.add_channel("announcements", members)
    print(
        f"stand-in with {len(members):,} members in #announcements: {time.monotonic() - started:.1f}s"
    )

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "SLACK_BOT_TOKEN": c.TOKEN,
            "SLACK_SIGNING_SECRET": c.SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_PATH": str(Path(tmp) / "errata.db"),
            "COMMS_STAFF": comms,
            **c.starting_rates(args.scale),
            "LOG_LEVEL": "WARNING",
        }
        bot = Bot(load_settings(env), idle_wait=0.05)
        loaded = time.monotonic()
        bot.store.replace_people(
            SLACK, (_person_row(p.to_slack()) for p in slack.directory.people), datetime.now(UTC)
        )
        print(f"directory loaded into the store: {time.monotonic() - loaded:.1f}s")
        bot.start(scheduler=False)
        slack.bot_url = bot.serve_in_background()
        try:
            run(bot, slack, comms, channel, members, args)
        finally:
            bot.stop()
            slack.stop()


def run(bot, slack, comms, channel, members, args) -> None:
    store = bot.store
    rss_before = rss_mb()
    submitted = c.compose(
        slack,
        comms,
        {
            "Title": "Delete the chat app",
            "Message": "Please delete it from your phone by Friday.",
            "Post in channels": [channel.id],
            "Ask for acknowledgement": True,
        },
    )
    posts = c.wait_for(
        lambda: [
            m
            for m in slack.messages(channel.id)
            if (m.metadata or {}).get("event_type") == "errata_post"
        ],
        timeout=600,
        what="the post",
    )
    posted = time.time() - submitted
    c.wait_for(lambda: store.memo(1).state == "sent", timeout=600, what="the memo sent")
    stored = time.time() - submitted
    counts = store.memo_counts(1)
    post = posts[0]
    print(
        f"send: post in the channel {posted:.2f}s after the submit; {counts.delivered:,}"
        f" recipients stored and delivered {stored:.2f}s; peak RSS {rss_mb():.0f} MB"
        f" (before {rss_before:.0f} MB)"
    )

    with ThreadPoolExecutor(20) as pool:
        list(
            pool.map(
                lambda p: slack.click(p, post, "Acknowledge"), members[::7][: args.acknowledged]
            )
        )
    c.wait_for(
        lambda: store.memo_counts(1).acknowledged == args.acknowledged, 60, "acknowledgements"
    )

    submitted = c.retract(slack, comms, 1, "Sent to the wrong list")
    edited = notice = None
    deadline = time.monotonic() + 60
    while (edited is None or notice is None) and time.monotonic() < deadline:
        now = time.time()
        if edited is None and "RETRACTED" in slack.message(channel.id, post.ts).content():
            edited = now - submitted
        if notice is None and any(
            (m.metadata or {}).get("event_type") == "errata_post_notice"
            for m in slack.messages(channel.id)[-5:]
        ):
            notice = now - submitted
        time.sleep(0.005)
    c.wait_for(
        lambda: store.retraction_counts(1).to_notify >= len(members), 120, "the members' notices"
    )
    tracked = time.time() - submitted
    c.wait_for(lambda: store.memo(1).state == "retracted", 300, "the retraction to finish")
    done = time.time() - submitted
    print(
        f"retraction: post edited {edited:.2f}s, notice in the channel {notice:.2f}s after"
        f" the submit (target < 2 s); {store.retraction_counts(1).to_notify:,} members' notices"
        f" stored {tracked:.2f}s; {args.acknowledged} acknowledgers' DM notices sent and"
        f" retraction complete {done:.2f}s"
    )

    started = time.monotonic()
    size = sum(len(chunk) for chunk in reports.csv_chunks(reports.rows(store, 1)))
    took = time.monotonic() - started
    tracemalloc.start()
    out = io.StringIO()
    for chunk in reports.csv_chunks(reports.rows(store, 1)):
        out.write(chunk)
        out.seek(0)
        out.truncate()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows = store.memo_counts(1).recipients
    print(
        f"report: {rows:,} rows, {size / 1e6:.1f} MB of CSV in {took:.2f}s"
        f" ({rows / took:,.0f} rows/s); peak allocation {peak / 1e6:.1f} MB under tracemalloc"
    )


if __name__ == "__main__":
    main()
