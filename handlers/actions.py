"""Buttons in the memo and the notice: Acknowledge, I've seen this."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import blocks, texts

SLACK = "slack"


def register(app: App) -> None:
    app.action(blocks.ACKNOWLEDGE)(acknowledge_clicked)
    app.action(blocks.SEEN)(seen_clicked)


def _item_id(body) -> int | None:
    value = (body.get("actions") or [{}])[0].get("value") or ""
    return int(value) if value.isdigit() else None


def acknowledge_clicked(ack, body, respond, context):
    ack()
    core = context["core"]
    copy_id = _item_id(body)
    click = core.acknowledge(copy_id, body["user"]["id"], SLACK) if copy_id else None
    outcome = click.outcome if click else "unknown"
    if outcome in ("recorded", "already"):
        memo = core.store.memo(click.memo_id)
        text, view = blocks.memo_message(memo, copy_id, acknowledged_at=click.at)
        respond(replace_original=True, text=text, blocks=view)
    else:
        respond(replace_original=False, response_type="ephemeral", text=texts.ACK_REFUSED[outcome])


def seen_clicked(ack, body, respond, context):
    ack()
    core = context["core"]
    notice_id = _item_id(body)
    click = core.mark_seen(notice_id, body["user"]["id"], SLACK) if notice_id else None
    outcome = click.outcome if click else "unknown"
    if outcome in ("recorded", "already"):
        notice = core.store.notice(notice_id)
        memo = core.store.memo(notice.memo_id)
        retraction = core.store.retraction(memo.id)
        copy = core.store.copy(notice.copy_id)
        platform = core.platforms[SLACK]
        text, view = blocks.notice_message(
            memo, retraction, notice_id, platform.permalink(copy.channel, copy.ts), seen_at=click.at
        )
        respond(replace_original=True, text=text, blocks=view)
    else:
        respond(replace_original=False, response_type="ephemeral", text=texts.SEEN_REFUSED[outcome])
