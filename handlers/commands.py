"""Slash commands: /memo (compose, list, status, report, help) and /retract."""

from __future__ import annotations

import logging
import os
import tempfile

from slack_bolt import App

from bot import reports
from bot.core import Refusal
from bot.domain import memo_label, parse_memo_ref, split_memo_ref
from bot.slack import SLACK, home, modals, texts
from handlers.forms import open_form

log = logging.getLogger(__name__)


def register(app: App) -> None:
    app.command("/memo")(memo_command)
    app.command("/retract")(retract_command)


def memo_command(ack, body, client, respond, context):
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
        teams = core.answers.groups("teams") if "teams" in core.platforms else None
        open_form(
            client,
            respond,
            body.get("trigger_id"),
            modals.compose_modal(core.answers.groups(SLACK), teams),
        )
    elif verb == "help":
        ack(texts.help_text(core.role(SLACK, user)))
    elif verb == "list":
        _list(ack, core, user)
    elif verb == "status":
        _status(ack, core, user, rest)
    elif verb == "report":
        _report(ack, core, client, user, rest)
    else:
        ack(texts.unknown_memo_command(verb))


def _list(ack, core, user):
    if core.may_oversee(SLACK, user):
        text, view = home.memo_list(core.overview(), everyone=True)
    else:
        text, view = home.memo_list(core.answers.received_by(SLACK, user), everyone=False)
    ack(text=text, blocks=view)


def _memo_named(ack, core, text: str, usage: str):
    memo_id = parse_memo_ref(text)
    if memo_id is None:
        ack(texts.BAD_MEMO_REF.format(text=text) if text else f"Name the memo: `{usage}`.")
        return None
    memo = core.answers.memo(memo_id)
    if memo is None:
        ack(f"There is no memo {memo_label(memo_id)}.")
        return None
    return memo


def _status(ack, core, user, text):
    memo = _memo_named(ack, core, text.strip(), "/memo status M-7")
    if memo is None:
        return
    if not core.may_see_memo(memo.id, SLACK, user):
        core.deny(SLACK, user, "/memo status", memo=memo.id)
        ack(f"You did not receive {memo.label}; only comms staff and auditors can see every memo.")
        return
    status = core.answers.status(memo.id)
    text_, view = home.memo_status_answer(
        memo, status.counts, status.retraction, status.retraction_counts, status.seconds_left
    )
    ack(text=text_, blocks=view)


def _report(ack, core, client, user, text):
    if not core.may_oversee(SLACK, user):
        core.deny(SLACK, user, "/memo report", text=text)
        ack(texts.NOT_OVERSEER)
        return
    memo = _memo_named(ack, core, text.strip(), "/memo report M-7")
    if memo is None:
        return
    ack(f"Preparing the report of {memo.label}; it will arrive as a CSV file in our DM.")
    summary = core.answers.report_summary(memo.id)
    handle, path = tempfile.mkstemp(prefix=f"errata-{memo.label}-", suffix=".csv")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as out:
            reports.write_csv(core.answers.report_rows(memo.id), out)
        core.extras(SLACK).send_file(
            user,
            path,
            filename=f"errata-{memo.label}-report.csv",
            title=f"{memo.label} report",
            comment="\n".join(summary.lines()),
        )
    finally:
        os.unlink(path)


def retract_command(ack, body, client, respond, context):
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
        open_form(client, respond, body.get("trigger_id"), modals.retract_modal(None, choices))
        return
    found = core.memo_to_retract(memo_id)
    if isinstance(found, Refusal):
        ack(found.message)
        return
    ack()
    open_form(
        client, respond, body.get("trigger_id"), modals.retract_modal(found, [], reason=reason)
    )
