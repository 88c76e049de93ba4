"""The Slack messages Errata sends: the memo as received (and its retracted form), the
retraction notice, reminders, the escalation, the issuer's live status messages and
the audit checkpoint. The button action IDs are the contract with handlers/actions.py."""

from __future__ import annotations

from datetime import datetime

from bot.domain import Memo, MemoCounts, Retraction, RetractionCounts, memo_label, progress_bar
from bot.pacing import time_to_finish
from bot.slack.blocks import (
    button,
    clip,
    context,
    escape,
    header,
    link,
    mention,
    mrkdwn,
    retraction_blocks,
    section,
    strike,
    when,
)
from bot.slack.channels import posted_in

ACKNOWLEDGE = "acknowledge"
SEEN = "seen"
ACKNOWLEDGE_FROM_REMINDER = "acknowledge_from_reminder"
SEEN_FROM_REMINDER = "seen_from_reminder"
APPROVE = "approve_memo"
REJECT = "reject_memo"
UNDO = "undo_memo"

STATE_WORDS = {
    "awaiting approval": "Awaiting approval",
    "scheduled": "Scheduled",
    "held": "Held",
    "sending": "Sending",
    "sent": "Sent",
    "retracting": "Retracting",
    "retracted": "Retracted",
    "rejected": "Rejected",
    "undone": "Undone",
    "cancelled": "Cancelled",
}


# ---------------------------------------------------------------- the memo as received


def _memo_context(memo: Memo) -> str:
    parts = [
        f"From {mention(memo.sender_id)}",
        memo_label(memo.id),
        f"Sent {when(memo.created_at)}",
    ]
    if memo.ack_deadline:
        parts.append(f"Acknowledge by {when(memo.ack_deadline)}")
    return " · ".join(parts)


def memo_message(
    memo: Memo, copy_id: int, acknowledged_at: datetime | None = None
) -> tuple[str, list]:
    blocks = [header(memo.title), section(memo.body), context(_memo_context(memo))]
    if acknowledged_at:
        blocks.append(context(f":white_check_mark: You acknowledged this {when(acknowledged_at)}."))
    elif memo.ask_ack:
        blocks.append(
            {
                "type": "actions",
                "block_id": "memo_actions",
                "elements": [button("Acknowledge", ACKNOWLEDGE, str(copy_id), "primary")],
            }
        )
    return f"{memo_label(memo.id)}: {memo.title}", blocks


def retracted_original(
    memo: Memo, retraction: Retraction, notice_url: str | None, show_body: bool
) -> tuple[str, list]:
    """A delivered copy, edited after the retraction: the label says it all first."""
    blocks = [
        header("RETRACTED: sent in error"),
        section(
            f"*~{escape(memo.title)}~*\n{mention(retraction.retracted_by)} retracted this memo"
            f" {when(retraction.retracted_at)}.\n*Reason:* {escape(retraction.reason)}"
        ),
    ]
    if show_body:
        blocks.append(section(strike(memo.body)))
    else:
        blocks.append(context("_The original message has been withdrawn._"))
    pointer = (
        f"See {link(notice_url, 'the retraction notice')} for what to do now."
        if notice_url
        else "A retraction notice has been sent to you in this conversation."
    )
    blocks.append(
        context(pointer, f"{memo_label(memo.id)} · originally from {mention(memo.sender_id)}")
    )
    return f"RETRACTED: sent in error ({memo_label(memo.id)}: {memo.title})", blocks


# ---------------------------------------------------------------- the retraction notice


def notice_message(
    memo: Memo,
    retraction: Retraction,
    notice_id: int,
    original_url: str | None,
    seen_at: datetime | None = None,
) -> tuple[str, list]:
    blocks = retraction_blocks(memo, retraction, original_url, "A memo you received")
    blocks.append(_seen_or_button(seen_at, SEEN, notice_id))
    text = f"RETRACTED: {memo_label(memo.id)} {memo.title}: {retraction.reason}"
    return clip(text, 3000), blocks


def _seen_or_button(seen_at: datetime | None, action_id: str, notice_id: int) -> dict:
    if seen_at:
        return context(f":white_check_mark: You confirmed you have seen this {when(seen_at)}.")
    return {
        "type": "actions",
        "block_id": "notice_actions",
        "elements": [button("I've seen this", action_id, str(notice_id), "primary")],
    }


