"""Slash commands: /memo and /retract."""

from __future__ import annotations

from slack_bolt import App

from bot.core import Refusal
from bot.domain import split_memo_ref
from bot.slack import blocks, texts

SLACK = "slack"


def register(app: App) -> None:
    app.command("/memo")(memo_command)
    app.command("/retract")(retract_command)


def memo_command(ack, body, client, context):
    core = context["core"]
    user = body["user_id"]
    verb, _, rest = (body.get("text") or "").strip().partition(" ")
    verb = verb.lower()
    if verb in ("", "new", "send"):
        if not core.may_send(SLACK, user):
            core.deny(SLACK, user, "/memo")
            ack(texts.NOT_COMMS_STAFF)
            return
        ack()
        client.views_open(
            trigger_id=body["trigger_id"], view=blocks.compose_modal(core.store.groups(SLACK))
        )
    elif verb == "help":
        ack(texts.help_text(core.role(SLACK, user)))
    else:
        ack(texts.unknown_memo_command(verb))


def retract_command(ack, body, client, context):
    core = context["core"]
    user = body["user_id"]
    if not core.may_send(SLACK, user):
        core.deny(SLACK, user, "/retract", text=body.get("text") or "")
        ack(texts.NOT_COMMS_STAFF_RETRACT)
        return
    text = (body.get("text") or "").strip()
    memo_id, reason = split_memo_ref(text)
    if text and memo_id is None:
        ack(texts.BAD_MEMO_REF.format(text=text.split(" ")[0]))
        return
    if memo_id is None:
        choices = core.retractable_memos()
        if not choices:
            ack("There is no memo to retract.")
            return
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=blocks.retract_modal(None, choices))
        return
    found = core.memo_to_retract(memo_id)
    if isinstance(found, Refusal):
        ack(found.message)
        return
    ack()
    client.views_open(
        trigger_id=body["trigger_id"], view=blocks.retract_modal(found, [], reason=reason)
    )
