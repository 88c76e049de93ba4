"""Reading a Teams activity: checking its shape (`parse_activity`), the command in a
message (`command_text`), who sent it and how to reach them, and the values a card
or dialog sent, coerced to what the listeners expect."""

from __future__ import annotations

import html
import json
import re

_MENTION = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")

# The fields the listeners read, and the shapes they must have when present.
_SHAPES: dict[tuple[str, ...], type] = {
    ("type",): str,
    ("name",): str,
    ("action",): str,
    ("text",): str,
    ("serviceUrl",): str,
    ("channelId",): str,
    ("from",): dict,
    ("recipient",): dict,
    ("conversation",): dict,
    ("channelData",): dict,
    ("channelData", "tenant"): dict,
    ("channelData", "team"): dict,
    ("value",): dict,
    ("value", "action"): dict,
    ("value", "data"): dict,
    ("value", "action", "data"): dict,
    ("entities",): list,
    ("membersAdded",): list,
    ("membersRemoved",): list,
}
_LISTS_OF_OBJECTS = ("entities", "membersAdded", "membersRemoved")


def parse_activity(raw: bytes) -> dict | None:
    """The activity, or None for anything malformed: bad JSON or encoding, nesting too
    deep for the parser, not an object with a type, or a field the listeners read
    with the wrong shape (so that bad input is a 400, never a listener's 500)."""
    try:
        activity = json.loads(raw)
    except (ValueError, RecursionError, TypeError, MemoryError):
        return None
    if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
        return None
    for path, shape in _SHAPES.items():
        node = activity
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, shape):
            return None
    for key in _LISTS_OF_OBJECTS:
        if not all(isinstance(item, dict) for item in activity.get(key) or []):
            return None
    return activity


def command_text(activity: dict) -> str:
    """The command in a message, as it would read in a personal chat. In a channel or a
    group chat Teams sends `<at>Errata</at>&nbsp;memo list` (HTML: the mention, entities,
    maybe <p>/<div>/<br>), with a `mention` entity naming the bot: the bot's mention (by
    its entity, then any <at> element) goes, tags go, entities are decoded and white
    space (no-break spaces, line breaks) is collapsed."""
    text = activity.get("text")
    text = text if isinstance(text, str) else ""
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or []:
        mentioned = entity.get("mentioned")
        said = entity.get("text")
        if (
            entity.get("type") == "mention"
            and isinstance(mentioned, dict)
            and mentioned.get("id") == bot_id
            and isinstance(said, str)
            and said
        ):
            text = text.replace(said, " ")
    text = _MENTION.sub(" ", text)
    text = _BREAK.sub(" ", text)
    text = _TAG.sub("", text)
    return " ".join(html.unescape(text).split())


# ------------------------------------------------------------ who sent it


def person_id(activity: dict) -> str:
    """A person is their Entra object ID. Never `from.id`: a Direct Line client chooses
    its own, so it would let anyone pass for anyone (requests without one are refused)."""
    sender = activity.get("from")
    aad = sender.get("aadObjectId") if isinstance(sender, dict) else None
    return aad if isinstance(aad, str) else ""


def reference(activity: dict) -> dict:
    """How to reach the sender: service URL, tenant, Teams user ID, and their 1:1 chat
    when the activity came from it."""
    conversation = activity.get("conversation") or {}
    tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get(
        "id"
    ) or conversation.get("tenantId")
    return {
        "service_url": activity.get("serviceUrl"),
        "tenant_id": tenant,
        "user_id": (activity.get("from") or {}).get("id"),
        "conversation_id": conversation.get("id")
        if conversation.get("conversationType") == "personal"
        else None,
    }


def timezone(activity: dict) -> str | None:
    """The sender's IANA time zone: `localTimezone` on the activity (what Teams sends
    with messages and invokes), else a clientInfo entity's `timezone`. Install
    events carry neither."""
    zone = activity.get("localTimezone")
    if isinstance(zone, str) and zone:
        return zone
    for entity in activity.get("entities") or []:
        if entity.get("type") == "clientInfo" and isinstance(entity.get("timezone"), str):
            return entity["timezone"] or None
    return None


def roster_of(activity: dict) -> str | None:
    """A conversation whose roster holds the sender: their 1:1, the team of a channel,
    or the group chat."""
    conversation = activity.get("conversation") or {}
    if conversation.get("conversationType") == "channel":
        team = (activity.get("channelData") or {}).get("team") or {}
        return team.get("id") if isinstance(team.get("id"), str) else None
    cid = conversation.get("id")
    return cid if isinstance(cid, str) and cid else None


# ------------------------------------------------------------ values a card or dialog sent


def an_object(value) -> dict:
    return value if isinstance(value, dict) else {}


def an_id(value) -> int | None:
    text = str(value if value is not None else "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 16 else None


def many(value) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value if v)
    return tuple(v.strip() for v in str(value or "").split(",") if v.strip())


def true(value) -> bool:
    return value is True or str(value).lower() == "true"