# ---------------------------------------------------------------- reminders and escalation


def retraction_reminder(
    memo: Memo,
    retraction: Retraction,
    notice_id: int,
    notice_url: str | None,
    number: int,
    seen_at: datetime | None = None,
) -> tuple[str, list]:
    blocks = [
        header(f"Reminder: {memo.title} was retracted"),
        section(
            f":warning: {memo_label(memo.id)} from {mention(memo.sender_id)}, sent"
            f" {when(memo.created_at)}, was *sent in error* and retracted"
            f" {when(retraction.retracted_at)}.\n*Reason:* {escape(retraction.reason)}\n"
            f"Read {link(notice_url, 'the retraction notice')} and confirm you have seen it."
        ),
        _seen_or_button(seen_at, SEEN_FROM_REMINDER, notice_id),
    ]
    if number:
        blocks.append(context(f"Reminder {number}"))
    return f"Reminder: {memo_label(memo.id)} {memo.title} was retracted", blocks


def acknowledgement_reminder(
    memo: Memo, copy_id: int, original_url: str | None, acknowledged_at: datetime | None = None
) -> tuple[str, list]:
    ask = f"{link(original_url, memo.title)} ({memo_label(memo.id)}) from {mention(memo.sender_id)} asks you to acknowledge it"
    if memo.ack_deadline:
        ask += f" by {when(memo.ack_deadline)}"
    blocks = [header(f"Reminder: please acknowledge {memo.title}"), section(ask + ".")]
    if acknowledged_at:
        blocks.append(context(f":white_check_mark: You acknowledged this {when(acknowledged_at)}."))
    else:
        blocks.append(
            {
                "type": "actions",
                "block_id": "memo_actions",
                "elements": [
                    button("Acknowledge", ACKNOWLEDGE_FROM_REMINDER, str(copy_id), "primary")
                ],
            }
        )
    return f"Reminder: please acknowledge {memo_label(memo.id)} {memo.title}", blocks


ESCALATION_NAMES = 60


def escalation_message(
    memo: Memo, retraction: Retraction, people: list[str], counts: RetractionCounts, reminders: int
) -> tuple[str, list]:
    # People are "platform:id"; Slack people are mentioned, others named by their ID.
    names = " ".join(
        mention(p.split(":", 1)[1]) if p.startswith("slack:") else p.split(":", 1)[-1]
        for p in people[:ESCALATION_NAMES]
    )
    more = len(people) - ESCALATION_NAMES
    if more > 0:
        names += f" and {more} more"
    blocks = [
        header(f"Not confirmed: retraction of {memo_label(memo.id)}"),
        section(
            f"*{len(people)}* {'person has' if len(people) == 1 else 'people have'} still not confirmed"
            f" they have seen the retraction of *{escape(memo.title)}*"
            f" ({memo_label(memo.id)}), after {reminders} reminder{'s' if reminders != 1 else ''}."
        ),
        {
            "type": "section",
            "fields": [
                mrkdwn(f"*Notified*\n{counts.notified}"),
                mrkdwn(f"*Seen*\n{counts.seen}"),
                mrkdwn(f"*Outstanding*\n{counts.outstanding}"),
                mrkdwn(f"*Retracted by*\n{mention(retraction.retracted_by)}"),
            ],
        },
        section(f"*Still to confirm:* {names}"),
        context(f"`/memo report {memo_label(memo.id)}` lists every recipient with their status."),
    ]
    return (
        f"{len(people)} people have not confirmed the retraction of {memo_label(memo.id)}",
        blocks,
    )


# ---------------------------------------------------------------- live status for the issuer


def audience_text(memo: Memo) -> str:
    """Who a memo is for, as chosen in the compose form."""
    parts = []
    for audience in memo.audiences:
        on = "" if audience.platform == "slack" else f" ({audience.platform.title()})"
        if audience.everyone:
            parts.append(f"everyone{on}")
        if audience.people:
            shown = (
                " ".join(mention(p) for p in audience.people[:20])
                if audience.platform == "slack"
                else f"{len(audience.people)} people"
            )
            more = f" and {len(audience.people) - 20} more" if len(audience.people) > 20 else ""
            parts.append(f"{shown}{more}{on}")
        if audience.channels:
            parts.append(" ".join(f"<#{c}>" for c in audience.channels[:20]) + on)
        if audience.groups:
            parts.append(f"{len(audience.groups)} group(s){on}")
        if audience.posts:
            parts.append("posted in " + " ".join(f"<#{c}>" for c in audience.posts[:20]) + on)
    return "; ".join(parts) or "nobody"


