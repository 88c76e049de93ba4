"""Channel announcements: Acknowledge and I've seen this clicked on a channel post or
its retraction notice (any member may click; each is answered privately), and the
"Track as memo" message shortcut with its form."""

from __future__ import annotations

import json

from slack_bolt import App

from bot.core import Refusal
from bot.domain import MESSAGE_LIMIT
from bot.slack import SLACK, channels, texts
from handlers.forms import open_form


def register(app: App) -> None:
    app.action(channels.CHANNEL_ACKNOWLEDGE)(acknowledge_in_channel)
    app.action(channels.CHANNEL_SEEN)(seen_in_channel)
    app.shortcut(channels.TRACK_SHORTCUT)(track_shortcut)
    app.view(channels.TRACK_SHORTCUT)(track_submitted)


def _post_id(body) -> int | None:
    value = ((body.get("actions") or [{}])[0]).get("value") or ""
    ok = isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 16
    return int(value) if ok else None


def _answer(respond, text: str) -> None:
    """Only the clicker sees it: the post itself is everyone's."""
    respond(replace_original=False, response_type="ephemeral", text=text)


def acknowledge_in_channel(ack, body, respond, context):
    ack()
    core = context["core"]
    post_id = _post_id(body)
    click = core.channels.acknowledge(post_id, body["user"]["id"], SLACK) if post_id else None
    outcome = click.outcome if click else "unknown"
    if outcome in ("recorded", "already"):
        memo = core.answers.memo(click.memo_id)
        label = memo.label if memo else "this memo"
        _answer(respond, channels.acknowledged_text(label, click.at))
        return
    _answer(respond, channels.CLICK_REFUSED.get(outcome) or texts.ACK_REFUSED[outcome])


def seen_in_channel(ack, body, respond, context):
    ack()
    core = context["core"]
    post_id = _post_id(body)
    click = core.channels.seen(post_id, body["user"]["id"], SLACK) if post_id else None
    outcome = click.outcome if click else "unknown"
    if outcome in ("recorded", "already"):
        _answer(respond, channels.seen_text(click.at))
        return
    _answer(respond, channels.CLICK_REFUSED.get(outcome) or texts.SEEN_REFUSED[outcome])


def track_shortcut(ack, body, client, respond, context):
    """ "Track as memo" on a person's post in a channel: comms staff only (others are
    refused privately and audited); opens the form asking for a title."""
    ack()
    core = context["core"]
    user = body["user"]["id"]
    if not core.may_send(SLACK, user):
        core.deny(SLACK, user, "track as memo")
        respond(response_type="ephemeral", text=channels.TRACK_NOT_COMMS_STAFF)
        return
    channel = (body.get("channel") or {}).get("id") or ""
    message = body.get("message") or {}
    ts = message.get("ts") or body.get("message_ts") or ""
    author = message.get("user") or ""
    text = message.get("text") or ""
    if channel[:1] not in ("C", "G") or not author or not ts:
        respond(response_type="ephemeral", text=channels.TRACK_WHERE)
        return
    if len(text) > MESSAGE_LIMIT:
        respond(response_type="ephemeral", text=channels.track_too_long(len(text)))
        return
    view = channels.track_modal(channel, ts, author, text)
    view["private_metadata"] = json.dumps({"c": channel, "ts": ts, "a": author, "t": text})
    open_form(client, respond, body.get("trigger_id"), view)


def track_submitted(ack, body, view, context):
    core = context["core"]
    user = body["user"]["id"]
    if not core.may_send(SLACK, user):
        core.deny(SLACK, user, "track as memo")
        ack(response_action="errors", errors={"title": texts.NOT_COMMS_STAFF})
        return
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        channel, ts, author, text = (str(meta[k]) for k in ("c", "ts", "a", "t"))
    except (ValueError, KeyError, TypeError):
        ack(response_action="errors", errors={"title": "This form lost its post; try again."})
        return
    values = (view.get("state") or {}).get("values") or {}
    title = ((values.get("title") or {}).get("title") or {}).get("value") or ""
    ask = bool(((values.get("ask_ack") or {}).get("ask_ack") or {}).get("selected_options"))
    if not title.strip():
        ack(response_action="errors", errors={"title": "Give the memo a title."})
        return
    tracked = core.channels.track(
        by=user,
        platform=SLACK,
        channel=channel,
        ts=ts,
        author=author,
        text=text,
        title=title,
        ask_ack=ask,
    )
    if isinstance(tracked, str | Refusal):
        ack(response_action="errors", errors={"title": str(getattr(tracked, "message", tracked))})
        return
    ack()
