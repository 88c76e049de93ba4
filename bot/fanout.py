"""The durable outbox: workers that take due copies, notices and edits from the
store and send them at the rate the platform allows.

Per platform there are two streams, each with its own workers and its own
rate budget (inside the adapter), because Slack limits each method apart:
- the post stream (chat.postMessage): notices first, then copies;
- the edit stream (chat.update, about a tenth of the rate): retraction edits.
Slow edits therefore never hold up a notice.

A copy is a row before it is a message: a worker claims the row (state
`sending`), calls the platform, and records the outcome. At most
`concurrency` rows per stream are `sending` at any moment, which bounds the
copies whose fate is unknown after a crash; those are checked against the
platform before they are ever sent again.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable

from bot.clock import Clock
from bot.domain import Escalation, Failed, NotFound, Reminder, Sent
from bot.platform import Platform
from bot.store import RETRACTION_REMINDER, Store

log = logging.getLogger(__name__)

# What the post stream sends (chat.postMessage on Slack); edits have their own stream.
POST_KINDS = ("post_notices", "notices", "reminders", "escalations", "approvals", "posts", "copies")


class SendGate:
    """Closes a memo to new sends, and waits for the ones already on their way.

    The retraction closes the gate before its transaction, so no copy of the
    original starts after the retraction is recorded, even one a worker had
    already claimed: every copy that did go out is delivered (and so gets a
    notice) or failed by the time the retraction runs.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight: Counter[int] = Counter()
        self._closed: set[int] = set()

    def enter(self, memo_id: int) -> bool:
        with self._cond:
            if memo_id in self._closed:
                return False
            self._in_flight[memo_id] += 1
            return True

    def leave(self, memo_id: int) -> None:
        with self._cond:
            self._in_flight[memo_id] -= 1
            if self._in_flight[memo_id] <= 0:
                del self._in_flight[memo_id]
                self._cond.notify_all()

    def close(self, memo_id: int, timeout: float = 120.0) -> bool:
        with self._cond:
            self._closed.add(memo_id)
            return self._cond.wait_for(lambda: self._in_flight[memo_id] <= 0, timeout)

    def closed(self) -> frozenset[int]:
        """The memos closed to new sends: workers do not claim their copies."""
        with self._cond:
            return frozenset(self._closed)


