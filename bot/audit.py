"""The audit log: append-only entries, each hashed together with the one before.

Changing, deleting or inserting a row breaks the chain at that row, and
`verify` names the first entry that does not match.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64

_HASHED = ("id", "at", "actor", "action", "memo_id", "subject", "detail", "prev_hash")


def entry_hash(entry: dict) -> str:
    """SHA-256 over the entry's fields (its id included, so a row cannot move)."""
    canonical = json.dumps([entry[name] for name in _HASHED], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    broken_id: int | None = None
    problem: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"OK: {self.count} audit entries, chain intact"
        return f"BROKEN at audit entry {self.broken_id}: {self.problem}"


def verify(entries: Iterable[dict], head: tuple[int, str] | None = None) -> Verdict:
    """Walk the chain in id order; stop at the first entry that does not match.
    `head` (last id and hash, kept beside the log) catches entries cut from the end."""
    expected_prev = GENESIS
    expected_id = 1
    count = 0
    for entry in entries:
        if entry["id"] != expected_id:
            problem = (
                f"expected entry {expected_id} next, found {entry['id']} (a row was deleted)"
                if entry["id"] > expected_id
                else f"entry id {entry['id']} out of order (a row was inserted)"
            )
            return Verdict(False, count, expected_id, problem)
        if entry["prev_hash"] != expected_prev:
            return Verdict(
                False, count, entry["id"], "its link to the previous entry does not match"
            )
        if entry_hash(entry) != entry["hash"]:
            return Verdict(False, count, entry["id"], "its content does not match its hash")
        expected_prev = entry["hash"]
        expected_id += 1
        count += 1
    if head is not None and (head[0] != count or head[1] != expected_prev):
        if head[0] > count:
            problem = f"the chain ends at entry {count} but {head[0]} were written (rows deleted)"
            return Verdict(False, count, count + 1, problem)
        return Verdict(False, count, head[0], "the last entry does not match the recorded head")
    return Verdict(True, count)


def export_lines(entries: Iterable[dict]) -> Iterable[str]:
    """The log as JSON lines, detail decoded, in chain order."""
    for entry in entries:
        row = dict(entry)
        with contextlib.suppress(json.JSONDecodeError):
            row["detail"] = json.loads(row["detail"] or "{}")
        yield json.dumps(row, ensure_ascii=False, sort_keys=True)
