"""Sending safely: a memo before it sends (awaiting approval, scheduled, held in its
undo window), its approval requests (outbox items), and the one atomic transition
each event makes (approve, reject, undo, cancel, time passing), as `domain.transition`
says. The first transition wins: a second decision at the same instant changes nothing."""

from __future__ import annotations

from datetime import datetime

from bot.clock import to_text
from bot.domain import (
    CANCEL_REASONS,
    CANCELLED,
    MEMO_AWAITING_APPROVAL,
    MEMO_HELD,
    MEMO_SCHEDULED,
    MEMO_SENDING,
    PENDING,
    REJECT,
    SENDING,
    TIME_PASSES,
    Approval,
    Memo,
    resolved_state,
    transition,
)
from bot.store.rows import _memo, _one

# What the audit log calls each event, by the state it leads to.
_AUDIT_BY_STATE = {
    MEMO_AWAITING_APPROVAL: "memo awaiting approval",
    MEMO_SCHEDULED: "memo scheduled",
    MEMO_HELD: "memo held",
    MEMO_SENDING: "memo released",
}


def _approval(row: dict) -> Approval:
    return Approval(
        id=row["id"],
        memo_id=row["memo_id"],
        platform=row["platform"],
        recipient_id=row["recipient_id"],
        state=row["state"],
        in_doubt=bool(row["in_doubt"]),
        channel=row["channel"],
        ts=row["ts"],
    )


