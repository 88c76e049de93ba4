"""Slack answers that list memos: `/memo list`, `/memo status` and the App Home (with its
own Acknowledge / I've seen this buttons, handled in handlers/actions.py)."""

from __future__ import annotations

from bot.domain import Memo, MemoCounts, Retraction, RetractionCounts, memo_label, progress_bar
from bot.slack.blocks import button, clip, context, divider, escape, header, section, when
from bot.slack.channels import posted_in
from bot.slack.messages import STATE_WORDS, memo_status, retraction_status

ACKNOWLEDGE_FROM_HOME = "acknowledge_from_home"
SEEN_FROM_HOME = "seen_from_home"


def _state_words(memo: Memo) -> str:
    """A memo's state for a list line, with its time: "scheduled for <when>"."""
    word = STATE_WORDS[memo.state].lower()
    if memo.state == "scheduled" and memo.send_at:
        return f"scheduled for {when(memo.send_at)}"
    if memo.state == "held" and memo.held_until:
        return f"held (undo window) until {when(memo.held_until)}"
    if memo.never_sent and memo.stopped_by_name:
        return f"{word} by {escape(memo.stopped_by_name)}, never sent"
    return f"{word} {when(memo.created_at)}"


def memo_line(memo: Memo, counts: MemoCounts, rcounts: RetractionCounts | None = None) -> str:
    line = (
        f"*{memo_label(memo.id)}* {escape(clip(memo.title, 80))} · {_state_words(memo)}"
        f"\n{counts.delivered}/{counts.recipients} delivered"
    )
    if counts.failed:
        line += f" · {counts.failed} failed"
    if memo.ask_ack:
        line += f" · {counts.acknowledged} acknowledged"
    if counts.cancelled:
        line += f" · {counts.cancelled} cancelled"
    if rcounts is not None:
        line += f" · retraction: {rcounts.notified} notified, {rcounts.seen} seen, {rcounts.outstanding} outstanding"
    if posted_in(memo):
        line += f"\n{posted_in(memo)}"
    return line


def memo_list(
    items: list[tuple[Memo, MemoCounts, RetractionCounts | None]], everyone: bool
) -> tuple[str, list]:
    if not items:
        text = "There are no memos yet." if everyone else "You have not received any memos yet."
        return text, [section(text)]
    title = "Recent memos" if everyone else "Memos you received"
    blocks = [header(title)]
    for memo, counts, rcounts in items[:20]:
        blocks.append(section(memo_line(memo, counts, rcounts)))
    return title, blocks


def memo_status_answer(
    memo: Memo,
    counts: MemoCounts,
    retraction: Retraction | None,
    rcounts: RetractionCounts | None,
    seconds_left: int = 0,
) -> tuple[str, list]:
    text, blocks = memo_status(memo, counts, seconds_left)
    if retraction is not None and rcounts is not None:
        _, more = retraction_status(memo, retraction, rcounts)
        blocks = [*blocks, divider(), *more[1:]]
    return text, blocks


def home_view(
    *,
    role: str,
    awaiting: list,
    unconfirmed: list,
    received: list,
    overview: list | None,
) -> dict:
    blocks: list[dict] = [header("Errata")]
    if unconfirmed:
        blocks.append(section("*Retractions to confirm*"))
        for memo, notice in unconfirmed[:10]:
            blocks.append(
                section(
                    f":warning: *{memo_label(memo.id)}* {escape(clip(memo.title, 120))} was sent in error and retracted.",
                    accessory=button("I've seen this", SEEN_FROM_HOME, str(notice.id), "primary"),
                )
            )
    if awaiting:
        blocks.append(section("*Waiting for your acknowledgement*"))
        for memo, copy in awaiting[:10]:
            due = f" · by {when(memo.ack_deadline)}" if memo.ack_deadline else ""
            blocks.append(
                section(
                    f"*{memo_label(memo.id)}* {escape(clip(memo.title, 120))}{due}",
                    accessory=button("Acknowledge", ACKNOWLEDGE_FROM_HOME, str(copy.id), "primary"),
                )
            )
    if not unconfirmed and not awaiting:
        blocks.append(section(":white_check_mark: Nothing is waiting for you."))
    blocks.append(divider())
    blocks.append(section("*Your recent memos*"))
    if received:
        for memo, copy in received[:10]:
            state = (
                "retracted"
                if memo.state in ("retracting", "retracted")
                else (
                    "acknowledged"
                    if copy.acknowledged_at
                    else ("to acknowledge" if memo.ask_ack else "received")
                )
            )
            blocks.append(
                context(
                    f"*{memo_label(memo.id)}* {escape(clip(memo.title, 120))} · {state} · {when(copy.delivered_at)}"
                )
            )
    else:
        blocks.append(context("No memos yet."))
    if overview is not None:
        blocks.append(divider())
        blocks.append(section(f"*Recent memos* (you are {role})"))
        for memo, counts, rcounts in overview[:15]:
            blocks.append(section(memo_line(memo, counts, rcounts)))
            blocks.append(context(progress_bar(counts.settled, counts.recipients)))
    return {"type": "home", "blocks": blocks[:100]}
