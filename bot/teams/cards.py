"""Every Adaptive Card Errata shows in Teams, built in one place (Teams' blocks.py).

Labels match the Slack surfaces (PRODUCT.md); verbs and input IDs are the
contract with handlers/teams.py. Times are written with Adaptive Cards' DATE
and TIME functions, so each reader sees their own time zone.
"""

from __future__ import annotations

from datetime import datetime

from microsoft_teams.cards import (
    AdaptiveCard,
    Choice,
    ChoiceSetInput,
    DateInput,
    ExecuteAction,
    Fact,
    FactSet,
    RefreshDefinition,
    RichTextBlock,
    SubmitAction,
    SubmitActionData,
    TaskFetchSubmitActionData,
    TextBlock,
    TextInput,
    TextRun,
    TimeInput,
    ToggleInput,
)

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
from bot.pacing import time_to_finish

# Verbs of Action.Execute buttons (and of a card's refresh), and what a dialog submits.
ACKNOWLEDGE, SEEN, REFRESH = "acknowledge", "seen", "refresh"
COMPOSE, RETRACT = "compose", "retract"
APPROVE, UNDO, REJECT = "approve", "undo", "reject"


def when(instant: datetime | None) -> str:
    if instant is None:
        return ""
    stamp = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{{{{DATE({stamp}, SHORT)}}}} {{{{TIME({stamp})}}}}"


def _text(text: str, **style) -> TextBlock:
    return TextBlock(text=text, wrap=True, **style)


def _card(*body, actions=None, refresh=None) -> AdaptiveCard:
    return AdaptiveCard(
        body=[b for b in body if b is not None], actions=actions or None, refresh=refresh
    )


def _refresh(user_id: str | None, **data) -> RefreshDefinition | None:
    """Universal Actions' `refresh`: when the card is shown, the person's Teams client
    invokes adaptiveCard/action with this verb and shows the card the bot answers, so a
    copy whose message cannot be edited (its send was never confirmed) still shows what
    the store says. `userIds` lists who it runs for automatically (at most 60 user MRIs;
    `[]` would turn it off), here the one recipient's 29: ID."""
    if not user_id:
        return None
    return RefreshDefinition(action=ExecuteAction(verb=REFRESH, data=data), user_ids=[user_id])


def _execute(title: str, verb: str, **data) -> ExecuteAction:
    return ExecuteAction(title=title, verb=verb, data=data, style="positive")


def _dialog_button(title: str, **data) -> SubmitAction:
    """A button that opens a dialog (task module) in Teams."""
    return SubmitAction(
        title=title,
        data=SubmitActionData(
            msteams=TaskFetchSubmitActionData().model_dump(by_alias=True, exclude_none=True), **data
        ),
    )


def _facts(*pairs) -> FactSet:
    return FactSet(facts=[Fact(title=t, value=v) for t, v in pairs if v])


# ---------------------------------------------------------------- the memo as received


def memo_card(
    memo: Memo,
    copy_id: int,
    acknowledged_at: datetime | None = None,
    refresh_for: str | None = None,
) -> AdaptiveCard:
    """A person's copy of the memo; `refresh_for`: their Teams user ID (29:...)."""
    facts = _facts(
        ("Memo", memo_label(memo.id)),
        ("Sent", when(memo.created_at)),
        ("Acknowledge by", when(memo.ack_deadline)),
    )
    done = (
        _text(f"✅ You acknowledged this {when(acknowledged_at)}.", color="Good")
        if acknowledged_at
        else None
    )
    actions = (
        [_execute("Acknowledge", ACKNOWLEDGE, copy_id=copy_id)]
        if memo.ask_ack and not acknowledged_at
        else None
    )
    return _card(
        _text(memo.title, size="Large", weight="Bolder"),
        _text(memo.body),
        facts,
        done,
        actions=actions,
        refresh=_refresh(refresh_for, copy_id=copy_id),
    )


def retracted_card(memo: Memo, retraction: Retraction, show_body: bool) -> AdaptiveCard:
    body = (
        RichTextBlock(inlines=[TextRun(text=memo.body, strikethrough=True)])
        if show_body
        else _text("_The original message has been withdrawn._", is_subtle=True)
    )
    return _card(
        _text("RETRACTED: sent in error", size="Large", weight="Bolder", color="Attention"),
        RichTextBlock(inlines=[TextRun(text=memo.title, strikethrough=True, weight="Bolder")]),
        _text(f"Retracted {when(retraction.retracted_at)}. **Reason:** {retraction.reason}"),
        body,
        _text("A retraction notice has been sent to you in this chat.", is_subtle=True),
    )


