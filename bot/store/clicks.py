"""Clicks: Acknowledge on a copy and "I've seen this" on a notice, each recorded
once, and only for its own recipient."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.clock import from_text, to_text
from bot.domain import (
    CANCELLED,
    MEMO_RETRACTED,
    MEMO_RETRACTING,
)
from bot.store.reminders import ACK_REMINDER, RETRACTION_REMINDER


@dataclass(frozen=True)
class Click:
    """What a click on Acknowledge or I've seen this came to."""

    outcome: str  # recorded | already | retracted | not_yours | unknown | closed
    at: datetime | None = None
    memo_id: int | None = None


class ClicksMixin:
    """The two buttons people click, recorded once each."""

    def acknowledge(self, copy_id: int, user_id: str, platform: str, now: datetime) -> Click:
        """Record the first acknowledgement of a copy by its own recipient."""
        with self._write() as db:
            row = db.execute(
                "SELECT c.recipient_id, c.platform, c.acknowledged_at, c.state, m.state, c.memo_id,"
                " m.ask_ack FROM copies c JOIN memos m ON m.id = c.memo_id WHERE c.id = ?",
                [copy_id],
            ).fetchone()
            if row is None:
                return Click("unknown")
            recipient, copy_platform, acked, state, memo_state, memo_id, ask_ack = row
            if recipient != user_id or copy_platform != platform:
                return self._not_yours(
                    db, now, user_id, memo_id, "acknowledge", copy_id=copy_id, recipient=recipient
                )
            if memo_state in (MEMO_RETRACTING, MEMO_RETRACTED):
                return Click("retracted", memo_id=memo_id)
            if db.execute("SELECT 1 FROM retractions WHERE memo_id = ?", [memo_id]).fetchone():
                # Asked for and confirmed to the retractor, not applied yet (the sends in
                # flight are still landing): from that moment nothing is acknowledged.
                self._audit(
                    db,
                    now,
                    "acknowledgement refused",
                    actor=user_id,
                    memo_id=memo_id,
                    subject=f"{platform}:{user_id}",
                    detail={"copy_id": copy_id, "why": "the memo is being retracted"},
                )
                return Click("retracting", memo_id=memo_id)
            if acked:
                return Click("already", from_text(acked), memo_id)
            # A click proves the copy arrived, even if its send is not recorded yet.
            if state == CANCELLED or not ask_ack:
                return Click("closed", memo_id=memo_id)
            db.execute(
                "UPDATE copies SET acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL",
                [to_text(now), copy_id],
            )
            self._cancel_reminders(db, ACK_REMINDER, "target_id = ?", [copy_id])
            self._audit(
                db,
                now,
                "acknowledged",
                actor=user_id,
                memo_id=memo_id,
                subject=f"{platform}:{user_id}",
            )
        return Click("recorded", now, memo_id)

    def mark_seen(self, notice_id: int, user_id: str, platform: str, now: datetime) -> Click:
        """Record the first "I've seen this" on a notice by its own recipient."""
        with self._write() as db:
            row = db.execute(
                "SELECT recipient_id, platform, seen_at, state, memo_id FROM notices WHERE id = ?",
                [notice_id],
            ).fetchone()
            if row is None:
                return Click("unknown")
            recipient, notice_platform, seen, state, memo_id = row
            if recipient != user_id or notice_platform != platform:
                return self._not_yours(
                    db, now, user_id, memo_id, "seen", notice_id=notice_id, recipient=recipient
                )
            if seen:
                return Click("already", from_text(seen), memo_id)
            db.execute(
                "UPDATE notices SET seen_at = ? WHERE id = ? AND seen_at IS NULL",
                [to_text(now), notice_id],
            )
            self._cancel_reminders(db, RETRACTION_REMINDER, "target_id = ?", [notice_id])
            self._audit(
                db, now, "seen", actor=user_id, memo_id=memo_id, subject=f"{platform}:{user_id}"
            )
        return Click("recorded", now, memo_id)

    def _not_yours(self, db, now: datetime, user_id: str, memo_id: int, button: str, **detail):
        """Someone clicked a button of another person's message: refused and audited."""
        self._audit(
            db, now, "denied", actor=user_id, memo_id=memo_id, subject=button, detail=detail
        )
        return Click("not_yours", memo_id=memo_id)
