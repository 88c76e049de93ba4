"""Buttons in memos, notices and reminders: Acknowledge, I've seen this."""

from __future__ import annotations

from slack_bolt import App

from bot.core import Refusal
from bot.slack import SLACK, home, messages, modals, texts
from handlers.events import publish_home
from handlers.forms import open_form


def register(app: App) -> None:
    app.action(messages.ACKNOWLEDGE)(acknowledge_clicked)
    app.action(messages.ACKNOWLEDGE_FROM_REMINDER)(acknowledge_clicked)
    app.action(messages.SEEN)(seen_clicked)
    app.action(messages.SEEN_FROM_REMINDER)(seen_clicked)
    app.action(home.ACKNOWLEDGE_FROM_HOME)(acknowledge_in_home)
    app.action(home.SEEN_FROM_HOME)(seen_in_home)
    app.action(messages.APPROVE)(approve_clicked)
    app.action(messages.REJECT)(reject_clicked)
    app.action(messages.UNDO)(undo_clicked)


def _clicked(body) -> tuple[str, int | None]:
    action = (body.get("actions") or [{}])[0]
    value = action.get("value") or ""
    is_id = isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 16
    return action.get("action_id", ""), int(value) if is_id else None


def _record(ack, body, client, respond, record, refusals):
    """Acknowledge the request, record the click; on refusal tell the clicker privately."""
    ack()
    action_id, item_id = _clicked(body)
    user = body["user"]["id"]
    click = record(item_id, user, SLACK) if item_id else None
    outcome = click.outcome if click else "unknown"
    if outcome in ("recorded", "already"):
        return action_id, item_id, click
    _tell(body, client, respond, refusals[outcome])
    return action_id, item_id, None


def _tell(body, client, respond, text: str) -> None:
    """A private answer: in place of the click when Slack gave a response_url (messages),
    otherwise (a click from a view, which has none) as a DM from the bot."""
    if body.get("response_url"):
        respond(replace_original=False, response_type="ephemeral", text=text)
    else:
        client.chat_postMessage(channel=body["user"]["id"], text=text)


def _show(body, respond, text: str, view: list, elsewhere) -> None:
    """Update the message that was clicked; a click from a view (no response_url)
    updates the person's DM copy through the platform instead."""
    if body.get("response_url"):
        respond(replace_original=True, text=text, blocks=view)
    else:
        elsewhere()


def acknowledge_clicked(ack, body, client, respond, context):
    core = context["core"]
    action_id, copy_id, click = _record(
        ack, body, client, respond, core.acknowledge, texts.ACK_REFUSED
    )
    if click is None:
        return
    memo, copy = core.answers.copy(copy_id)
    slack = core.extras(SLACK)
    if action_id == messages.ACKNOWLEDGE_FROM_REMINDER:
        text, view = messages.acknowledgement_reminder(
            memo, copy_id, slack.permalink(copy.channel, copy.ts), click.at
        )
    else:
        text, view = messages.memo_message(memo, copy_id, acknowledged_at=click.at)
    _show(body, respond, text, view, lambda: slack.show_acknowledged(memo, copy, click.at))


def seen_clicked(ack, body, client, respond, context):
    core = context["core"]
    action_id, notice_id, click = _record(
        ack, body, client, respond, core.mark_seen, texts.SEEN_REFUSED
    )
    if click is None:
        return
    memo, retraction, copy, notice = core.answers.notice(notice_id)
    slack = core.extras(SLACK)
    if action_id == messages.SEEN_FROM_REMINDER:
        text, view = messages.retraction_reminder(
            memo,
            retraction,
            notice_id,
            slack.permalink(notice.channel, notice.ts),
            0,
            seen_at=click.at,
        )
    else:
        text, view = messages.notice_message(
            memo, retraction, notice_id, slack.permalink(copy.channel, copy.ts), seen_at=click.at
        )
    _show(
        body, respond, text, view, lambda: slack.show_seen(memo, retraction, copy, notice, click.at)
    )


def acknowledge_in_home(ack, body, client, context):
    """Acknowledge from the App Home: record it, show it on the DM copy, refresh the Home."""
    ack()
    core = context["core"]
    user = body["user"]["id"]
    _, copy_id = _clicked(body)
    click = core.acknowledge(copy_id, user, SLACK) if copy_id else None
    if click and click.outcome == "recorded":
        memo, copy = core.answers.copy(copy_id)
        core.extras(SLACK).show_acknowledged(memo, copy, click.at)
    publish_home(core, client, user)


def seen_in_home(ack, body, client, context):
    ack()
    core = context["core"]
    user = body["user"]["id"]
    _, notice_id = _clicked(body)
    click = core.mark_seen(notice_id, user, SLACK) if notice_id else None
    if click and click.outcome == "recorded":
        memo, retraction, copy, notice = core.answers.notice(notice_id)
        core.extras(SLACK).show_seen(memo, retraction, copy, notice, click.at)
    publish_home(core, client, user)


# ---------------------------------------------------------------- sending safely


def approve_clicked(ack, body, client, respond, context):
    """Approve on an approval request: only comms staff, never the memo's sender (a
    forwarded message or a forged payload is refused and audited); the first decision
    wins and every approver's request shows it."""
    ack()
    core = context["core"]
    _, memo_id = _clicked(body)
    decided = core.approve(memo_id or 0, SLACK, body["user"]["id"])
    if isinstance(decided, Refusal):
        _tell(body, client, respond, decided.message)


def reject_clicked(ack, body, client, respond, context):
    """Reject asks for a reason first (a modal); the decision is made on its submit."""
    ack()
    core = context["core"]
    _, memo_id = _clicked(body)
    found = core.may_decide(memo_id or 0, SLACK, body["user"]["id"])
    if isinstance(found, Refusal):
        _tell(body, client, respond, found.message)
        return
    open_form(client, respond, body.get("trigger_id"), modals.reject_modal(found))


def undo_clicked(ack, body, client, respond, context):
    """Undo on the sender's status message, inside the undo window."""
    ack()
    core = context["core"]
    _, memo_id = _clicked(body)
    undone = core.undo(memo_id or 0, SLACK, body["user"]["id"])
    if isinstance(undone, Refusal):
        _tell(body, client, respond, undone.message)