class SendingSafelyMixin:
    """A memo from its creation until it sends, when a guard holds it back."""

    def _audit_state(
        self,
        db,
        now: datetime,
        memo_id: int,
        state: str,
        held_until: datetime | None,
        send_at: datetime | None,
        *,
        actor: str = "",
    ) -> None:
        """The audit entry of a memo entering a state before (or at) its sending."""
        action = _AUDIT_BY_STATE.get(state)
        if action is None or (state == MEMO_SENDING and not actor and send_at is None):
            return
        detail = {}
        if state == MEMO_SCHEDULED and send_at is not None:
            detail["send_at"] = to_text(send_at)
        if state == MEMO_HELD and held_until is not None:
            detail["held_until"] = to_text(held_until)
        self._audit(db, now, action, actor=actor, memo_id=memo_id, detail=detail)

    def _approval_or_on_its_way(
        self,
        db,
        memo_id: int,
        recipients: int,
        approval_over: int | None,
        approvers: list[tuple[str, str]],
        now: datetime,
    ) -> None:
        """Its audience is resolved: a memo that needs approval asks each approver (an
        outbox item each); one that does not goes on (scheduled, held or sending)."""
        memo = _memo(_one(db.execute("SELECT * FROM memos WHERE id = ?", [memo_id])))
        state, held_until = resolved_state(
            memo, recipients=recipients, approval_over=approval_over, now=now
        )
        if state == MEMO_AWAITING_APPROVAL:
            stamp = to_text(now)
            db.conn.executemany(
                "INSERT INTO approvals (memo_id, platform, recipient_id, state, attempts,"
                " in_doubt, next_attempt_at, created_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(memo_id, p, i, PENDING, stamp, stamp) for p, i in approvers],
            )
            self._audit(
                db,
                now,
                "approval requested",
                memo_id=memo_id,
                detail={
                    "recipients": recipients,
                    "approval_over": approval_over,
                    "approvers": [f"{p}:{i}" for p, i in approvers],
                },
            )
            return
        db.execute(
            "UPDATE memos SET state = ?, held_until = ? WHERE id = ? AND state = ?",
            [state, to_text(held_until) if held_until else None, memo_id, MEMO_AWAITING_APPROVAL],
        )
        self._audit_state(db, now, memo_id, state, held_until, memo.send_at, actor="")

    def decide_memo(
        self,
        memo_id: int,
        event: str,
        now: datetime,
        *,
        by: str = "",
        by_platform: str = "",
        by_name: str = "",
        reason: str = "",
    ) -> tuple[bool, Memo | None]:
        """Apply `event` (domain APPROVE, REJECT, UNDO, CANCEL, TIME_PASSES) to a memo that
        has not started sending, in one transaction: (True, memo) when it changed it, else
        (False, memo as it stands): the first decision wins, any later one changes nothing.
        A memo that will never send has its copies cancelled with the reason, and its
        approval requests not yet sent are dropped."""
        with self._write() as db:
            row = _one(db.execute("SELECT * FROM memos WHERE id = ?", [memo_id]))
            if row is None:
                return False, None
            memo = _memo(row)
            changed = transition(memo, event, now)
            if changed is None:
                return False, memo
            state, held_until = changed
            stamp = to_text(now)
            updated = db.execute(
                "UPDATE memos SET state = ?, held_until = ? WHERE id = ? AND state = ?",
                [state, to_text(held_until) if held_until else None, memo_id, memo.state],
            )
            if updated.rowcount != 1:  # cannot happen under the write lock; never twice
                return False, memo
            if memo.state == MEMO_AWAITING_APPROVAL and event != TIME_PASSES:
                db.execute(
                    "UPDATE memos SET decision = ?, decided_by = ?, decided_by_platform = ?,"
                    " decided_by_name = ?, decided_at = ?, decision_reason = ? WHERE id = ?",
                    [
                        "rejected" if event == REJECT else "approved",
                        by,
                        by_platform,
                        by_name,
                        stamp,
                        reason or None,
                        memo_id,
                    ],
                )
                db.execute(
                    "UPDATE approvals SET state = ?, cancelled_at = ? WHERE memo_id = ?"
                    " AND state = ? AND in_doubt = 0",
                    [CANCELLED, stamp, memo_id, PENDING],
                )
            detail: dict = {"from": memo.state, "platform": by_platform} if by else {}
            if reason:
                detail["reason"] = reason
            if state in CANCEL_REASONS:
                db.execute(
                    "UPDATE memos SET stopped_by_name = ?, stopped_at = ? WHERE id = ?",
                    [by_name or by, stamp, memo_id],
                )
                cancelled = db.execute(
                    "UPDATE copies SET state = ?, error = ?, cancelled_at = ? WHERE memo_id = ?"
                    " AND state IN (?, ?)",
                    [CANCELLED, CANCEL_REASONS[state], stamp, memo_id, PENDING, SENDING],
                ).rowcount
                detail["cancelled"] = cancelled
                action = {"rejected": "memo rejected", "undone": "memo undone"}.get(
                    state, "memo cancelled before its time"
                )
                self._audit(db, now, action, actor=by, memo_id=memo_id, detail=detail)
            else:
                if memo.state == MEMO_AWAITING_APPROVAL and event != TIME_PASSES:
                    self._audit(db, now, "memo approved", actor=by, memo_id=memo_id, detail=detail)
                self._audit_state(
                    db, now, memo_id, state, held_until, memo.send_at, actor=by or "scheduler"
                )
        return True, self.memo(memo_id)

    def memos_due(self, now: datetime) -> list[Memo]:
        """Memos whose time has come: scheduled ones at their send time, held ones at the
        end of their undo window."""
        stamp = to_text(now)
        return [
            _memo(row)
            for row in self._rows(
                "SELECT * FROM memos WHERE (state = ? AND send_at <= ?)"
                " OR (state = ? AND held_until <= ?) ORDER BY id",
                [MEMO_SCHEDULED, stamp, MEMO_HELD, stamp],
            )
        ]

    def next_memo_time(self) -> datetime | None:
        """The next send time or end of an undo window (for a wake-up)."""
        from bot.clock import from_text

        row = self._row(
            "SELECT min(t) AS t FROM (SELECT send_at AS t FROM memos WHERE state = ?"
            " UNION ALL SELECT held_until FROM memos WHERE state = ?)",
            [MEMO_SCHEDULED, MEMO_HELD],
        )
        return from_text(row["t"]) if row else None

    def claim_approval(self, platform: str, now: datetime) -> Approval | None:
        claimed = self._claim("approvals", platform, now)
        return _approval(claimed) if claimed else None

    def approvals_of(self, memo_id: int) -> list[Approval]:
        return [
            _approval(row)
            for row in self._rows(
                "SELECT * FROM approvals WHERE memo_id = ? ORDER BY id", [memo_id]
            )
        ]

    def approval(self, approval_id: int) -> Approval | None:
        row = self._row("SELECT * FROM approvals WHERE id = ?", [approval_id])
        return _approval(row) if row else None
