"""Sending safely (PRODUCT.md): approval by another member of comms staff, a send
time, an undo window. The states and what each event does to a memo are pure rules in
`bot.domain`; this part of the core asks the store to apply them once and tells people.
Mixed into `Core`, which provides `settings`, `store`, `platforms`, `clock`, `status`,
`outbox`, `after_answer`, `may_send`, `deny`, `display_name` and `_group_members`."""

from __future__ import annotations

import logging

from bot.domain import (
    APPROVE,
    GROUP,
    MEMO_AWAITING_APPROVAL,
    MEMO_HELD,
    PERSON,
    REJECT,
    TIME_PASSES,
    UNDO,
    Memo,
    Refusal,
)

log = logging.getLogger(__name__)


class SendingSafely:
    def approvers(self, memo: Memo) -> list[tuple[str, str]]:
        """Who is asked to approve a memo: every member of comms staff who can be named
        individually on a configured platform (people, and the members of their groups),
        its sender left out. Comms staff given by email are not asked (an email names no
        platform account to write to); they may still approve from a forwarded request."""
        found: list[tuple[str, str]] = []
        for principal in sorted(self.settings.comms_staff, key=str):
            if principal.platform not in self.platforms:
                continue
            if principal.kind == PERSON:
                found.append((principal.platform, principal.id))
            elif principal.kind == GROUP:
                found += [
                    (principal.platform, m)
                    for m in sorted(self._group_members(principal.platform, principal.id))
                ]
        sender = (memo.sender_platform, memo.sender_id)
        return [p for p in dict.fromkeys(found) if p != sender]

    def _decision_refusal(self, memo: Memo | None, platform: str, user_id: str, attempt: str):
        """Why this person may not approve or reject this memo (refused and audited), or
        None. Only comms staff decide, never on their own memo."""
        memo_ref = memo.id if memo else None
        if not self.may_send(platform, user_id):
            self.deny(platform, user_id, attempt, memo=memo_ref)
            return Refusal("Only comms staff can approve or reject a memo.")
        if memo is None:
            return Refusal("There is no such memo.")
        if (memo.sender_platform, memo.sender_id) == (platform, user_id):
            self.deny(platform, user_id, attempt, memo=memo_ref, reason="own memo")
            return Refusal(f"You sent {memo.label}: another member of comms staff must approve it.")
        if memo.state != MEMO_AWAITING_APPROVAL:
            return Refusal(self._decided_text(memo))
        return None

    @staticmethod
    def _decided_text(memo: Memo) -> str:
        if memo.decision and memo.decided_at:
            return (
                f"{memo.label} was already {memo.decision} by {memo.decided_by_name}"
                f" at {memo.decided_at:%H:%M} UTC."
            )
        return f"{memo.label} is not awaiting approval (it is {memo.state})."

    def may_decide(self, memo_id: int, platform: str, user_id: str) -> Memo | Refusal:
        """Before the Reject form opens: the memo, or why this person cannot decide."""
        memo = self.store.memo(memo_id)
        return self._decision_refusal(memo, platform, user_id, "reject memo") or memo

    def approve(self, memo_id: int, platform: str, user_id: str) -> Memo | Refusal:
        return self._decide(memo_id, platform, user_id, APPROVE, "")

    def reject(self, memo_id: int, platform: str, user_id: str, reason: str) -> Memo | Refusal:
        if not reason.strip():
            return Refusal("Say why the memo is rejected; its sender will read this.")
        return self._decide(memo_id, platform, user_id, REJECT, reason.strip())

    def _decide(
        self, memo_id: int, platform: str, user_id: str, event: str, reason: str
    ) -> Memo | Refusal:
        attempt = "approve memo" if event == APPROVE else "reject memo"
        refusal = self._decision_refusal(self.store.memo(memo_id), platform, user_id, attempt)
        if refusal is not None:
            return refusal
        changed, memo = self.store.decide_memo(
            memo_id,
            event,
            self.clock.now(),
            by=user_id,
            by_platform=platform,
            by_name=self.display_name(platform, user_id),
            reason=reason,
        )
        if not changed:  # another approver was first, at the same instant
            return Refusal(self._decided_text(memo))
        self._after_decision(memo)
        return memo

    def undo(self, memo_id: int, platform: str, user_id: str) -> Memo | Refusal:
        """Undo a held memo: only its sender or comms staff; refusals are audited."""
        memo = self.store.memo(memo_id)
        if memo is None:
            return Refusal("There is no such memo.")
        if (memo.sender_platform, memo.sender_id) != (platform, user_id) and not self.may_send(
            platform, user_id
        ):
            self.deny(platform, user_id, "undo memo", memo=memo_id)
            return Refusal("Only the memo's sender or comms staff can undo it.")
        changed, memo = self.store.decide_memo(
            memo_id,
            UNDO,
            self.clock.now(),
            by=user_id,
            by_platform=platform,
            by_name=self.display_name(platform, user_id),
        )
        if not changed:
            if memo.state == MEMO_HELD:
                return Refusal(f"{memo.label} could not be undone; try again.")
            return Refusal(f"Too late to undo {memo.label}: it is {memo.state}.")
        self._after_decision(memo)
        return memo

    def sweep_due_memos(self) -> list[int]:
        """Scheduled memos whose time has come, held ones whose undo window is over: move
        them on (the store decides, once). Held memos' status messages count down."""
        now = self.clock.now()
        moved = []
        for memo in self.store.memos_due(now):
            changed, after = self.store.decide_memo(memo.id, TIME_PASSES, now)
            if changed:
                moved.append(memo.id)
                self._after_decision(after)
        for memo in self.store.memos_in_states(MEMO_HELD):
            self.status.mark(memo.id)
        return moved

    def _after_decision(self, memo: Memo) -> None:
        """A memo moved on: wake the outbox, refresh its status, and show the decision on
        every approval request already delivered (in the background)."""
        self.outbox.kick()
        self.status.mark(memo.id)
        self.status.flush()
        if memo.decision:
            self.after_answer(lambda: self.show_decision(memo.id))

    def show_decision(self, memo_id: int) -> int:
        """Update every delivered approval request of a memo to its decision; returns how
        many were updated."""
        memo = self.store.memo(memo_id)
        recipients = self.store.memo_counts(memo_id).recipients
        done = 0
        for approval in self.store.approvals_of(memo_id):
            platform = self.platforms.get(approval.platform)
            if platform is None or not approval.ts:
                continue
            try:
                platform.update_approval_request(memo, approval, recipients)
                done += 1
            except Exception:
                log.exception("approval request %s not updated", approval.id)
        return done
