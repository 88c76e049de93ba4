"""Per-recipient reports: rows in PRODUCT.md's columns, as CSV or JSON, streamed.

Rows come from the store in batches and are written as they come, so a
report over 100,000 recipients never holds 100,000 rows in memory.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

from bot.clock import to_report
from bot.domain import MemoCounts, RetractionCounts, memo_label
from bot.store import Store

COLUMNS = (
    "memo_id",
    "recipient_id",
    "recipient_name",
    "platform",
    "delivery_status",
    "delivery_error",
    "delivered_at",
    "acknowledged_at",
    "retraction_status",
    "retraction_error",
    "retraction_delivered_at",
    "seen_at",
    "reminders_sent",
    "last_reminder_at",
    "escalated_at",
    "delivered_in",  # DM, or the channel the memo was posted in (#announcements)
)
_TIMES = {
    "delivered_at",
    "acknowledged_at",
    "retraction_delivered_at",
    "seen_at",
    "last_reminder_at",
    "escalated_at",
}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def rows(store: Store, memo_id: int) -> Iterator[dict]:
    """The report's rows, in column order, times as ISO 8601 UTC."""
    for row in store.report_rows(memo_id):
        out = {}
        for column in COLUMNS:
            value = row.get(column)
            if column == "memo_id":
                value = memo_label(row["memo_id"])
            elif column in _TIMES:
                value = to_report(value or None)
            elif column == "delivery_error" and row["copy_in_doubt"] and not value:
                value = "unconfirmed"
            out[column] = "" if value is None else value
        yield out


def safe_cell(value: object) -> object:
    """A cell a spreadsheet will show as text, never run."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_chunks(report: Iterable[dict], rows_per_chunk: int = 500) -> Iterator[str]:
    """The CSV, header first, a few hundred rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for number, row in enumerate(report, 1):
        writer.writerow([safe_cell(row[c]) for c in COLUMNS])
        if number % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(report: Iterable[dict], out: TextIO) -> int:
    count = 0

    def counted():
        nonlocal count
        for row in report:
            count += 1
            yield row

    for chunk in csv_chunks(counted()):
        out.write(chunk)
    return count


def write_json(report: Iterable[dict], out: TextIO) -> int:
    """A JSON array, written row by row."""
    out.write("[")
    count = 0
    for row in report:
        out.write(",\n" if count else "\n")
        out.write(json.dumps(row, ensure_ascii=False))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


@dataclass
class Summary:
    memo_label: str
    title: str
    counts: MemoCounts
    retraction: RetractionCounts | None
    median_seconds_to_seen: float | None

    def lines(self) -> list[str]:
        c = self.counts
        lines = [
            f"{self.memo_label}: {self.title}",
            f"Recipients {c.recipients} · delivered {c.delivered} · failed {c.failed}"
            f" · cancelled {c.cancelled} · acknowledged {c.acknowledged}",
        ]
        if c.failures:
            lines.append(
                "Failed by reason: " + ", ".join(f"{k} {v}" for k, v in c.failures.items())
            )
        if self.retraction is not None:
            r = self.retraction
            median = (
                _duration(self.median_seconds_to_seen)
                if self.median_seconds_to_seen is not None
                else "n/a"
            )
            lines.append(
                f"Retraction: notified {r.notified} · failed {r.failed} · seen {r.seen}"
                f" · outstanding {r.outstanding} · median time to seen {median}"
            )
        return lines


def summary(store: Store, memo_id: int) -> Summary:
    memo = store.memo(memo_id)
    retraction = store.retraction(memo_id)
    return Summary(
        memo.label,
        memo.title,
        store.memo_counts(memo_id),
        store.retraction_counts(memo_id) if retraction else None,
        store.median_seconds_to_seen(memo_id) if retraction else None,
    )


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 90:
        return f"{seconds}s"
    if seconds < 5400:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