# ---------------------------------------------------------------- the retraction notice and reminders


def notice_card(
    memo: Memo,
    retraction: Retraction,
    notice_id: int,
    seen_at: datetime | None = None,
    note: str | None = None,
) -> AdaptiveCard:
    """`note`: a word to this one reader (the author of a tracked post is asked to remove
    it)."""
    corrections = (
        _text(f"**Corrected instructions**\n\n{retraction.corrections}")
        if retraction.corrections
        else _text("**Please disregard the original memo.**")
    )
    seen = (
        _text(f"✅ You confirmed you have seen this {when(seen_at)}.", color="Good")
        if seen_at
        else None
    )
    return _card(
        _text(f"Retraction: {memo.title}", size="Large", weight="Bolder", color="Attention"),
        _text("⚠️ **A memo you received was sent in error and has been retracted.**"),
        _facts(
            ("Memo", f"{memo.title} ({memo_label(memo.id)})"),
            ("Sent", when(memo.created_at)),
            ("Retracted", when(retraction.retracted_at)),
        ),
        _text(f"**Reason**\n\n{retraction.reason}"),
        corrections,
        _text(note) if note else None,
        seen,
        actions=None if seen_at else [_execute("I've seen this", SEEN, notice_id=notice_id)],
    )


def retraction_reminder_card(
    memo: Memo,
    retraction: Retraction,
    notice_id: int,
    number: int,
    seen_at: datetime | None = None,
    where: str | None = None,
) -> AdaptiveCard:
    """`where`: the channel whose thread holds the notice, when it was posted there."""
    seen = (
        _text(f"✅ You confirmed you have seen this {when(seen_at)}.", color="Good")
        if seen_at
        else None
    )
    return _card(
        _text(
            f"Reminder: {memo.title} was retracted",
            size="Large",
            weight="Bolder",
            color="Attention",
        ),
        _text(
            f"{memo_label(memo.id)}, sent {when(memo.created_at)}, was **sent in error** and retracted"
            f" {when(retraction.retracted_at)}. **Reason:** {retraction.reason}\n\n"
            + (
                f"Read the retraction notice in the thread of the memo in {where} and confirm"
                " you have seen it (here or there)."
                if where
                else "Read the retraction notice above in this chat and confirm you have seen it."
            )
        ),
        _text(f"Reminder {number}", is_subtle=True) if number else None,
        seen,
        actions=None
        if seen_at
        else [_execute("I've seen this", SEEN, notice_id=notice_id, reminder=True)],
    )


def acknowledgement_reminder_card(
    memo: Memo,
    copy_id: int,
    acknowledged_at: datetime | None = None,
    refresh_for: str | None = None,
) -> AdaptiveCard:
    by = f" by {when(memo.ack_deadline)}" if memo.ack_deadline else ""
    done = (
        _text(f"✅ You acknowledged this {when(acknowledged_at)}.", color="Good")
        if acknowledged_at
        else None
    )
    return _card(
        _text(f"Reminder: please acknowledge {memo.title}", size="Large", weight="Bolder"),
        _text(f"{memo_label(memo.id)} asks you to acknowledge it{by}."),
        done,
        actions=None
        if acknowledged_at
        else [_execute("Acknowledge", ACKNOWLEDGE, copy_id=copy_id, reminder=True)],
        refresh=_refresh(refresh_for, copy_id=copy_id, reminder=True),
    )


def escalation_card(
    memo: Memo, retraction: Retraction, people: list[str], counts: RetractionCounts, reminders: int
) -> AdaptiveCard:
    names = ", ".join(p.split(":", 1)[-1] for p in people[:60])
    if len(people) > 60:
        names += f" and {len(people) - 60} more"
    return _card(
        _text(
            f"Not confirmed: retraction of {memo_label(memo.id)}",
            size="Large",
            weight="Bolder",
            color="Attention",
        ),
        _text(
            f"**{len(people)}** people have still not confirmed they have seen the retraction of"
            f" **{memo.title}** ({memo_label(memo.id)}), after {reminders} reminders."
        ),
        _facts(
            ("Notified", str(counts.notified)),
            ("Seen", str(counts.seen)),
            ("Outstanding", str(counts.outstanding)),
        ),
        _text(f"**Still to confirm:** {names}"),
        _text(f"`memo report {memo_label(memo.id)}` lists every recipient.", is_subtle=True),
    )