def decision_line(memo: Memo) -> str | None:
    """Who decided a memo's approval, and when ("Approved by Ana at 10:42 UTC")."""
    if not memo.decision or memo.decided_at is None:
        return None
    line = (
        f"{memo.decision.capitalize()} by {escape(memo.decided_by_name or '')}"
        f" at {memo.decided_at:%H:%M} UTC"
    )
    if memo.decision_reason:
        line += f": {escape(memo.decision_reason)}"
    return line


def _before_sending(memo: Memo, counts: MemoCounts, seconds_left: int) -> list[dict]:
    """What the sender's status says while (or since) nothing could go out."""
    blocks = []
    if memo.state == "awaiting approval":
        size = f"*{counts.recipients}* recipients" if memo.recipients_added else "its audience"
        blocks.append(
            section(
                f":hourglass: Waiting for another member of comms staff to approve it ({size})."
                " Nothing goes out before then."
            )
        )
    if memo.state == "scheduled" and memo.send_at:
        blocks.append(section(f":calendar: Scheduled to go out {when(memo.send_at)}."))
    if memo.state == "held":
        blocks.append(
            section(
                f":stopwatch: Goes out in *{seconds_left} s*. Undo now and nobody gets it.",
                accessory=button("Undo", UNDO, str(memo.id), "danger"),
            )
        )
    who = escape(memo.stopped_by_name or "")
    at = f"{memo.stopped_at:%H:%M} UTC" if memo.stopped_at else ""
    if memo.state == "rejected":
        blocks.append(
            section(
                f":no_entry: *Rejected by {escape(memo.decided_by_name or who)} at {at}*:"
                f" {escape(memo.decision_reason or '')}\nIt reached no one."
            )
        )
    if memo.state == "undone":
        blocks.append(
            section(f":leftwards_arrow_with_hook: *Undone by {who} at {at}*: it reached no one.")
        )
    if memo.state == "cancelled":
        blocks.append(
            section(
                f":x: *Retracted before its time by {who} at {at}*: it reached no one,"
                " and nobody needed a notice."
            )
        )
    return blocks


def memo_status(memo: Memo, counts: MemoCounts, seconds_left: int = 0) -> tuple[str, list]:
    settled = counts.settled
    state = STATE_WORDS[memo.state]
    fields = [
        f"*Recipients*\n{counts.recipients}",
        f"*Delivered*\n{counts.delivered}",
        f"*Failed*\n{counts.failed}",
        f"*Still to send*\n{counts.pending}",
    ]
    if memo.ask_ack:
        fields.append(f"*Acknowledged*\n{counts.acknowledged} of {counts.delivered}")
    if counts.cancelled:
        fields.append(f"*Cancelled*\n{counts.cancelled}")
    blocks = [
        header(f"{memo_label(memo.id)}: {memo.title}"),
        section(f"*{state}* · {progress_bar(settled, counts.recipients)}"),
        {"type": "section", "fields": [mrkdwn(f) for f in fields]},
    ]
    if posted_in(memo):
        blocks.append(context(posted_in(memo)))
    early = _before_sending(memo, counts, seconds_left)
    decided = decision_line(memo)
    if decided and memo.state != "rejected":
        early.append(context(f":white_check_mark: {decided}"))
    blocks[2:2] = early
    if (
        memo.state not in ("sending", "awaiting approval", "scheduled", "held")
        and not memo.never_sent
        and counts.recipients == 0
    ):
        blocks.insert(
            2,
            section(
                ":warning: *It reached nobody*: its audience had no one who could receive it"
                " (a channel emptied or left, a group with no members). Nothing was sent."
            ),
        )
    if counts.failures:
        reasons = ", ".join(f"`{reason}` {n}" for reason, n in list(counts.failures.items())[:8])
        blocks.append(context(f"Failed by reason: {reasons}"))
    blocks.append(
        context(
            f"Started {when(memo.created_at)} · `/memo report {memo_label(memo.id)}` for every recipient"
        )
    )
    text = f"{memo_label(memo.id)} {state.lower()}: {counts.delivered} delivered, {counts.failed} failed"
    return text, blocks


