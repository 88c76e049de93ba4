"""The outbox never guesses a platform from an ID's shape: an escalation whose fate is
unknown is checked by its platform before any resend, whoever it went to."""

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from bot.clock import SettableClock
from bot.domain import Sent
from bot.fanout import Outbox


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
    escalation = {"id": 5, "memo_id": 1, "in_doubt": 1, "recipient_id": recipient, "people": []}
    outbox._send_escalation(fake, escalation)
    assert fake.checked == [("escalation", 5, recipient)] and fake.sent == []
    assert recorded == [("escalations", 5, Sent("conversation", ""))]