# ---------------------------------------------------------------- live status


def decision_text(memo: Memo) -> str | None:
    """Who decided a memo's approval, and when ("Approved by Ana at 10:42 UTC")."""
    if not memo.decision or memo.decided_at is None:
        return None
    line = f"{memo.decision.capitalize()} by {memo.decided_by_name} at {memo.decided_at:%H:%M} UTC"
    return line + (f": {memo.decision_reason}" if memo.decision_reason else "")


def _before_sending(memo: Memo, counts: MemoCounts, seconds_left: int) -> list:
    """What the sender's status card says while (or since) nothing could go out."""
    who = memo.stopped_by_name or ""
    at = f"{memo.stopped_at:%H:%M} UTC" if memo.stopped_at else ""
    lines = {
        "awaiting approval": "⏳ Waiting for another member of comms staff to approve it"
        f" ({counts.recipients} recipients). Nothing goes out before then.",
        "scheduled": f"📅 Scheduled to go out {when(memo.send_at)}.",
        "held": f"⏱️ Goes out in **{seconds_left} s**. Undo now and nobody gets it.",
        "rejected": f"⛔ **Rejected by {memo.decided_by_name} at {at}**:"
        f" {memo.decision_reason or ''} It reached no one.",
        "undone": f"↩️ **Undone by {who} at {at}**: it reached no one.",
        "cancelled": f"❌ **Retracted before its time by {who} at {at}**: it reached no one,"
        " and nobody needed a notice.",
    }
    shown = [_text(lines[memo.state])] if memo.state in lines else []
    decided = decision_text(memo)
    if decided and memo.state != "rejected":
        shown.append(_text(f"✅ {decided}", is_subtle=True))
    return shown


def memo_status_card(memo: Memo, counts: MemoCounts, seconds_left: int = 0) -> AdaptiveCard:
    state = memo.state.capitalize()
    actions = None
    if memo.state in ("sending", "sent"):
        actions = [_dialog_button("Retract memo", dialog=RETRACT, memo=memo.id)]
    elif memo.state == "held":
        actions = [ExecuteAction(title="Undo", verb=UNDO, data={"memo": memo.id})]
    elif memo.state in ("scheduled", "awaiting approval"):
        actions = [_dialog_button("Retract memo", dialog=RETRACT, memo=memo.id)]
    return _card(
        _text(f"{memo_label(memo.id)}: {memo.title}", size="Large", weight="Bolder"),
        *_before_sending(memo, counts, seconds_left),
        _text(f"**{state}** · {progress_bar(counts.settled, counts.recipients)}"),
        _facts(
            ("Recipients", str(counts.recipients)),
            ("Delivered", str(counts.delivered)),
            ("Failed", str(counts.failed)),
            ("Still to send", str(counts.pending)),
            (
                "Acknowledged",
                f"{counts.acknowledged} of {counts.delivered}" if memo.ask_ack else "",
            ),
            ("Cancelled", str(counts.cancelled) if counts.cancelled else ""),
        ),
        actions=actions,
    )


def audience_text(memo: Memo) -> str:
    parts = []
    for audience in memo.audiences:
        on = f" ({audience.platform.title()})"
        if audience.everyone:
            parts.append("everyone" + on)
        if audience.people:
            parts.append(f"{len(audience.people)} people" + on)
        if audience.channels:
            parts.append(f"{len(audience.channels)} channel(s)" + on)
        if audience.groups:
            parts.append(f"{len(audience.groups)} team(s) or group(s)" + on)
        if audience.posts:
            parts.append(f"posted in {len(audience.posts)} channel(s)" + on)
    return "; ".join(parts) or "nobody"


