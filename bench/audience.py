"""Audience resolution: "Everyone" in a 100,000-person workspace, and the directory behind it.

    python bench/audience.py                     # 100,000 people
    python bench/audience.py --people 20000 --seconds 10

Part 1, the cost of keeping the directory (the bot's core called directly):
the stand-in Slack runs in its own process (`python -m standin.slack`) with
users.list at Tier 2 (20 calls a minute) `scale` times faster; this process
builds the bot's Store and SlackPlatform and calls refresh_directory() twice:
the first load into an empty store, then a background refresh over it (what
the scheduler does every DIRECTORY_REFRESH_EVERY). For each: users.list calls
(and 429s) from the stand-in's /_sandbox/stats, the time, the time inside the
store's single write transaction, and this process's peak RSS growth
(VmHWM reset through /proc/self/clear_refs before each refresh). The time at
the real Tier 2 rate is extrapolated: measured time x scale, and the bound
pages / (20 a minute).

A third refresh runs under tracemalloc for the peak of the Python heap (RSS
does not shrink back between refreshes, so the growth of the second one says
little).

Part 2, time to the first copy: the store from part 1 (directory synced)
becomes the database of the bot run as its own process (`python -m bot`),
against a stand-in in this process at Slack's real limits (scale 1) with the
same directory; comms sends a memo to Everyone through /memo and the compose
modal, and we time the submit to the first copy accepted by the stand-in,
and to the 100,000 recipients stored. The fan-out itself is not waited for.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from pathlib import Path

import _common as c

from bot.clock import Clock
from bot.slack.adapter import SlackPlatform
from bot.store import Store

PAGE = 200  # the bot's users.list page size
TIER_2_PER_MINUTE = 20


def rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class StandInProcess:
    """`python -m standin.slack` in its own process."""

    def __init__(self, people: int, scale: float, seed: int = 1):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "standin.slack",
                "--people",
                str(people),
                "--time-scale",
                str(scale),
                "--port",
                "0",
                "--seed",
                str(seed),
                "--bot-token",
                c.TOKEN,
                "--signing-secret",
                c.SECRET,
            ],
            cwd=c.ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.process.stdout.readline().strip()
        if not line.startswith("SLACK_API_URL="):
            self.stop()
            raise RuntimeError(f"the stand-in did not start: {line!r}")
        self.api_url = line.split("=", 1)[1]

    def stats(self) -> dict:
        url = self.api_url.replace("/api/", "/_sandbox/stats")
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())["stats"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def refresh_once(
    platform: SlackPlatform, store: Store, slack: StandInProcess, *, traced: bool = False
) -> dict:
    before = slack.stats().get("users.list", {})
    timed = {"write_s": 0.0}
    replace_people = store.replace_people

    def timed_replace(*args, **kwargs):
        started = time.perf_counter()
        try:
            return replace_people(*args, **kwargs)
        finally:
            timed["write_s"] += time.perf_counter() - started

    store.replace_people = timed_replace
    reset_peak_rss()
    rss_before = rss_mb("VmRSS")
    if traced:
        tracemalloc.start()
    cpu0 = time.process_time()
    started = time.perf_counter()
    try:
        count = platform.refresh_directory()
    finally:
        store.replace_people = replace_people
        heap_peak = tracemalloc.get_traced_memory()[1] if traced else None
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu0
    after = slack.stats()["users.list"]
    accepted = after["accepted"] - before.get("accepted", 0)
    limited = after["rate_limited"] - before.get("rate_limited", 0)
    return {
        "people_stored": count,
        "users_list_pages": accepted,
        "users_list_429": limited,
        "seconds": round(elapsed, 2),
        "cpu_s": round(cpu, 2),
        "write_transaction_s": round(timed["write_s"], 2),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(rss_mb("VmHWM"), 1),
        "peak_rss_growth_mb": round(rss_mb("VmHWM") - rss_before, 1),
        "traced": traced,
        "peak_python_heap_mb": round(heap_peak / 2**20, 1) if heap_peak is not None else None,
    }


def part_one(people: int, scale: float, db: Path) -> dict:
    slack = StandInProcess(people, scale)
    store = Store(str(db))
    store.migrate()
    platform = SlackPlatform(
        token=c.TOKEN,
        api_url=slack.api_url,
        store=store,
        clock=Clock(),
        post_per_minute=float(c.starting_rates(scale)["SLACK_POST_PER_MINUTE"]),
        update_per_minute=float(c.starting_rates(scale)["SLACK_UPDATE_PER_MINUTE"]),
    )
    try:
        first = refresh_once(platform, store, slack)
        print(f"  first load: {first['users_list_pages']} pages in {first['seconds']}s", flush=True)
        again = refresh_once(platform, store, slack)
        print(
            f"  background refresh: {again['users_list_pages']} pages in {again['seconds']}s",
            flush=True,
        )
        traced = refresh_once(platform, store, slack, traced=True)
        print(
            f"  background refresh under tracemalloc: peak Python heap"
            f" {traced['peak_python_heap_mb']} MB",
            flush=True,
        )
        for result in (first, again, traced):
            pages = result["users_list_pages"]
            result["tier2_bound_min"] = round(pages / TIER_2_PER_MINUTE, 1)
            result["extrapolated_real_min"] = round(result["seconds"] * scale / 60, 1)
        return {
            "time_scale": round(scale, 2),
            "first_load": first,
            "refresh": again,
            "refresh_traced": traced,
        }
    finally:
        store.close()
        slack.stop()


def part_two(people: int, db: Path) -> dict:
    slack = c.stand_in(people, 1.0)
    comms = slack.directory.active_humans()[0]
    bot = c.BotProcess(slack, 1.0, comms, DATABASE_PATH=db)
    bot.db_path = db
    try:
        bot.wait_ready()
        synced = bot.store.directory_synced_at("slack")
        if synced is None:
            raise RuntimeError("the directory should already be in the store")
        submitted = c.compose(
            slack,
            comms,
            {
                "Title": "To everyone",
                "Message": "A memo to all 100,000 of us.",
                "Everyone in the workspace": True,
            },
        )

        def first_copy():
            copies = c.accepted(slack.calls("chat.postMessage"), c.COPY_EVENT)
            return min((call.finished for call in copies), default=None)

        first = c.wait_for(first_copy, 120, "the first copy", 0.01)
        c.wait_for(
            lambda: bot.store.memo_counts(1).recipients >= people, 120, "the recipients", 0.1
        )
        resolved = time.time()
        users_list = len(slack.calls("users.list"))
        return {
            "first_copy_s": round(first - submitted, 3),
            "recipients": bot.store.memo_counts(1).recipients,
            "recipients_stored_by_s": round(resolved - submitted, 2),
            "users_list_calls_at_send": users_list,
            "bot_peak_rss_mb": round(bot.peak_rss_mb(), 1),
        }
    finally:
        bot.stop()
        slack.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python bench/audience.py",
        description="Everyone in a large workspace: first copy after submit, cost of a refresh.",
    )
    p.add_argument("--people", type=int, default=100_000, help="active people (default 100000)")
    p.add_argument(
        "--seconds",
        type=float,
        default=30.0,
        help="pick the time scale so one refresh takes about this long (default 30)",
    )
    p.add_argument("--scale", type=float, default=None, help="fixed time scale for part 1")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args(argv)

    c.print_machine()
    pages = -(-int(args.people * 1.03) // PAGE)  # the directory also holds bots and leavers
    scale = args.scale or pages / (TIER_2_PER_MINUTE / 60 * args.seconds)
    workdir = Path(tempfile.mkdtemp(prefix="errata-audience-"))
    db = workdir / "errata.db"
    try:
        print(
            f"part 1: refresh_directory() called directly; stand-in in its own process,"
            f" {args.people:,} people, time scale {scale:.1f} ...",
            flush=True,
        )
        one = part_one(args.people, scale, db)
        # Hand the synced store to the bot process as one file.
        synced = workdir / "synced.db"
        with sqlite3.connect(db) as src, sqlite3.connect(synced) as dst:
            src.backup(dst)
        print(
            "part 2: the bot as `python -m bot` on that store; stand-in in this process at"
            " Slack's real limits; memo to Everyone through the modal ...",
            flush=True,
        )
        two = part_two(args.people, synced)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    rows = []
    for name, r in (("first load", one["first_load"]), ("background refresh", one["refresh"])):
        rows.append(
            [
                name,
                f"{r['people_stored']:,}",
                r["users_list_pages"],
                r["users_list_429"],
                f"{r['seconds']}s",
                f"{r['extrapolated_real_min']} min ({r['tier2_bound_min']} min)",
                f"{r['write_transaction_s']}s",
                f"{r['cpu_s']}s",
                f"+{r['peak_rss_growth_mb']:.0f} MB",
            ]
        )
    rows[-1].append(f"{one['refresh_traced']['peak_python_heap_mb']:.0f} MB")
    rows[0].append("")
    print(
        c.table(
            [
                "directory",
                "people",
                "users.list",
                "429s",
                f"at scale {one['time_scale']}",
                "at Tier 2 (bound)",
                "write tx",
                "CPU",
                "peak RSS",
                "peak heap (3rd, traced)",
            ],
            rows,
        )
    )
    print()
    print(
        c.table(
            ["memo to Everyone", "recipients", "submit -> first copy", "recipients stored by"],
            [
                [
                    "directory already synced",
                    f"{two['recipients']:,}",
                    f"{two['first_copy_s']:.2f}s",
                    f"{two['recipients_stored_by_s']:.2f}s",
                ]
            ],
        )
    )
    print(
        f"\nusers.list calls at send time: {two['users_list_calls_at_send']};"
        f" paging the directory at send time instead would take about"
        f" {one['refresh']['extrapolated_real_min']} min at Tier 2."
    )
    c.save_json(
        args.json,
        {"benchmark": "audience", "people": args.people, "directory": one, "send": two},
    )
    return 0 if two["first_copy_s"] < 10 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
