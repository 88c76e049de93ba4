"""Modal submissions: the compose form and the retraction form."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_bolt import App

from bot.core import Refusal
from bot.domain import Audience, compose_errors, retract_errors
from bot.slack import SLACK, modals, texts


def register(app: App) -> None:
    app.view(modals.COMPOSE)(compose_submitted)
    app.view(modals.RETRACT)(retract_submitted)
    app.view(modals.REJECT)(reject_submitted)


def _values(view: dict) -> dict:
    """The form's values; Slack documents `state.values`, but a view can arrive without."""
    values = (view.get("state") or {}).get("values")
    return values if isinstance(values, dict) else {}


def _field(values: dict, block_id: str) -> dict:
    block = values.get(block_id)
    field = block.get(block_id) if isinstance(block, dict) else None
    return field if isinstance(field, dict) else {}


def compose_submitted(ack, body, view, context):
    core = context["core"]
    user = body["user"]["id"]
    if not core.may_send(SLACK, user):
        core.deny(SLACK, user, "compose memo")
        ack(response_action="errors", errors={modals.TITLE: texts.NOT_COMMS_STAFF})
        return
    values = _values(view)
    title = _field(values, modals.TITLE).get("value") or ""
    body_text = _field(values, modals.MESSAGE).get("value") or ""
    stamp = _field(values, modals.DEADLINE).get("selected_date_time")
    deadline = datetime.fromtimestamp(int(stamp), UTC) if stamp else None
    send_stamp = _field(values, modals.SEND_AT).get("selected_date_time")
    send_at = datetime.fromtimestamp(int(send_stamp), UTC) if send_stamp else None
    audience = Audience(
        people=tuple(_field(values, modals.PEOPLE).get("selected_users") or ()),
        channels=tuple(_field(values, modals.CHANNELS).get("selected_conversations") or ()),
        groups=tuple(
            o["value"] for o in _field(values, modals.GROUPS).get("selected_options") or ()
        ),
        everyone=bool(_field(values, modals.EVERYONE).get("selected_options")),
        platform=SLACK,
        posts=tuple(_field(values, modals.POST_IN).get("selected_conversations") or ()),
    )
    audiences = [audience]
    if "teams" in core.platforms:
        audiences.append(
            Audience(
                groups=tuple(
                    o["value"]
                    for o in _field(values, modals.TEAMS_GROUPS).get("selected_options") or ()
                ),
                everyone=bool(_field(values, modals.TEAMS_EVERYONE).get("selected_options")),
                platform="teams",
            )
        )
    errors = compose_errors(
        title=title,
        body=body_text,
        audience=audiences,
        ack_deadline=deadline,
        now=core.clock.now(),
        send_at=send_at,
    )
    if not errors:
        problems = core.audience_problems(audiences)
        if problems:
            field = modals.CHANNELS if audience.channels else modals.GROUPS
            if audience.posts and any(p.startswith("Errata cannot post") for p in problems):
                field = modals.POST_IN
            errors = {field: " ".join(problems)[:1900]}
    if errors:
        ack(response_action="errors", errors=errors)
        return
    ack()
    core.send_memo(
        sender_id=user,
        platform=SLACK,
        title=title,
        body=body_text,
        audience=tuple(a for a in audiences if not a.empty),
        ask_ack=bool(_field(values, modals.ASK_ACK).get("selected_options")),
        ack_deadline=deadline,
        send_at=send_at,
    )


def reject_submitted(ack, body, view, context):
    """The Reject form: the first decision wins; a refusal shows on the form."""
    core = context["core"]
    user = body["user"]["id"]
    chosen = str(view.get("private_metadata") or "")
    if not (chosen.isascii() and chosen.isdigit() and len(chosen) < 16):
        ack(response_action="errors", errors={modals.REJECT_REASON: "No memo to reject."})
        return
    reason = _field(_values(view), modals.REJECT_REASON).get("value") or ""
    decided = core.reject(int(chosen), SLACK, user, reason)
    if isinstance(decided, Refusal):
        ack(response_action="errors", errors={modals.REJECT_REASON: decided.message})
        return
    ack()


def retract_submitted(ack, body, view, client, context):
    core = context["core"]
    user = body["user"]["id"]
    values = _values(view)
    if not core.may_send(SLACK, user):
        core.deny(SLACK, user, "retract memo", memo=view.get("private_metadata"))
        ack(response_action="errors", errors={modals.REASON: texts.NOT_COMMS_STAFF_RETRACT})
        return
    chosen = view.get("private_metadata") or (
        (_field(values, modals.MEMO).get("selected_option") or {}).get("value")
    )
    where = modals.REASON if view.get("private_metadata") else modals.MEMO
    if (
        not chosen
        or not str(chosen).isascii()
        or not str(chosen).isdigit()
        or len(str(chosen)) > 15
    ):
        ack(response_action="errors", errors={where: "Choose the memo to retract."})
        return
    reason = _field(values, modals.REASON).get("value") or ""
    corrections = _field(values, modals.CORRECTIONS).get("value") or ""
    errors = retract_errors(reason=reason)
    if errors:
        ack(response_action="errors", errors=errors)
        return
    requested = core.request_retraction(
        int(chosen), by=user, platform=SLACK, reason=reason, corrections=corrections
    )
    if isinstance(requested, Refusal):
        ack(response_action="errors", errors={where: requested.message})
        return
    ack()  # the retraction is stored: it stands even if the process dies now
    core.apply_retraction_soon(requested.id)