def approval_card(memo: Memo, sender_name: str, recipients: int) -> AdaptiveCard:
    """A member of comms staff is asked to approve a memo: the memo exactly as recipients
    will see it, its audience and size, Approve (Action.Execute) and Reject (a dialog for
    the reason); once decided, who decided and when, with no buttons."""
    as_seen = memo_card(memo, 0)
    decided = decision_text(memo)
    actions = None
    if not decided and memo.state == "awaiting approval":
        actions = [
            _execute("Approve", APPROVE, memo=memo.id),
            _dialog_button("Reject", dialog=REJECT, memo=memo.id),
        ]
    ending = _text(f"**{decided}**" if decided else f"**{memo.state.capitalize()}**")
    return _card(
        _text(f"👀 {sender_name} asks you to approve {memo_label(memo.id)} before it goes out."),
        _facts(
            ("Audience", audience_text(memo)),
            ("Recipients", str(recipients)),
            ("Send at", when(memo.send_at)),
        ),
        *as_seen.body,
        _text("Recipients get an Acknowledge button here.", is_subtle=True)
        if memo.ask_ack
        else None,
        ending if decided or memo.state != "awaiting approval" else None,
        actions=actions,
    )


def reject_dialog(memo: Memo, errors: dict[str, str] | None = None) -> AdaptiveCard:
    """ "Reject memo": the reason its sender will read."""
    errors = errors or {}
    return _card(
        _text("Reject memo", size="Large", weight="Bolder"),
        _text(f"{memo_label(memo.id)}: {memo.title}. Rejected, it reaches no one."),
        TextInput(
            id="reason",
            label="Reason",
            is_multiline=True,
            max_length=REASON_LIMIT,
            is_required=True,
        ),
        _text(f"⚠️ {errors['reason']}", color="Attention") if "reason" in errors else None,
        actions=[SubmitAction(title="Reject", data=SubmitActionData(dialog=REJECT, memo=memo.id))],
    )


def retraction_status_card(
    memo: Memo, retraction: Retraction, counts: RetractionCounts
) -> AdaptiveCard:
    state = "Retracted" if memo.state == "retracted" else "Retracting"
    return _card(
        _text(f"Retraction of {memo_label(memo.id)}: {memo.title}", size="Large", weight="Bolder"),
        _text(
            f"**{state}** · notices {progress_bar(counts.notified + counts.failed, counts.to_notify)}"
        ),
        _facts(
            ("Notified", f"{counts.notified} of {counts.to_notify}"),
            ("Failed", str(counts.failed)),
            ("Seen", str(counts.seen)),
            ("Outstanding", str(counts.outstanding)),
            ("Originals edited", f"{counts.edits_done} of {counts.edits_total}"),
            ("Copies cancelled", str(counts.cancelled)),
        ),
        _text(f"Reason: {retraction.reason}", is_subtle=True),
    )


def finish_estimate(seconds: float, per_minute: float) -> TextBlock:
    """The time to finish at the learned rate, under a status card."""
    return _text(time_to_finish(seconds, per_minute), is_subtle=True)


# ---------------------------------------------------------------- dialogs and answers


