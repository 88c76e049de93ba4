"""The Slack modals: "New memo" (compose) and "Retract memo". Their callback, block and
action IDs are the contract with the listeners (handlers/views.py reads the fields,
handlers/commands.py and shortcuts.py open them)."""

from __future__ import annotations

from bot.domain import CORRECTIONS_LIMIT, MESSAGE_LIMIT, REASON_LIMIT, TITLE_LIMIT, Memo, memo_label
from bot.slack.blocks import clip, escape, mention, plain, section, when

COMPOSE = "compose_memo"
RETRACT = "retract_memo"
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
SEND_AT = "send_at"
POST_IN = "post_in"  # channels the memo is posted in (once each)
REJECT = "reject_memo_form"
REJECT_REASON = "reject_reason"
TEAMS_EVERYONE, TEAMS_GROUPS = "teams_everyone", "teams_groups"


def compose_modal(groups: list[dict], teams: list[dict] | None = None) -> dict:
    """The "New memo" modal. `groups` are the workspace's user groups (id, name);
    `teams`, when Teams is configured too, the Teams teams Errata is in."""
    blocks = [
        {
            "type": "input",
            "block_id": TITLE,
            "label": plain("Title"),
            "element": {
                "type": "plain_text_input",
                "action_id": TITLE,
                "max_length": TITLE_LIMIT,
                "placeholder": plain("What is this memo about?"),
            },
        },
        {
            "type": "input",
            "block_id": MESSAGE,
            "label": plain("Message"),
            "hint": plain(
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
            "label": plain("People"),
            "element": {"type": "multi_users_select", "action_id": PEOPLE},
        },
        {
            "type": "input",
            "block_id": CHANNELS,
            "optional": True,
            "label": plain("Members of channels"),
            "element": {
                "type": "multi_conversations_select",
                "action_id": CHANNELS,
                "filter": {"include": ["public", "private"], "exclude_bot_users": True},
            },
        },
        {
            "type": "input",
            "block_id": POST_IN,
            "optional": True,
            "label": plain("Post in channels"),
            "hint": plain(
                "Posted once in each channel Errata is in; its members are the recipients there."
            ),
            "element": {
                "type": "multi_conversations_select",
                "action_id": POST_IN,
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
                "label": plain("User groups"),
                "element": {
                    "type": "multi_static_select",
                    "action_id": GROUPS,
                    "options": [
                        {"text": plain(clip(g["name"] or g["handle"], 75)), "value": g["id"]}
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
            "label": plain("Everyone in the workspace"),
            "element": {
                "type": "checkboxes",
                "action_id": EVERYONE,
                "options": [
                    {
                        "text": plain("Send to every active member"),
                        "description": plain("Bots and deactivated accounts are left out."),
                        "value": "everyone",
                    }
                ],
            },
        },
        {
            "type": "input",
            "block_id": ASK_ACK,
            "optional": True,
            "label": plain("Ask for acknowledgement"),
            "element": {
                "type": "checkboxes",
                "action_id": ASK_ACK,
                "options": [{"text": plain("Add an Acknowledge button"), "value": "ask"}],
            },
        },
        {
            "type": "input",
            "block_id": DEADLINE,
            "optional": True,
            "label": plain("Acknowledge by"),
            "element": {"type": "datetimepicker", "action_id": DEADLINE},
        },
        {
            "type": "input",
            "block_id": SEND_AT,
            "optional": True,
            "label": plain("Send at"),
            "hint": plain("Leave empty to send now. Until then it can be retracted unseen."),
            "element": {"type": "datetimepicker", "action_id": SEND_AT},
        },
    ]
    if teams is not None:
        after = next(n for n, b in enumerate(blocks) if b["block_id"] == EVERYONE) + 1
        blocks[after:after] = _teams_audience_inputs(teams)
    return {
        "type": "modal",
        "callback_id": COMPOSE,
        "title": plain("New memo"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }


def _teams_audience_inputs(teams: list[dict]) -> list[dict]:
    """One memo can reach Teams too: everyone with the app there, or chosen teams."""
    inputs = [
        {
            "type": "input",
            "block_id": TEAMS_EVERYONE,
            "optional": True,
            "label": plain("Teams: everyone with the app"),
            "element": {
                "type": "checkboxes",
                "action_id": TEAMS_EVERYONE,
                "options": [{"text": plain("Also send in Microsoft Teams"), "value": "everyone"}],
            },
        }
    ]
    if teams:
        inputs.append(
            {
                "type": "input",
                "block_id": TEAMS_GROUPS,
                "optional": True,
                "label": plain("Teams: members of teams"),
                "element": {
                    "type": "multi_static_select",
                    "action_id": TEAMS_GROUPS,
                    "options": [
                        {"text": plain(clip(t["name"] or t["id"], 75)), "value": t["id"][:150]}
                        for t in teams[:100]
                    ],
                },
            }
        )
    return inputs


def retract_modal(memo: Memo | None, choices: list[Memo], reason: str = "") -> dict:
    """The "Retract memo" modal: for `memo` when known, else with a picker of `choices`."""
    blocks: list[dict] = []
    if memo is not None and memo.before_sending:
        blocks.append(
            section(
                f"*{memo_label(memo.id)}: {escape(memo.title)}*\nIt has not gone out yet"
                f" ({memo.state}): retracting it now cancels it, and nobody is notified."
            )
        )
    elif memo is not None:
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
                "label": plain("Memo"),
                "element": {
                    "type": "static_select",
                    "action_id": MEMO,
                    "options": [
                        {
                            "text": plain(clip(f"{memo_label(m.id)}: {m.title}", 75)),
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
        "placeholder": plain("Why is this memo being retracted?"),
    }
    if reason:
        reason_element["initial_value"] = reason[:REASON_LIMIT]
    blocks += [
        {
            "type": "input",
            "block_id": REASON,
            "label": plain("Reason"),
            "element": reason_element,
        },
        {
            "type": "input",
            "block_id": CORRECTIONS,
            "optional": True,
            "label": plain("Corrected instructions"),
            "element": {
                "type": "plain_text_input",
                "action_id": CORRECTIONS,
                "multiline": True,
                "max_length": CORRECTIONS_LIMIT,
                "placeholder": plain("What should people do instead? (optional)"),
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": RETRACT,
        "private_metadata": str(memo.id) if memo else "",
        "title": plain("Retract memo"),
        "submit": plain("Retract"),
        "close": plain("Cancel"),
        "blocks": blocks,
    }


def reject_modal(memo: Memo) -> dict:
    """ "Reject memo": the reason its sender will read."""
    return {
        "type": "modal",
        "callback_id": REJECT,
        "private_metadata": str(memo.id),
        "title": plain("Reject memo"),
        "submit": plain("Reject"),
        "close": plain("Cancel"),
        "blocks": [
            section(
                f"*{memo_label(memo.id)}: {escape(memo.title)}*\nRejected, it reaches no one;"
                " its sender is told why."
            ),
            {
                "type": "input",
                "block_id": REJECT_REASON,
                "label": plain("Reason"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REJECT_REASON,
                    "multiline": True,
                    "max_length": REASON_LIMIT,
                    "placeholder": plain("Why should this memo not go out?"),
                },
            },
        ],
    }
