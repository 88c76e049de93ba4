"""Reminders and escalations: who is owed a reminder (of a retraction or of an
acknowledgement) and when, queuing and claiming them, cancelling those no longer
wanted, and escalating those still unconfirmed after the last one."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_text, to_text
from bot.domain import (
    CANCELLED,
    DELIVERED,
    MEMO_RETRACTED,
    MEMO_RETRACTING,
    MEMO_SENDING,
    MEMO_SENT,
    PENDING,
    Escalation,
    Principal,
    Reminder,
)

RETRACTION_REMINDER, ACK_REMINDER = "retraction", "acknowledgement"
# Marks a person who will get no more reminders of that kind.
NEVER = "9999-12-31T00:00:00.000000Z"
SCHEDULE_BATCH = 400  # people per statement (SQLite allows 32,766 parameters; 2 each)


@dataclass(frozen=True)
class _Owed:
    """Who is owed reminders of one kind: rows of `table` (alias x, joined to their
    memo as m) delivered, not yet confirmed, below the maximum, while the memo is in
    one of `memo_states` (and, for a reminder to be queued, before any deadline)."""

    table: str  # notices (a retraction) | copies (an acknowledgement)
    unconfirmed: str
    memo_states: tuple[str, str]
    wanted: str = ""  # what else the memo must say
    deadline: str = "NULL"  # the deadline the reminder times are computed with
    before_deadline: str = ""

    @property
    def where(self) -> str:
        return (
            f"x.state = :delivered AND {self.unconfirmed} AND x.reminders_sent < :max"
            f"{self.wanted} AND m.state IN (:memo_state, :other_memo_state)"
        )

    def params(self, max_reminders: int) -> dict:
        first, second = self.memo_states
        return {
            "delivered": DELIVERED,
            "max": max_reminders,
            "memo_state": first,
            "other_memo_state": second,
        }


_OWED = {
    RETRACTION_REMINDER: _Owed("notices", "x.seen_at IS NULL", (MEMO_RETRACTING, MEMO_RETRACTED)),
    ACK_REMINDER: _Owed(
        "copies",
        "x.acknowledged_at IS NULL",
        (MEMO_SENDING, MEMO_SENT),
        wanted=" AND m.ask_ack = 1",
        deadline="m.ack_deadline",
        before_deadline=" AND (m.ack_deadline IS NULL OR m.ack_deadline > :now)",
    ),
}


class RemindersMixin:
    """Reminders of both kinds, and escalations."""

    def _cancel_reminders(self, db, kind: str, where: str, params: list) -> None:
        """Reminders not yet on their way stop at once (acknowledged, seen, retracted)."""
        db.execute(
            f"UPDATE reminders SET state = ? WHERE kind = ? AND state = ? AND in_doubt = 0 AND {where}",
            [CANCELLED, kind, PENDING, *params],
        )

    def _count_reminder(self, db, reminder: dict, now: datetime, *, delivered: bool) -> None:
        """A reminder that went (or finally failed) counts; the next one is scheduled afresh."""
        target = _OWED[reminder["kind"]].table
        last = ", last_reminder_at = :now" if delivered else ""
        db.execute(
            f"UPDATE {target} SET reminders_sent = reminders_sent + 1, next_reminder_at = NULL{last}"
            " WHERE id = :id",
            {"now": to_text(now), "id": reminder["target_id"]},
        )

    def reminder_targets_to_schedule(self, kind: str, max_reminders: int) -> list[dict]:
        """People owed a reminder whose next one has no time yet, with what is needed to
        compute it: when they got the message, how many reminders so far, their time zone."""
        owed = _OWED[kind]
        return [
            {
                **row,
                "anchor": from_text(row["anchor"]),
                "last_reminder_at": from_text(row["last_reminder_at"]),
                "deadline": from_text(row["deadline"]),
            }
            for row in self.db.query(
                "SELECT x.id, x.delivered_at AS anchor, x.reminders_sent, x.last_reminder_at,"
                f" {owed.deadline} AS deadline, p.tz FROM {owed.table} x"
                " JOIN memos m ON m.id = x.memo_id"
                " LEFT JOIN people p ON p.platform = x.platform AND p.id = x.recipient_id"
                f" WHERE {owed.where} AND x.next_reminder_at IS NULL",
                owed.params(max_reminders),
            )
        ]

    def schedule_reminders(
        self, kind: str, schedule: list[tuple[int, datetime | None, datetime | None]], now: datetime
    ) -> None:
        """Store when each person's next reminder goes: (target, at or None for never,
        the time it fell due when the working-hours window pushed it later)."""
        target = _OWED[kind].table
        times = [(target_id, to_text(at) if at else NEVER) for target_id, at, _ in schedule]
        with self._write() as db:
            # Thousands at a time after a fan-out, under the write lock every outcome waits
            # for: a statement per SCHEDULE_BATCH people, not one per person (4,300 single
            # UPDATEs held the lock for 0.35 s on PostgreSQL, a visible dip in the fan-out).
            for i in range(0, len(times), SCHEDULE_BATCH):
                part = times[i : i + SCHEDULE_BATCH]
                db.execute(
                    f"UPDATE {target} SET next_reminder_at = v.column2"
                    f" FROM (VALUES {', '.join('(?, ?)' for _ in part)}) AS v"
                    f" WHERE {target}.id = v.column1",
                    [value for row in part for value in row],
                )
            # Each reminder moved to the next working-hours window is an audit entry.
            deferred = {
                target_id: (at, deferred_from)
                for target_id, at, deferred_from in schedule
                if deferred_from is not None and at is not None
            }
            rows = {}
            ids = list(deferred)
            for i in range(0, len(ids), SCHEDULE_BATCH):
                part = ids[i : i + SCHEDULE_BATCH]
                for row in db.execute(
                    f"SELECT id, memo_id, platform, recipient_id FROM {target}"
                    f" WHERE id IN ({', '.join('?' for _ in part)})",
                    part,
                ).fetchall():
                    rows[row[0]] = row
            self._audit_many(
                db,
                now,
                [
                    {
                        "action": "reminder deferred",
                        "memo_id": rows[target_id][1],
                        "subject": f"{rows[target_id][2]}:{rows[target_id][3]}",
                        "detail": {
                            "kind": kind,
                            "due": to_text(deferred_from),
                            "scheduled": to_text(at),
                            "why": "outside working hours",
                        },
                    }
                    for target_id, (at, deferred_from) in deferred.items()
                ],
            )

    def due_reminder_targets(self, kind: str, max_reminders: int, now: datetime) -> list[dict]:
        """People whose next reminder time has come, with their time zone."""
        owed = _OWED[kind]
        return self._rows(
            f"SELECT x.id, p.tz FROM {owed.table} x"
            " LEFT JOIN people p ON p.platform = x.platform AND p.id = x.recipient_id"
            " WHERE x.state = ? AND x.next_reminder_at <= ? AND x.reminders_sent < ?"
            f" AND {owed.unconfirmed}",
            [DELIVERED, to_text(now), max_reminders],
        )

    def queue_due_reminders(self, kind: str, max_reminders: int, now: datetime) -> int:
        """One reminder row per person whose next reminder is due; the unique
        (kind, target, seq) key means a double fire or an overlap queues nothing twice."""
        owed = _OWED[kind]
        stamp = to_text(now)
        with self._write() as db:
            return db.execute(
                "INSERT INTO reminders (kind, target_id, seq, memo_id, platform,"
                " recipient_id, state, attempts, in_doubt, next_attempt_at, created_at)"
                " SELECT :kind, x.id, x.reminders_sent + 1, x.memo_id, x.platform, x.recipient_id,"
                f" :pending, 0, 0, :now, :now FROM {owed.table} x JOIN memos m ON m.id = x.memo_id"
                f" WHERE {owed.where} AND x.next_reminder_at <= :now{owed.before_deadline}"
                " ON CONFLICT DO NOTHING",
                {**owed.params(max_reminders), "kind": kind, "pending": PENDING, "now": stamp},
            ).rowcount

    def claim_reminder(self, platform: str, now: datetime) -> Reminder | None:
        """Take the next due reminder that is still wanted (in-doubt ones are always checked)."""
        claimed = self._claim(
            "reminders",
            platform,
            now,
            joins="JOIN memos m ON m.id = x.memo_id"
            " LEFT JOIN notices n ON x.kind = ? AND n.id = x.target_id"
            " LEFT JOIN copies c ON x.kind = ? AND c.id = x.target_id",
            join_params=(RETRACTION_REMINDER, ACK_REMINDER),
            where=" AND (x.in_doubt = 1 OR (x.kind = ? AND n.seen_at IS NULL)"
            "  OR (x.kind = ? AND c.acknowledged_at IS NULL AND m.state IN (?, ?)"
            "      AND (m.ack_deadline IS NULL OR m.ack_deadline > ?)))",
            params=(RETRACTION_REMINDER, ACK_REMINDER, MEMO_SENDING, MEMO_SENT, to_text(now)),
        )
        if claimed is None:
            return None
        return Reminder(
            id=claimed["id"],
            memo_id=claimed["memo_id"],
            kind=claimed["kind"],
            target_id=claimed["target_id"],
            seq=claimed["seq"],
            platform=claimed["platform"],
            recipient_id=claimed["recipient_id"],
            in_doubt=bool(claimed["in_doubt"]),
        )

    def cancel_unwanted_reminders(self, now: datetime) -> int:
        """Reminders queued for someone who has since confirmed, or for a memo since retracted."""
        with self._write() as db:
            return db.execute(
                "UPDATE reminders SET state = ? WHERE state = ? AND in_doubt = 0 AND id IN ("
                " SELECT r.id FROM reminders r JOIN memos m ON m.id = r.memo_id"
                " LEFT JOIN notices n ON r.kind = ? AND n.id = r.target_id"
                " LEFT JOIN copies c ON r.kind = ? AND c.id = r.target_id"
                " WHERE r.state = ? AND ((r.kind = ? AND n.seen_at IS NOT NULL)"
                "  OR (r.kind = ? AND (c.acknowledged_at IS NOT NULL OR m.state NOT IN (?, ?)"
                "      OR m.ack_deadline <= ?))))",
                [
                    CANCELLED,
                    PENDING,
                    RETRACTION_REMINDER,
                    ACK_REMINDER,
                    PENDING,
                    RETRACTION_REMINDER,
                    ACK_REMINDER,
                    MEMO_SENDING,
                    MEMO_SENT,
                    to_text(now),
                ],
            ).rowcount

    def next_reminder_time(self) -> datetime | None:
        """The earliest scheduled reminder, so the scheduler can wake exactly then."""
        times = []
        for table in ("notices", "copies"):
            row = self._row(
                f"SELECT min(next_reminder_at) AS at FROM {table} WHERE next_reminder_at IS NOT NULL"
                " AND next_reminder_at < ?",
                [NEVER],
            )
            if row and row["at"]:
                times.append(from_text(row["at"]))
        return min(times) if times else None

    def queue_escalations(
        self, *, max_reminders: int, cutoff: datetime, channel: Principal | None, now: datetime
    ) -> list[int]:
        """Escalate, once, everyone who still has not confirmed after the last reminder
        (and `cutoff` has passed since it): one escalation per memo, to its retractor and
        to the escalation channel when there is one. Returns the memos escalated."""
        stamp = to_text(now)
        escalated = []
        with self._write() as db:
            due = db.execute(
                "SELECT n.memo_id, n.id, n.platform, n.recipient_id, n.reminders_sent"
                " FROM notices n JOIN memos m ON m.id = n.memo_id"
                " WHERE n.state = ? AND n.seen_at IS NULL AND n.escalation_id IS NULL"
                " AND n.reminders_sent >= ? AND coalesce(n.last_reminder_at, n.delivered_at) <= ?"
                " AND m.state IN (?, ?) ORDER BY n.memo_id, n.id",
                [DELIVERED, max_reminders, to_text(cutoff), MEMO_RETRACTING, MEMO_RETRACTED],
            ).fetchall()
            by_memo: dict[int, list] = {}
            for memo_id, notice_id, platform, recipient, sent in due:
                by_memo.setdefault(memo_id, []).append((notice_id, platform, recipient, sent))
            for memo_id, people in by_memo.items():
                retraction = db.execute(
                    "SELECT retracted_by, retracted_by_platform FROM retractions WHERE memo_id = ?",
                    [memo_id],
                ).fetchone()
                listed = json.dumps([f"{p}:{r}" for _, p, r, _ in people])
                targets = [(retraction[1], retraction[0])]
                if channel:
                    targets.append((channel.platform, channel.id))
                group_id = None
                for platform, recipient in targets:
                    cursor = db.execute(
                        "INSERT INTO escalations (memo_id, platform, recipient_id, people, state,"
                        " attempts, in_doubt, next_attempt_at, created_at, group_id)"
                        " VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?) RETURNING id",
                        [memo_id, platform, recipient, listed, PENDING, stamp, stamp, group_id],
                    )
                    inserted = cursor.fetchone()[0]
                    if group_id is None:
                        group_id = inserted
                        db.execute(
                            "UPDATE escalations SET group_id = ? WHERE id = ?", [group_id, group_id]
                        )
                marks = ",".join("?" * len(people))
                db.execute(
                    f"UPDATE notices SET escalation_id = ? WHERE id IN ({marks})",
                    [group_id, *(n for n, _, _, _ in people)],
                )
                self._audit(
                    db,
                    now,
                    "escalation",
                    memo_id=memo_id,
                    detail={"people": len(people), "to": [f"{p}:{r}" for p, r in targets]},
                )
                escalated.append(memo_id)
        return escalated

    def claim_escalation(self, platform: str, now: datetime) -> Escalation | None:
        claimed = self._claim("escalations", platform, now)
        if claimed is None:
            return None
        return Escalation(
            id=claimed["id"],
            memo_id=claimed["memo_id"],
            platform=claimed["platform"],
            recipient_id=claimed["recipient_id"],
            people=tuple(json.loads(claimed["people"] or "[]")),
            in_doubt=bool(claimed["in_doubt"]),
        )