def retraction_status(
    memo: Memo, retraction: Retraction, counts: RetractionCounts
) -> tuple[str, list]:
    done = counts.notified + counts.failed
    state = "Retracted" if memo.state == "retracted" else "Retracting"
    fields = [
        f"*Notified*\n{counts.notified} of {counts.to_notify}",
        f"*Failed*\n{counts.failed}",
        f"*Seen*\n{counts.seen}",
        f"*Outstanding*\n{counts.outstanding}",
        f"*Originals edited*\n{counts.edits_done} of {counts.edits_total}",
        f"*Copies cancelled*\n{counts.cancelled}",
    ]
    blocks = [
        header(f"Retraction of {memo_label(memo.id)}: {memo.title}"),
        section(f"*{state}* · notices {progress_bar(done, counts.to_notify)}"),
        {"type": "section", "fields": [mrkdwn(f) for f in fields]},
        *([context(posted_in(memo))] if posted_in(memo) else []),
        context(
            f"Retracted {when(retraction.retracted_at)} by {mention(retraction.retracted_by)}"
            f" · Reason: {escape(clip(retraction.reason, 300))}"
        ),
    ]
    text = (
        f"Retraction of {memo_label(memo.id)}: {counts.notified} notified, {counts.seen} seen,"
        f" {counts.outstanding} outstanding"
    )
    return text, blocks


# ---------------------------------------------------------------- approval requests


def approval_request(memo: Memo, approval_id: int, recipients: int) -> tuple[str, list]:
    """A member of comms staff is asked to approve a memo: the memo exactly as its
    recipients will see it, its audience and size, and Approve / Reject (or, once decided,
    who decided and when, with no buttons)."""
    _, as_seen = memo_message(memo, 0)
    shown = [b for b in as_seen if b.get("type") != "actions"]
    if memo.ask_ack:
        shown.append(context("_Recipients get an Acknowledge button here._"))
    blocks = [
        section(
            f":eyes: *{mention(memo.sender_id)} asks you to approve {memo_label(memo.id)}"
            f" before it goes out.*\n*Audience:* {audience_text(memo)}\n"
            f"*Recipients:* {recipients}"
            + (f"\n*Send at:* {when(memo.send_at)}" if memo.send_at else "")
        ),
        {"type": "divider"},
        *shown,
        {"type": "divider"},
    ]
    decided = decision_line(memo)
    if decided:
        blocks.append(section(f"*{decided}*"))
    elif memo.state == "awaiting approval":
        blocks.append(
            {
                "type": "actions",
                "block_id": "approval_actions",
                "elements": [
                    button("Approve", APPROVE, str(memo.id), "primary"),
                    button("Reject", REJECT, str(memo.id), "danger"),
                ],
            }
        )
    else:
        blocks.append(section(f"*{STATE_WORDS[memo.state]}*"))
    text = f"Approve {memo_label(memo.id)}: {memo.title} ({recipients} recipients)?"
    if decided:
        text = f"{memo_label(memo.id)}: {decided}"
    return text, blocks


def finish_estimate(seconds: float, per_minute: float) -> dict:
    """The time to finish at the learned rate, under a status message."""
    return context(f":stopwatch: {time_to_finish(seconds, per_minute)}")


# ---------------------------------------------------------------- audit checkpoints


def audit_checkpoint(count: int, digest: str, at: datetime) -> tuple[str, list]:
    """The audit chain's head, posted to AUDIT_CHECKPOINT_CHANNEL (its metadata carries
    the same count and hash for `audit verify` to read back)."""
    text = (
        f"Audit checkpoint: the audit log has {count:,} entries; entry {count:,} has hash {digest}"
    )
    blocks = [
        section(
            f"*Audit checkpoint* · the audit log has *{count:,}* entries;"
            f" entry {count:,} has the hash\n`{digest}`"
        ),
        context(
            f"Posted {when(at)} · `python -m bot audit verify` checks the log against this"
            " message, so history before it cannot be rewritten unnoticed. Do not delete it."
        ),
    ]
    return text, blocks
