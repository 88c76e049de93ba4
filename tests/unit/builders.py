"""Memos built straight in the store, for the unit tests (no platform involved)."""

from __future__ import annotations

from bot.domain import Audience, Recipient, Sent


def memo_to(store, clock, people, *, ask_ack=True, deadline=None, title="Delete the app"):
    """A memo from UCOMMS with one pending copy per person (ids, or (id, name) pairs)."""
    memo = store.create_memo(
        title=title,
        body="Please delete it by Friday.",
        sender_id="UCOMMS",
        sender_platform="slack",
        ask_ack=ask_ack,
        ack_deadline=deadline,
        audience=Audience(everyone=True, platform="slack"),
        now=clock.now(),
    )
    recipients = [
        Recipient("slack", *p) if isinstance(p, tuple) else Recipient("slack", p) for p in people
    ]
    store.add_recipients(memo.id, recipients, clock.now())
    return memo


def deliver(store, clock, kind="copies"):
    """Claim and deliver everything due of `kind` (copies or notices)."""
    claim = store.claim_copy if kind == "copies" else store.claim_notice
    while claimed := claim("slack", clock.now()):
        item = claimed[0]
        store.record(kind, item.id, Sent("D" + item.recipient_id, f"1.{item.id}"), clock.now())


def retract(store, clock, memo_id, *, by="UC", reason="r"):
    """Ask for a retraction and apply it at once, as the core does once nothing is in
    flight. The applied retraction, or None when one was already asked for."""
    if not store.request_retraction(
        memo_id, by=by, by_platform="slack", reason=reason, corrections="", now=clock.now()
    ):
        return None
    return store.apply_retraction(memo_id, clock.now())
