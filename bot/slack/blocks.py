"""Every Block Kit surface Errata shows in Slack, built in one place.

Listeners and the adapter call these functions; nobody else writes block
dicts. Block and action IDs are the contract with the listeners (see the
constants below), labels are the contract with users (PRODUCT.md).
"""

from __future__ import annotations

from datetime import datetime

from bot.domain import (
    CORRECTIONS_LIMIT,
    MESSAGE_LIMIT,
    REASON_LIMIT,
    TITLE_LIMIT,
    Memo,
    MemoCounts,
    Retraction,
    RetractionCounts,
    memo_label,
    progress_bar,
)

# Callback, block and action IDs shared with the listeners.
COMPOSE = "compose_memo"
RETRACT = "retract_memo"
ACKNOWLEDGE = "acknowledge"
SEEN = "seen"
ACKNOWLEDGE_FROM_REMINDER = "acknowledge_from_reminder"
SEEN_FROM_REMINDER = "seen_from_reminder"
RETRACT_SHORTCUT = "retract_memo_shortcut"

TITLE, MESSAGE, PEOPLE, CHANNELS, GROUPS, EVERYONE, ASK_ACK, DEADLINE = (
    "title",
    "message",
    "people",
    "channels",
    "groups",
    "everyone",
    "ask_ack",
    "deadline",
)
MEMO, REASON, CORRECTIONS = "memo", "reason", "corrections"

HEADER_LIMIT = 150
SECTION_LIMIT = 3000


# ---------------------------------------------------------------- small pieces


def _plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> dict:
    return {"type": "header", "text": _plain(_clip(text, HEADER_LIMIT))}


def section(text: str, **extra) -> dict:
    return {"type": "section", "text": _mrkdwn(_clip(text, SECTION_LIMIT)), **extra}


def context(*texts: str) -> dict:
    return {"type": "context", "elements": [_mrkdwn(_clip(t, SECTION_LIMIT)) for t in texts[:10]]}


