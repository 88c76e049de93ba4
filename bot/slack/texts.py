"""The words Errata says in Slack outside Block Kit surfaces: private answers and help."""

from __future__ import annotations

NOT_COMMS_STAFF = (
    "Only comms staff can send memos. If you need one sent, ask your communications team."
)
NOT_COMMS_STAFF_RETRACT = (
    "Only comms staff can retract memos. If a memo looks wrong, tell your communications team."
)
NOT_OVERSEER = "Only comms staff and auditors can see that."
FORM_NOT_OPENED = "Slack did not open the form in time, please try again."
BAD_MEMO_REF = "`{text}` is not a memo ID. Memo IDs look like `M-7` (or just `7`)."

ACK_REFUSED = {
    "retracted": (
        "This memo was retracted, so there is nothing to acknowledge. "
        "Look for the retraction notice in this conversation."
    ),
    "retracting": (
        "This memo is being retracted, so nothing was recorded. "
        "The retraction notice is on its way to this conversation."
    ),
    "not_yours": "This Acknowledge button belongs to someone else's copy of the memo; nothing was recorded.",
    "closed": "This memo is not waiting for an acknowledgement.",
    "unknown": "That memo could not be found.",
}

SEEN_REFUSED = {
    "not_yours": "This button belongs to someone else's retraction notice; nothing was recorded.",
    "unknown": "That retraction notice could not be found.",
    "closed": "This retraction notice is not waiting for a confirmation.",
    "retracted": "This retraction notice is not waiting for a confirmation.",
}


def help_text(role: str) -> str:
    lines = [
        "*Errata* sends company-wide memos, and retracts them when they were sent in error.",
        "",
        "• `/memo help`: this help.",
        "• `/memo list`: recent memos with their counts.",
        "• `/memo status M-7`: one memo's live counts.",
    ]
    if role in ("comms staff", "auditor"):
        lines.append("• `/memo report M-7`: the per-recipient report, as a CSV file in a DM.")
    if role == "comms staff":
        lines += [
            "• `/memo`: write a new memo and choose who gets it.",
            "• `/retract M-7 reason`: retract a memo; everyone who received it is told, and"
            " their copy is marked as retracted. `/retract` alone lets you pick the memo.",
        ]
    lines += [
        "",
        "When you receive a memo, *Acknowledge* tells the sender you have read it. When a memo"
        " you received is retracted, *I've seen this* confirms you have read the retraction.",
        f"_You are: {role}._",
    ]
    return "\n".join(lines)


def unknown_memo_command(verb: str) -> str:
    return f"`/memo {verb}` is not something I know. Try `/memo help`."


def channel_unreadable(channel: str) -> str:
    return (
        f"Errata cannot see the members of channel {channel}: it is a private channel"
        " Errata has not been added to. Add @Errata to it, or choose another audience."
    )


def channel_unavailable(channel: str, reason: str) -> str:
    return f"Errata cannot read the members of channel {channel}: Slack said {reason}."


def channel_empty(name: str) -> str:
    return f"{name} has no members who can receive a memo."
