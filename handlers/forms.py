"""Opening a modal: when Slack refuses (an expired trigger_id, a slow moment), the
person gets a private answer instead of silence."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError, SlackRequestError

from bot.slack import texts

log = logging.getLogger(__name__)


def open_form(client, respond, trigger_id: str | None, view: dict) -> bool:
    """`views.open`; on failure say "try again" privately (the request was already
    acknowledged, so the answer goes through the response_url)."""
    try:
        client.views_open(trigger_id=trigger_id or "", view=view)
        return True
    except (SlackApiError, SlackRequestError, OSError) as exc:
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        log.info("views.open refused (%s): the person is asked to try again", error)
        respond(response_type="ephemeral", replace_original=False, text=texts.FORM_NOT_OPENED)
        return False
