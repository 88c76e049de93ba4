"""Block Kit's building blocks, as every Slack surface of Errata uses them: plain and
mrkdwn text clipped to Slack's limits, headers, sections, context lines, buttons, date
tokens, mentions and escaping, and what every retraction notice says. The surfaces are built from these in messages.py (what
people receive, and the issuer's live status), modals.py (the compose and retract
forms) and home.py (lists, `/memo status` and the App Home); nobody else writes block
dicts. Labels are the contract with users (PRODUCT.md).
"""

from __future__ import annotations

from datetime import datetime

from bot.domain import Memo, Retraction, memo_label

HEADER_LIMIT = 150
SECTION_LIMIT = 3000


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def header(text: str) -> dict:
    return {"type": "header", "text": plain(clip(text, HEADER_LIMIT))}


def section(text: str, **extra) -> dict:
    return {"type": "section", "text": mrkdwn(clip(text, SECTION_LIMIT)), **extra}


def context(*texts: str) -> dict:
    return {"type": "context", "elements": [mrkdwn(clip(t, SECTION_LIMIT)) for t in texts[:10]]}


def divider() -> dict:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    element = {"type": "button", "text": plain(text), "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def when(instant: datetime | None) -> str:
    """A Slack date token: shown in the reader's own time zone, ISO UTC as fallback."""
    if instant is None:
        return ""
    epoch = int(instant.timestamp())
    fallback = instant.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{fallback}>"


def mention(user_id: str) -> str:
    return f"<@{user_id}>"


def escape(text: str) -> str:
    """Slack mrkdwn control characters, escaped as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str | None, text: str) -> str:
    safe = escape(text).replace("|", "¦")
    return f"<{url}|{safe}>" if url else safe


def strike(text: str) -> str:
    return "\n".join(f"~{line}~" if line.strip() else line for line in text.splitlines())


def retraction_blocks(
    memo: Memo, retraction: Retraction, original_url: str | None, which: str
) -> list:
    """What every retraction notice says (to a person, or in a channel's thread): which
    memo, sent and retracted by whom and when, why, and what to do instead."""
    blocks = [
        header(f"Retraction: {memo.title}"),
        section(
            f":warning: *{which} was sent in error and has been retracted.*\n"
            f"*Memo:* {link(original_url, memo.title)} ({memo_label(memo.id)})\n"
            f"*Sent:* {when(memo.created_at)} by {mention(memo.sender_id)}\n"
            f"*Retracted:* {when(retraction.retracted_at)} by {mention(retraction.retracted_by)}"
        ),
        section(f"*Reason*\n{escape(retraction.reason)}"),
    ]
    if retraction.corrections:
        blocks.append(section(f"*Corrected instructions*\n{retraction.corrections}"))
    else:
        blocks.append(section("*Please disregard the original memo.*"))
    return blocks