class Outbox:
    def __init__(
        self,
        store: Store,
        platforms: dict[str, Platform],
        clock: Clock,
        *,
        concurrency: int = 8,
        edit_concurrency: int = 2,
        on_change: Callable[[int], None] | None = None,
        idle_wait: float = 0.25,
    ):
        self.store = store
        self.platforms = platforms
        self.clock = clock
        self.concurrency = concurrency
        self.edit_concurrency = edit_concurrency
        self.on_change = on_change or (lambda memo_id: None)
        self.gate = SendGate()
        self.idle_wait = idle_wait
        self._work = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._stop.clear()
        for name, platform in self.platforms.items():
            for n in range(self.concurrency):
                self._spawn(f"post-{name}-{n}", self._post_worker, platform)
            for n in range(self.edit_concurrency):
                self._spawn(f"edit-{name}-{n}", self._edit_worker, platform)

    def _spawn(self, name: str, target, platform: Platform) -> None:
        thread = threading.Thread(target=self._run, args=(target, platform), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self.kick()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def kick(self) -> None:
        """New work was stored: wake the idle workers now rather than at their next poll."""
        with self._work:
            self._work.notify_all()

    def _idle(self) -> None:
        with self._work:
            self._work.wait(self.idle_wait)

    def _run(self, step, platform: Platform) -> None:
        while not self._stop.is_set():
            try:
                busy = step(platform)
            except Exception:
                log.exception("outbox worker error")
                busy = False
            if not busy:
                self._idle()

    # ------------------------------------------------------------ the post stream

    def _post_worker(self, platform: Platform) -> bool:
        closed = self.gate.closed()
        if not self.store.has_due_work(platform.name, self.clock.now(), POST_KINDS, closed):
            return False
        # The turn first, then the claim: an item is `sending` (in doubt after a crash)
        # only while its call is under way, not while it waits for the rate.
        budget = platform.budget("post")
        if not budget.take_turn(self._stop):
            return False
        try:
            return self._post_one(platform, self.clock.now(), closed)
        finally:
            budget.give_back()  # nothing claimed, or only a check: the turn is not lost

    def _post_one(self, platform: Platform, now, closed: frozenset[int]) -> bool:
        # Claims only from the kinds with something due (one read for all of them): each
        # claim is a write, and while a memo fans out only its copies are due. The look is
        # taken now, after the turn, so that what became due meanwhile keeps its priority.
        due = self.store.due_kinds(platform.name, now, POST_KINDS, closed)
        store, name = self.store, platform.name
        # In POST_KINDS' order: a channel's retraction notice first (one message tells a
        # whole channel), then people's notices, ..., copies last. A claim gives a tuple
        # (the item and what its send needs) or one item.
        claims = {
            "post_notices": (lambda: store.claim_post_notice(name, now), self._send_post_notice),
            "notices": (lambda: store.claim_notice(name, now), self._send_notice),
            "reminders": (lambda: store.claim_reminder(name, now), self._send_reminder),
            "escalations": (lambda: store.claim_escalation(name, now), self._send_escalation),
            "approvals": (lambda: store.claim_approval(name, now), self._send_approval),
            "posts": (lambda: store.claim_post(name, now, closed), self._send_post),
            "copies": (lambda: store.claim_copy(name, now, closed), self._send_copy),
        }
        for kind in POST_KINDS:
            if kind not in due:
                continue
            claim, send = claims[kind]
            claimed = claim()
            if claimed:
                send(platform, *(claimed if isinstance(claimed, tuple) else (claimed,)))
                return True
        return False

    def _send_copy(self, platform: Platform, copy, memo) -> None:
        if copy.in_doubt:
            outcome = platform.find_sent("copy", copy.id, copy.recipient_id, memo.created_at)
            self._record("copies", copy.id, memo.id, outcome)
            return
        if not self.gate.enter(memo.id):
            # Closed between the claim and now (claims skip closed memos): put it back.
            self.store.release_copy(copy.id, self.clock.now())
            self.on_change(memo.id)
            return
        try:
            outcome = platform.send_copy(memo, copy)
            self._record("copies", copy.id, memo.id, outcome)
        finally:
            self.gate.leave(memo.id)

    def _send_post(self, platform: Platform, post, memo) -> None:
        """Post the memo in a channel (once): its members' copies are delivered with it."""
        if post.in_doubt:
            outcome = platform.find_sent("post", post.id, post.recipient_id, memo.created_at)
            self._record("posts", post.id, memo.id, outcome)
            return
        if not self.gate.enter(memo.id):
            self.store.release_post(post.id, self.clock.now())
            self.on_change(memo.id)
            return
        try:
            self._record("posts", post.id, memo.id, platform.send_post(memo, post))
        finally:
            self.gate.leave(memo.id)

    def _send_post_notice(self, platform: Platform, post, memo) -> None:
        """The retraction notice in the post's thread, also sent to the channel."""
        retraction = self.store.retraction(memo.id)
        state = self.store.post_notice(post.id) or {}
        if state.get("in_doubt"):
            outcome = platform.find_sent(
                "post_notice", post.id, post.recipient_id, retraction.retracted_at
            )
        else:
            outcome = platform.send_post_notice(memo, retraction, post)
        self._record("post_notices", post.id, memo.id, outcome)

    def _send_notice(self, platform: Platform, notice, copy, memo) -> None:
        retraction = self.store.retraction(memo.id)
        if notice.in_doubt:
            outcome = platform.find_sent(
                "notice", notice.id, notice.recipient_id, retraction.retracted_at
            )
        else:
            outcome = platform.send_notice(memo, retraction, copy, notice)
        self._record("notices", notice.id, memo.id, outcome)

    def _send_reminder(self, platform: Platform, reminder: Reminder) -> None:
        memo = self.store.memo(reminder.memo_id)
        if reminder.in_doubt:
            since = (
                self.store.retraction(memo.id).retracted_at
                if reminder.kind == RETRACTION_REMINDER
                else memo.created_at
            )
            outcome = platform.find_sent("reminder", reminder.id, reminder.recipient_id, since)
        elif reminder.kind == RETRACTION_REMINDER:
            notice = self.store.notice(reminder.target_id)
            outcome = platform.send_reminder(
                memo,
                self.store.retraction(memo.id),
                self.store.copy(notice.copy_id),
                notice,
                reminder,
            )
        else:
            outcome = platform.send_reminder(
                memo, None, self.store.copy(reminder.target_id), None, reminder
            )
        self._record("reminders", reminder.id, memo.id, outcome)

    def _send_escalation(self, platform: Platform, escalation: Escalation) -> None:
        memo = self.store.memo(escalation.memo_id)
        retraction = self.store.retraction(memo.id)
        if escalation.in_doubt:  # whoever it went to, the platform checks before a resend
            outcome = platform.find_sent(
                "escalation", escalation.id, escalation.recipient_id, retraction.retracted_at
            )
        else:
            outcome = platform.send_escalation(
                memo, retraction, escalation, self.store.retraction_counts(memo.id)
            )
        self._record("escalations", escalation.id, memo.id, outcome)

    def _send_approval(self, platform: Platform, approval) -> None:
        """Ask a member of comms staff to approve a memo (the memo as it will look, its
        audience and size, Approve / Reject)."""
        memo = self.store.memo(approval.memo_id)
        if approval.in_doubt:
            outcome = platform.find_sent(
                "approval", approval.id, approval.recipient_id, memo.created_at
            )
        else:
            outcome = platform.send_approval_request(
                memo, approval, self.store.memo_counts(memo.id).recipients
            )
        self._record("approvals", approval.id, memo.id, outcome)

    # ------------------------------------------------------------ the edit stream

    def _edit_worker(self, platform: Platform) -> bool:
        if not self.store.has_due_work(platform.name, self.clock.now(), ("post_edits", "edits")):
            return False
        budget = platform.budget("edit")
        if budget is platform.budget("post") and self.store.has_due_work(
            platform.name, self.clock.now(), ("post_notices", "notices")
        ):
            # Edits share the budget of new messages here (Teams: one per tenant): the
            # retraction's notices go first, they are what tells people; the edits follow.
            return False
        if not budget.take_turn(self._stop):
            return False
        try:
            # A channel post first: one edit corrects what a whole channel sees.
            claimed_post = self.store.claim_post_edit(platform.name, self.clock.now())
            if claimed_post:
                post, memo = claimed_post
                outcome = platform.edit_post(memo, self.store.retraction(memo.id), post)
                self._record("post_edits", post.id, memo.id, outcome)
                return True
            claimed = self.store.claim_edit(platform.name, self.clock.now())
            if not claimed:
                return False
            edit, copy, notice, memo = claimed
            retraction = self.store.retraction(memo.id)
            # Edits are idempotent: an edit whose outcome was lost is simply made again.
            outcome = platform.edit_copy(memo, retraction, copy, notice)
            self._record("edits", edit.copy_id, memo.id, outcome)
            return True
        finally:
            budget.give_back()

    def _record(self, kind: str, item_id: int, memo_id: int, outcome) -> None:
        # The outcome is known: losing it to a busy database would leave the row
        # `sending` (in doubt) until the stale-claim sweep, so insist a little.
        for attempt in range(1, 6):
            try:
                state = self.store.record(kind, item_id, outcome, self.clock.now())
                break
            except sqlite3.OperationalError:
                if attempt == 5:
                    raise
                log.warning("recording %s %s failed (attempt %d); retrying", kind, item_id, attempt)
                self._stop.wait(0.5 * attempt)
        if isinstance(outcome, Failed):
            log.info("%s %s failed: %s", kind, item_id, outcome.reason)
        if isinstance(outcome, Sent | NotFound) or state != "pending":
            self.on_change(memo_id)
        if state == "pending":
            # A retry or a resend after a check: someone should look again soon.
            self.kick()
