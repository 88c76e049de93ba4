"""Report benchmark: the per-recipient CSV of a memo to 100,000 people.

    python bench/report.py [--recipients 100000]

Builds a store with one memo to N recipients, delivered, half acknowledged,
retracted, a third of the notices seen (straight into SQLite through the
store's own functions; no platform involved), then times writing the CSV
report and measures the peak memory it allocates (tracemalloc), against the
naive way of building the whole report in memory first.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot import reports
from bot.domain import Audience, Recipient
from bot.store import Store


def build(store: Store, recipients: int) -> int:
    now = datetime.now(UTC)
    memo = store.create_memo(
        title="Delete the app",
        body="By Friday.",
        sender_id="UCOMMS",
        sender_platform="slack",
        ask_ack=True,
        ack_deadline=None,
        audience=Audience(everyone=True, platform="slack"),
        now=now,
    )
    people = [
        Recipient(
            "slack",
            f"U{i:09d}",
            f"Person {i} =cmd|' /C calc'!A0" if i % 1000 == 0 else f"Person {i}",
        )
        for i in range(recipients)
    ]
    store.add_recipients(memo.id, people, now)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # Bench set-up only: mark every copy delivered in one statement.
    store.db.execute(
        "UPDATE copies SET state = 'delivered', channel = 'D1', ts = '1.1', delivered_at = ?",
        [stamp],
    )
    store.db.execute("UPDATE copies SET acknowledged_at = ? WHERE id % 2 = 0", [stamp])
    store.db.conn.commit()
    store.request_retraction(
        memo.id, by="UCOMMS", by_platform="slack", reason="sent in error", corrections="", now=now
    )
    store.apply_retraction(memo.id, now)
    store.db.execute(
        "UPDATE notices SET state = 'delivered', delivered_at = ?, seen_at = ? WHERE id % 3 = 0",
        [stamp, stamp],
    )
    store.db.conn.commit()
    return memo.id


def measure(label: str, work) -> tuple[float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    work()
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<34} {seconds:7.2f} s   peak allocated {peak / 1e6:7.1f} MB")
    return seconds, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="errata-bench-report-"))
    store = Store(str(workdir / "errata.db"))
    store.migrate()
    started = time.perf_counter()
    memo_id = build(store, args.recipients)
    print(
        f"store with {args.recipients:,} recipients built in {time.perf_counter() - started:.1f} s"
    )

    def streamed():
        with open(os.devnull, "w", newline="") as out:
            assert reports.write_csv(reports.rows(store, memo_id), out) == args.recipients

    def in_memory():
        buffer = io.StringIO()
        reports.write_csv(list(reports.rows(store, memo_id)), buffer)

    started = time.perf_counter()
    streamed()
    plain = time.perf_counter() - started
    print(
        f"{'Errata, untraced':<34} {plain:7.2f} s   ({args.recipients / plain:,.0f} rows a second)"
    )
    ours, our_peak = measure("Errata (streamed, batches of 2,000)", streamed)
    naive, naive_peak = measure("naive (all rows in memory)", in_memory)
    print(
        f"memory: streamed peak is {our_peak / naive_peak:.3f} of the naive peak; time ratio {ours / naive:.2f}"
    )
    print("(tracemalloc slows both runs down; the times are for comparing, not absolute)")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
