"""Shortcuts: "Retract memo" on a memo's status message opens the retraction form."""

from __future__ import annotations

from slack_bolt import App

from bot.core import Refusal
from bot.slack import SLACK, modals, texts
from handlers.forms import open_form


def register(app: App) -> None:
    app.shortcut(modals.RETRACT_SHORTCUT)(retract_shortcut)


def retract_shortcut(ack, body, client, respond, context):
    ack()
    core = context["core"]
    user = body["user"]["id"]
    if not core.may_send(SLACK, user):
        core.deny(SLACK, user, "retract shortcut")
        respond(response_type="ephemeral", text=texts.NOT_COMMS_STAFF_RETRACT)
        return
    channel = (body.get("channel") or {}).get("id")
    memo = core.answers.memo_by_status_message(channel, (body.get("message") or {}).get("ts"))
    if memo is None:
        respond(
            response_type="ephemeral",
            text="Use this shortcut on a memo's status message (the one Errata keeps up to date"
            " for its sender), or run `/retract M-7`.",
        )
        return
    found = core.memo_to_retract(memo.id)
    if isinstance(found, Refusal):
        respond(response_type="ephemeral", text=found.message)
        return
    open_form(client, respond, body.get("trigger_id"), modals.retract_modal(found, []))