def divider() -> dict:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    element = {"type": "button", "text": _plain(text), "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def when(instant: datetime | None) -> str:
    """A Slack date token: shown in the reader's own time zone, ISO UTC as fallback."""
    if instant is None:
        return ""
    epoch = int(instant.timestamp())
    fallback = instant.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def escape(text: str) -> str:
    """Slack mrkdwn control characters, escaped as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, text: str) -> str:
    safe = escape(text).replace("|", "¦")
    return f"<{url}|{safe}>" if url else safe


def strike(text: str) -> str:
    return "\n".join(f"~{line}~" if line.strip() else line for line in text.splitlines())


# ---------------------------------------------------------------- modals


TEAMS_EVERYONE, TEAMS_GROUPS = "teams_everyone", "teams_groups"


def compose_modal(groups: list[dict], teams: list[dict] | None = None) -> dict:
    """The "New memo" modal. `groups` are the workspace's user groups (id, name);
    `teams`, when Teams is configured too, the Teams teams Errata is in."""
    blocks = [
        {
            "type": "input",
            "block_id": TITLE,
            "label": _plain("Title"),
            "element": {
                "type": "plain_text_input",
                "action_id": TITLE,
                "max_length": TITLE_LIMIT,
                "placeholder": _plain("What is this memo about?"),
            },
        },
        {
            "type": "input",
            "block_id": MESSAGE,
            "label": _plain("Message"),
            "hint": _plain(
                "Slack formatting (mrkdwn) works: *bold*, _italic_, <https://example.com|links>."
            ),
            "element": {
                "type": "plain_text_input",
                "action_id": MESSAGE,
                "multiline": True,
                "max_length": MESSAGE_LIMIT,
            },
        },
        {
            "type": "input",
            "block_id": PEOPLE,
            "optional": True,
            "label": _plain("People"),
            "element": {"type": "multi_users_select", "action_id": PEOPLE},
        },
        {
            "type": "input",
            "block_id": CHANNELS,
            "optional": True,
            "label": _plain("Members of channels"),
            "element": {
                "type": "multi_conversations_select",
                "action_id": CHANNELS,
                "filter": {"include": ["public", "private"], "exclude_bot_users": True},
            },
        },
    ]
    if groups:
        blocks.append(
            {
                "type": "input",
                "block_id": GROUPS,
                "optional": True,
                "label": _plain("User groups"),
                "element": {
                    "type": "multi_static_select",
                    "action_id": GROUPS,
                    "options": [
                        {"text": _plain(_clip(g["name"] or g["handle"], 75)), "value": g["id"]}
                        for g in groups[:100]
                    ],
                },
            }
        )
    blocks += [
        {
            "type": "input",
            "block_id": EVERYONE,
            "optional": True,
            "label": _plain("Everyone in the workspace"),
            "element": {
                "type": "checkboxes",
                "action_id": EVERYONE,
                "options": [
                    {
                        "text": _plain("Send to every active member"),
                        "description": _plain("Bots and deactivated accounts are left out."),
                        "value": "everyone",
                    }
                ],
            },
        },
        {
            "type": "input",
            "block_id": ASK_ACK,
            "optional": True,
            "label": _plain("Ask for acknowledgement"),
            "element": {
                "type": "checkboxes",
                "action_id": ASK_ACK,
                "options": [{"text": _plain("Add an Acknowledge button"), "value": "ask"}],
            },
        },
        {
            "type": "input",
            "block_id": DEADLINE,
            "optional": True,
            "label": _plain("Acknowledge by"),
            "element": {"type": "datetimepicker", "action_id": DEADLINE},
        },
    ]
    if teams is not None:
        after = next(n for n, b in enumerate(blocks) if b["block_id"] == EVERYONE) + 1
        blocks[after:after] = _teams_audience_inputs(teams)
    return {
        "type": "modal",
        "callback_id": COMPOSE,
        "title": _plain("New memo"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "blocks": blocks,
    }


def _teams_audience_inputs(teams: list[dict]) -> list[dict]:
    """One memo can reach Teams too: everyone with the app there, or chosen teams."""
    inputs = [
        {
            "type": "input",
            "block_id": TEAMS_EVERYONE,
            "optional": True,
            "label": _plain("Teams: everyone with the app"),
            "element": {
                "type": "checkboxes",
                "action_id": TEAMS_EVERYONE,
                "options": [{"text": _plain("Also send in Microsoft Teams"), "value": "everyone"}],
            },
        }
    ]
    if teams:
        inputs.append(
            {
                "type": "input",
                "block_id": TEAMS_GROUPS,
                "optional": True,
                "label": _plain("Teams: members of teams"),
                "element": {
                    "type": "multi_static_select",
                    "action_id": TEAMS_GROUPS,
                    "options": [
                        {"text": _plain(_clip(t["name"] or t["id"], 75)), "value": t["id"][:150]}
                        for t in teams[:100]
                    ],
                },
            }
        )
    return inputs


def retract_modal(memo: Memo | None, choices: list[Memo], reason: str = "") -> dict:
    """The "Retract memo" modal: for `memo` when known, else with a picker of `choices`."""
    blocks: list[dict] = []
    if memo is not None:
        blocks.append(
            section(
                f"*{memo_label(memo.id)}: {escape(memo.title)}*\nSent {when(memo.created_at)}"
                f" by {mention(memo.sender_id)}. Everyone who received it will get a"
                " retraction notice, and their copy will be marked as retracted."
            )
        )
    else:
        blocks.append(
            {
                "type": "input",
                "block_id": MEMO,
                "label": _plain("Memo"),
                "element": {
                    "type": "static_select",
                    "action_id": MEMO,
                    "options": [
                        {
                            "text": _plain(_clip(f"{memo_label(m.id)}: {m.title}", 75)),
                            "value": str(m.id),
                        }
                        for m in choices[:100]
                    ],
                },
            }
        )
    reason_element = {
        "type": "plain_text_input",
        "action_id": REASON,
        "multiline": True,
        "max_length": REASON_LIMIT,
        "placeholder": _plain("Why is this memo being retracted?"),
    }
    if reason:
        reason_element["initial_value"] = reason[:REASON_LIMIT]
    blocks += [
        {
            "type": "input",
            "block_id": REASON,
            "label": _plain("Reason"),
            "element": reason_element,
        },
        {
            "type": "input",
            "block_id": CORRECTIONS,
            "optional": True,
            "label": _plain("Corrected instructions"),
            "element": {
                "type": "plain_text_input",
                "action_id": CORRECTIONS,
                "multiline": True,
                "max_length": CORRECTIONS_LIMIT,
                "placeholder": _plain("What should people do instead? (optional)"),
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": RETRACT,
        "private_metadata": str(memo.id) if memo else "",
        "title": _plain("Retract memo"),
        "submit": _plain("Retract"),
        "close": _plain("Cancel"),
        "blocks": blocks,
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
    blocks = [
        header(f"Retraction: {memo.title}"),
        section(
            f":warning: *A memo you received was sent in error and has been retracted.*\n"
            f"*Memo:* {link(original_url, memo.title)} ({memo_label(memo.id)})\n"
            f"*Sent:* {when(memo.created_at)} by {mention(memo.sender_id)}\n"
            f"*Retracted:* {when(retraction.retracted_at)} by {mention(retraction.retracted_by)}"
        ),
        section(f"*Reason*\n{escape(retraction.reason)}"),
    ]
    if retraction.corrections:
        blocks.append(section(f"*Corrected instructions*\n{retraction.corrections}"))
    else:
        blocks.append(section("*Please disregard the original memo.*"))
    blocks.append(_seen_or_button(seen_at, SEEN, notice_id))
    text = f"RETRACTED: {memo_label(memo.id)} {memo.title}: {retraction.reason}"
    return _clip(text, 3000), blocks


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
                _mrkdwn(f"*Notified*\n{counts.notified}"),
                _mrkdwn(f"*Seen*\n{counts.seen}"),
                _mrkdwn(f"*Outstanding*\n{counts.outstanding}"),
                _mrkdwn(f"*Retracted by*\n{mention(retraction.retracted_by)}"),
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


def memo_status(memo: Memo, counts: MemoCounts) -> tuple[str, list]:
    settled = counts.settled
    state = {
        "sending": "Sending",
        "sent": "Sent",
        "retracting": "Retracting",
        "retracted": "Retracted",
    }[memo.state]
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
        {"type": "section", "fields": [_mrkdwn(f) for f in fields]},
    ]
    if memo.state != "sending" and counts.recipients == 0:
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
        {"type": "section", "fields": [_mrkdwn(f) for f in fields]},
        context(
            f"Retracted {when(retraction.retracted_at)} by {mention(retraction.retracted_by)}"
            f" · Reason: {escape(_clip(retraction.reason, 300))}"
        ),
    ]
    text = (
        f"Retraction of {memo_label(memo.id)}: {counts.notified} notified, {counts.seen} seen,"
        f" {counts.outstanding} outstanding"
    )
    return text, blocks


# ---------------------------------------------------------------- lists, status, App Home

ACKNOWLEDGE_FROM_HOME = "acknowledge_from_home"
SEEN_FROM_HOME = "seen_from_home"

_STATE_WORDS = {
    "sending": "sending",
    "sent": "sent",
    "retracting": "retracting",
    "retracted": "retracted",
}


def memo_line(memo: Memo, counts: MemoCounts, rcounts: RetractionCounts | None = None) -> str:
    line = (
        f"*{memo_label(memo.id)}* {escape(_clip(memo.title, 80))} · {_STATE_WORDS[memo.state]}"
        f" {when(memo.created_at)}\n{counts.delivered}/{counts.recipients} delivered"
    )
    if counts.failed:
        line += f" · {counts.failed} failed"
    if memo.ask_ack:
        line += f" · {counts.acknowledged} acknowledged"
    if counts.cancelled:
        line += f" · {counts.cancelled} cancelled"
    if rcounts is not None:
        line += f" · retraction: {rcounts.notified} notified, {rcounts.seen} seen, {rcounts.outstanding} outstanding"
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
    memo: Memo, counts: MemoCounts, retraction: Retraction | None, rcounts: RetractionCounts | None
) -> tuple[str, list]:
    text, blocks = memo_status(memo, counts)
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
                    f":warning: *{memo_label(memo.id)}* {escape(_clip(memo.title, 120))} was sent in error and retracted.",
                    accessory=button("I've seen this", SEEN_FROM_HOME, str(notice.id), "primary"),
                )
            )
    if awaiting:
        blocks.append(section("*Waiting for your acknowledgement*"))
        for memo, copy in awaiting[:10]:
            due = f" · by {when(memo.ack_deadline)}" if memo.ack_deadline else ""
            blocks.append(
                section(
                    f"*{memo_label(memo.id)}* {escape(_clip(memo.title, 120))}{due}",
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
                    f"*{memo_label(memo.id)}* {escape(_clip(memo.title, 120))} · {state} · {when(copy.delivered_at)}"
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
