"""The Teams message action "Track as memo" (a messaging extension action command with
`context: ["message"]`, teams/manifest.json): comms staff bring a person's channel post
under Errata's care. Teams invokes `composeExtension/fetchTask` (the dialog: a title,
Ask for acknowledgement), then `composeExtension/submitAction` with the dialog's
`value.data`; both carry `value.messagePayload` (the post: id, from.user, body) and the
channel in `channelData.channel` (msteams-docs messaging-extensions/how-to/
action-commands/create-task-module.md, respond-to-task-module-submit.md). Anyone else
is refused and audited, as on Slack (handlers/channels.py)."""

from __future__ import annotations

import html
import re

from bot.core import Core, Refusal
from bot.domain import MESSAGE_LIMIT, TITLE_LIMIT
from bot.teams import channels as channel_cards
from bot.teams.adapter import TEAMS, TeamsPlatform
from handlers.teams.activity import an_object, true

_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")

NOT_COMMS_STAFF = "Only comms staff can track a post as a memo."
WHERE = "Use Track as memo on a person's post in a channel of a team Errata is in."
TITLE = "Track as memo"


def plain_text(content: str) -> str:
    """A post's HTML body as its text: line breaks kept, tags gone, entities decoded."""
    text = _BREAK.sub("\n", content)
    text = _TAG.sub("", text)
    lines = (" ".join(line.split()) for line in html.unescape(text).split("\n"))
    return "\n".join(line for line in lines if line)


def the_post(activity: dict, value: dict) -> dict | None:
    """The tracked post: {channel, ts, author, text}, or None when the action was not on
    a person's post in a channel (a chat, a bot's card, a reply in a thread)."""
    payload = an_object(value.get("messagePayload"))
    channel_data = an_object(activity.get("channelData"))
    channel = an_object(channel_data.get("channel")).get("id")
    conversation = an_object(activity.get("conversation"))
    if not isinstance(channel, str) or not channel:
        if conversation.get("conversationType") != "channel":
            return None
        channel = str(conversation.get("id") or "").split(";messageid=", 1)[0]
    user = an_object(an_object(payload.get("from")).get("user"))
    author, ts = user.get("id"), payload.get("id")
    body = an_object(payload.get("body"))
    content = body.get("content")
    if payload.get("replyToId") or not all(
        isinstance(v, str) and v for v in (channel, author, ts, content)
    ):
        return None
    text = plain_text(content) if body.get("contentType") == "html" else content.strip()
    return {"channel": channel, "ts": ts, "author": author, "text": text}


class Tracking:
    def __init__(self, core: Core, teams: TeamsPlatform):
        self.core = core
        self.teams = teams

    def _checked(self, activity: dict, person: str, value: dict) -> dict | str:
        """The post, or the refusal to show (audited when the person is not comms staff)."""
        core = self.core
        if value.get("commandId") != channel_cards.TRACK_COMMAND:
            return "That action is not something Errata knows."
        if not core.may_send(TEAMS, person):
            core.deny(TEAMS, person, "track as memo")
            return NOT_COMMS_STAFF
        post = the_post(activity, value)
        if post is None or not post["text"]:
            return WHERE
        post["name"] = self.teams.channel_name(post["channel"])
        if not post["name"]:
            return WHERE
        if len(post["text"]) > MESSAGE_LIMIT:
            return (
                f"That post is {len(post['text']):,} characters long; a memo can be at most"
                f" {MESSAGE_LIMIT:,}."
            )
        return post

    def fetch(self, activity: dict, person: str, value: dict) -> dict:
        post = self._checked(activity, person, value)
        if isinstance(post, str):
            return _close(post)
        return _dialog(channel_cards.track_dialog(post["name"], post["text"]))

    def submit(self, activity: dict, person: str, value: dict) -> dict:
        post = self._checked(activity, person, value)
        if isinstance(post, str):
            return _close(post)
        data = an_object(value.get("data"))
        title = data.get("title") if isinstance(data.get("title"), str) else ""
        if not title.strip():
            errors = {"title": "Give the memo a title."}
            return _dialog(channel_cards.track_dialog(post["name"], post["text"], errors))
        tracked = self.core.channels.track(
            by=person,
            platform=TEAMS,
            channel=post["channel"],
            ts=post["ts"],
            author=post["author"],
            text=post["text"],
            title=title.strip()[:TITLE_LIMIT],
            ask_ack=true(data.get("ask_ack")),
        )
        if isinstance(tracked, str | Refusal):
            return _close(str(getattr(tracked, "message", tracked)))
        return _close(
            f"{tracked.label} is tracking this post in {post['name']}: its members are its"
            " recipients."
        )


def _dialog(card) -> dict:
    content = card.model_dump(by_alias=True, exclude_none=True)
    return {
        "task": {
            "type": "continue",
            "value": {
                "title": TITLE,
                "card": {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": content,
                },
            },
        }
    }


def _close(text: str) -> dict:
    return {"task": {"type": "message", "value": text}}
