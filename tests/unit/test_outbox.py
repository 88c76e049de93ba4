"""The outbox never guesses a platform from an ID's shape: an escalation whose fate is
unknown is checked by its platform before any resend, whoever it went to."""

import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.clock import SettableClock
from bot.domain import SENDING, Escalation, Sent
from bot.fanout import Outbox
from bot.pacing import Budget
from tests.harness import wait_for
from tests.unit.builders import memo_to


class Platform:
    def __init__(self, name):
        self.name = name
        self.checked, self.sent = [], []

    def find_sent(self, kind, item_id, recipient_id, since):
        self.checked.append((kind, item_id, recipient_id))
        return Sent("conversation", "")

    def send_escalation(self, *args):
        self.sent.append(args)
        return Sent("conversation", "1")


@pytest.mark.parametrize(
    "platform,recipient",
    [
        ("teams", "3f0c5a52-8d8f-4d1e-9a33-2b7c1d2e4f60"),
        ("slack", "C0ESCALATE"),
        ("slack", "U0RET"),
    ],
)
def test_an_escalation_in_doubt_is_checked_never_resent(platform, recipient):
    at = datetime(2026, 11, 30, tzinfo=UTC)
    recorded = []
    store = SimpleNamespace(
        memo=lambda memo_id: SimpleNamespace(id=memo_id),
        retraction=lambda memo_id: SimpleNamespace(retracted_at=at),
        retraction_counts=lambda memo_id: None,
        record=lambda kind, item_id, outcome, now: (
            recorded.append((kind, item_id, outcome)) or "delivered"
        ),
    )
    fake = Platform(platform)
    outbox = Outbox(store, {platform: fake}, SettableClock(at))
    escalation = Escalation(5, 1, platform, recipient, (), in_doubt=True)
    outbox._send_escalation(fake, escalation)
    assert fake.checked == [("escalation", 5, recipient)] and fake.sent == []
    assert recorded == [("escalations", 5, Sent("conversation", ""))]


# ---------------------------------------------------------------- turns and closed memos


class Sender:
    """A platform that delivers every copy at once, paced by `budget`."""

    name = "slack"

    def __init__(self, budget: Budget):
        self._budget = budget
        self.sent: list[int] = []

    def budget(self, stream):
        return self._budget

    def send_copy(self, memo, copy):
        self._budget.acquire()
        self.sent.append(copy.id)
        return Sent("D" + copy.recipient_id, f"1.{copy.id}")


def test_an_item_is_claimed_only_once_its_turn_has_come(store, clock):
    """While a worker waits for the rate, nothing is `sending`: a crash then leaves
    nothing in doubt."""
    memo_to(store, clock, ["U1", "U2", "U3"])
    budget = Budget(6)  # one call every 10 s: the second copy waits
    platform = Sender(budget)
    outbox = Outbox(store, {"slack": platform}, clock, concurrency=1, idle_wait=0.01)
    outbox.start()
    try:
        # Recorded, not only sent: the worker records its outcome after the call returns,
        # and its next turn (10 s away) was booked when it took the first one.
        wait_for(lambda: store.copy(1).state == "delivered", what="the first copy")
        wait_for(lambda: budget._tat > time.monotonic() + 5, what="the worker to wait its turn")
        states = [c.state for c in store.copies_of(1)]
        assert SENDING not in states and states.count("pending") == 2
    finally:
        outbox.stop(timeout=1)


def test_a_memo_closed_to_new_sends_is_not_claimed_over_and_over(store, clock):
    """While a retraction waits for the sends in flight, the workers leave that memo's
    copies alone (they used to claim, give back and claim again, a write each time)."""
    memo_to(store, clock, ["U1", "U2", "U3"])
    platform = Sender(Budget(None))
    outbox = Outbox(store, {"slack": platform}, clock, concurrency=2, idle_wait=0.005)
    assert outbox.gate.close(1, timeout=1)
    looks, claims = [], []
    real_look, real_claim = store.has_due_work, store.claim_copy
    store.has_due_work = lambda *a, **k: looks.append(1) or real_look(*a, **k)
    store.claim_copy = lambda *a, **k: claims.append(1) or real_claim(*a, **k)
    outbox.start()
    try:
        wait_for(lambda: len(looks) >= 50, what="the workers to look fifty times")
        assert claims == [] and platform.sent == []
        assert all(c.state == "pending" for c in store.copies_of(1))
    finally:
        outbox.stop(timeout=1)


def test_a_turn_not_used_is_given_back():
    budget = Budget(60)  # one a second
    assert budget.take_turn()
    budget.give_back()
    started = time.monotonic()
    assert budget.acquire()
    assert time.monotonic() - started < 0.5  # the slot given back is the one used


def test_where_edits_share_the_budget_of_new_messages_the_notices_go_first():
    """Teams paces every request of a tenant on one budget: while a retraction's notices
    are due, the edits wait (the notices tell people; the edits only tidy up)."""
    at = datetime(2026, 11, 30, tzinfo=UTC)
    notices_due = [True]
    claims = []
    store = SimpleNamespace(
        has_due_work=lambda platform, now, kinds, closed=frozenset(): (
            notices_due[0] if "notices" in kinds else True
        ),
        claim_post_edit=lambda platform, now: claims.append("post_edit"),
        claim_edit=lambda platform, now: claims.append("edit"),
    )
    shared = Budget(None)

    class Shared(Platform):
        def budget(self, stream):
            return shared

    outbox = Outbox(store, {"teams": Shared("teams")}, SettableClock(at))
    assert outbox._edit_worker(Shared("teams")) is False
    assert claims == []  # not even a claim while notices are due
    notices_due[0] = False
    outbox._edit_worker(Shared("teams"))
    assert claims == ["post_edit", "edit"]

    # Slack: chat.update has a budget of its own, and edits run beside the notices.
    budgets = {"post": Budget(None), "edit": Budget(None)}

    class Apart(Platform):
        def budget(self, stream):
            return budgets[stream]

    notices_due[0], claims[:] = True, []
    outbox = Outbox(store, {"slack": Apart("slack")}, SettableClock(at))
    outbox._edit_worker(Apart("slack"))
    assert claims == ["post_edit", "edit"]