def compose_dialog(
    *,
    teams: list[dict],
    other_platforms: dict[str, list[dict]],
    errors: dict[str, str] | None = None,
    values: dict | None = None,
    channels: list[dict] | None = None,
) -> AdaptiveCard:
    """The "New memo" form, with the Slack modal's labels. `other_platforms`: when Slack
    is configured too, its user groups (so one memo can reach both). `channels`: the
    channels of teams the app is installed in ({id, name}), for "Post in channels"."""
    errors = errors or {}
    values = values or {}

    def error(field: str):
        return _text(f"⚠️ {errors[field]}", color="Attention") if field in errors else None

    body = [
        _text("New memo", size="Large", weight="Bolder"),
        TextInput(
            id="title",
            label="Title",
            max_length=TITLE_LIMIT,
            is_required=True,
            value=values.get("title"),
        ),
        error("title"),
        TextInput(
            id="message",
            label="Message",
            is_multiline=True,
            max_length=MESSAGE_LIMIT,
            is_required=True,
            value=values.get("message"),
        ),
        error("message"),
        ChoiceSetInput(
            id="people",
            label="People",
            is_multi_select=True,
            style="filtered",
            choices=[],
            choices_data={"type": "Data.Query", "dataset": "graph.microsoft.com/users"},
            value=values.get("people"),
        ),
        error("people"),
    ]
    if teams:
        body.append(
            ChoiceSetInput(
                id="teams",
                label="Members of teams",
                is_multi_select=True,
                choices=[Choice(title=t["name"] or t["id"], value=t["id"]) for t in teams[:100]],
                value=values.get("teams"),
            )
        )
    if channels:
        body.append(
            ChoiceSetInput(
                id="post_channels",
                label="Post in channels",
                is_multi_select=True,
                choices=[Choice(title=c["name"] or c["id"], value=c["id"]) for c in channels[:100]],
                value=values.get("post_channels"),
            )
        )
    body.append(error("post_channels"))
    body.append(
        ToggleInput(
            id="everyone",
            label="Everyone with the app",
            title="Send to everyone who has Errata in Teams",
            value=values.get("everyone", "false"),
        )
    )
    if "slack" in other_platforms:
        body.append(
            ToggleInput(
                id="slack_everyone",
                label="Slack: everyone in the workspace",
                title="Also send to every active member of the Slack workspace",
                value=values.get("slack_everyone", "false"),
            )
        )
        groups = other_platforms["slack"]
        if groups:
            body.append(
                ChoiceSetInput(
                    id="slack_groups",
                    label="Slack: user groups",
                    is_multi_select=True,
                    choices=[
                        Choice(title=g["name"] or g["handle"], value=g["id"]) for g in groups[:100]
                    ],
                    value=values.get("slack_groups"),
                )
            )
    body += [
        ToggleInput(
            id="ask_ack",
            label="Ask for acknowledgement",
            title="Add an Acknowledge button",
            value=values.get("ask_ack", "false"),
        ),
        DateInput(id="deadline_date", label="Acknowledge by", value=values.get("deadline_date")),
        error("deadline_date"),
        TimeInput(
            id="deadline_time", label="Acknowledge by (time)", value=values.get("deadline_time")
        ),
        error("deadline_time"),
        error("deadline"),
        DateInput(id="send_at_date", label="Send at", value=values.get("send_at_date")),
        error("send_at_date"),
        TimeInput(id="send_at_time", label="Send at (time)", value=values.get("send_at_time")),
        error("send_at_time"),
        error("send_at"),
    ]
    return _card(*body, actions=[SubmitAction(title="Send", data=SubmitActionData(dialog=COMPOSE))])


def retract_dialog(
    memo: Memo | None,
    choices: list[Memo],
    *,
    reason: str = "",
    errors: dict[str, str] | None = None,
) -> AdaptiveCard:
    errors = errors or {}
    body: list = [_text("Retract memo", size="Large", weight="Bolder")]
    if memo is not None:
        body.append(
            _text(
                f"**{memo_label(memo.id)}: {memo.title}**, sent {when(memo.created_at)}. Everyone who"
                " received it will get a retraction notice, and their copy will be marked as retracted."
            )
        )
    else:
        body.append(
            ChoiceSetInput(
                id="memo",
                label="Memo",
                is_required=True,
                choices=[
                    Choice(title=f"{memo_label(m.id)}: {m.title}"[:75], value=str(m.id))
                    for m in choices[:100]
                ],
            )
        )
    if "memo" in errors:
        body.append(_text(f"⚠️ {errors['memo']}", color="Attention"))
    body.append(
        TextInput(
            id="reason",
            label="Reason",
            is_multiline=True,
            is_required=True,
            max_length=REASON_LIMIT,
            value=reason or None,
        )
    )
    if "reason" in errors:
        body.append(_text(f"⚠️ {errors['reason']}", color="Attention"))
    body.append(
        TextInput(
            id="corrections",
            label="Corrected instructions",
            is_multiline=True,
            max_length=CORRECTIONS_LIMIT,
        )
    )
    data = {"dialog": RETRACT}
    if memo is not None:
        data["memo"] = memo.id
    return _card(*body, actions=[SubmitAction(title="Retract", data=SubmitActionData(**data))])


def open_dialog_card(text: str, button: str, **data) -> AdaptiveCard:
    """A reply with one button that opens a dialog (Teams opens dialogs from a card)."""
    return _card(_text(text), actions=[_dialog_button(button, **data)])


def text_card(*lines: str) -> AdaptiveCard:
    return _card(*(_text(line) for line in lines))
