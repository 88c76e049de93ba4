"""Channel announcements on Slack: the memo posted in a channel (one message with
metadata, Acknowledge when asked, a live count), a person's post tracked as a memo
(the bot's reply in its thread), the retraction notice in the post's thread
(`reply_broadcast`: also sent to the channel, https://api.slack.com/methods/chat.postMessage
#arg_reply_broadcast), the post edited into its retracted form, and the channel's
members paged from conversations.members (https://api.slack.com/methods/conversations.members).

`SlackChannels` is a part of `SlackPlatform` (placed before `SlackDirectory` in its
bases): it uses the platform's `call`, `_post`, `_update`, budgets, `store`, `clock`.
The Block Kit for these surfaces is here too; the button action IDs are the contract
with handlers/channels.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bot.domain import (
    MESSAGE_LIMIT,
    Audience,
    Failed,
    Memo,
    Outcome,
    Post,
    Recipient,
    Retraction,
    Sent,
    memo_label,
)
from bot.slack.blocks import (
    button,
    clip,
    context,
    escape,
    header,
    link,
    mention,
    retraction_blocks,
    section,
    strike,
    when,
)

CHANNEL_ACKNOWLEDGE = "channel_acknowledge"
CHANNEL_SEEN = "channel_seen"
TRACK_SHORTCUT = "track_as_memo"

POST_EVENT = "errata_post"
POST_NOTICE_EVENT = "errata_post_notice"

MEMBERS_PAGE = 1000  # conversations.members' largest page

# A count update and the retraction edit of a post never cross: the count is written only
# while no retraction exists, and the edit waits for a count update under way.
_POST_EDITS = threading.Lock()


# ---------------------------------------------------------------- Block Kit


def _ack_row(memo: Memo, post: Post, acknowledged: int) -> list[dict]:
    if not memo.ask_ack:
        return []
    count = f"*{acknowledged}* acknowledged" if acknowledged else "No acknowledgements yet"
    return [
        context(count),
        {
            "type": "actions",
            "block_id": "channel_memo_actions",
            "elements": [button("Acknowledge", CHANNEL_ACKNOWLEDGE, str(post.id), "primary")],
        },
    ]


def post_message(memo: Memo, post: Post, acknowledged: int = 0) -> tuple[str, list]:
    """The memo as posted in a channel, or (a tracked post) the bot's reply in its thread."""
    if post.thread_ts:
        author = mention(post.author_id) if post.author_id else "this post's author"
        blocks = [
            section(
                f":pushpin: {mention(memo.sender_id)} is tracking {author}'s post above as"
                f" *{escape(memo.title)}* ({memo_label(memo.id)})."
                + (" Please acknowledge you have read it." if memo.ask_ack else "")
            )
        ]
        if memo.ack_deadline:
            blocks.append(context(f"Acknowledge by {when(memo.ack_deadline)}"))
        return f"{memo_label(memo.id)}: {memo.title}", blocks + _ack_row(memo, post, acknowledged)
    parts = [
        f"From {mention(memo.sender_id)}",
        memo_label(memo.id),
        f"Sent {when(memo.created_at)}",
    ]
    if memo.ack_deadline:
        parts.append(f"Acknowledge by {when(memo.ack_deadline)}")
    blocks = [header(memo.title), section(memo.body), context(" · ".join(parts))]
    return f"{memo_label(memo.id)}: {memo.title}", blocks + _ack_row(memo, post, acknowledged)


def retracted_post(memo: Memo, retraction: Retraction, post: Post, show_body: bool) -> tuple:
    """The post edited after the retraction (for a tracked post: the bot's thread reply)."""
    blocks = [
        header("RETRACTED: sent in error"),
        section(
            f"*~{escape(memo.title)}~*\n{mention(retraction.retracted_by)} retracted this memo"
            f" {when(retraction.retracted_at)}.\n*Reason:* {escape(retraction.reason)}"
        ),
    ]
    if post.thread_ts:
        blocks.append(
            context("_The post above was sent in error; its author has been asked to remove it._")
        )
    elif show_body:
        blocks.append(section(strike(memo.body)))
    else:
        blocks.append(context("_The original message has been withdrawn._"))
    blocks.append(
        context(
            "The retraction notice is in this thread: please confirm you have seen it.",
            f"{memo_label(memo.id)} · originally from {mention(memo.sender_id)}",
        )
    )
    return f"RETRACTED: sent in error ({memo_label(memo.id)}: {memo.title})", blocks


def channel_notice(memo: Memo, retraction: Retraction, post: Post, post_url: str | None) -> tuple:
    """The retraction notice in the post's thread, also sent to the channel."""
    blocks = retraction_blocks(memo, retraction, post_url, "A memo posted in this channel")
    blocks += [
        {
            "type": "actions",
            "block_id": "channel_notice_actions",
            "elements": [button("I've seen this", CHANNEL_SEEN, str(post.id), "primary")],
        },
        context("Everyone in this channel when the memo was posted: please confirm."),
    ]
    text = f"RETRACTED: {memo_label(memo.id)} {memo.title}: {retraction.reason}"
    return clip(text, 3000), blocks


def author_request(post_url: str | None) -> dict:
    """What the author of a tracked post is asked, below their DM notice."""
    return section(
        ":pencil2: *Your post was tracked as this memo.* Errata cannot change it: please"
        f" delete or edit {link(post_url, 'your post')} so that nobody acts on it."
    )


def track_modal(channel: str, ts: str, author: str, text: str) -> dict:
    """The "Track as memo" form: a title and whether to ask for acknowledgement."""
    from bot.slack.blocks import plain

    first = (text or "").strip().splitlines()[0] if (text or "").strip() else "Tracked post"
    return {
        "type": "modal",
        "callback_id": TRACK_SHORTCUT,
        "private_metadata": f"{channel}:{ts}:{author}",
        "title": plain("Track as memo"),
        "submit": plain("Track"),
        "close": plain("Cancel"),
        "blocks": [
            section(
                f"{mention(author)}'s post in <#{channel}> becomes a memo: its members are its recipients."
            ),
            {
                "type": "input",
                "block_id": "title",
                "label": plain("Title"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "title",
                    "max_length": 150,
                    "initial_value": clip(first, 150),
                },
            },
            {
                "type": "input",
                "block_id": "ask_ack",
                "optional": True,
                "label": plain("Ask for acknowledgement"),
                "element": {
                    "type": "checkboxes",
                    "action_id": "ask_ack",
                    "options": [{"text": plain("Add an Acknowledge button"), "value": "ask"}],
                },
            },
        ],
    }


# ---------------------------------------------------------------- the adapter's part


class SlackChannels:
    def audience_problems(self, audience: Audience) -> list[str]:
        """The directory's checks, then each channel to post in: Errata must be in it
        and it must be open (named in the answer)."""
        return super().audience_problems(audience) + self.post_problems(audience.posts)

    def post_problems(self, channels: tuple[str, ...] | list[str]) -> list[str]:
        problems = []
        for channel in channels:
            info = self.call(self.tier3, "conversations.info", channel=channel)
            if isinstance(info, Failed):
                problems.append(
                    f"Errata cannot post in channel {channel}: it cannot see it ({info.reason})."
                    " Add @Errata to it, or choose another channel."
                )
                continue
            if not isinstance(info, dict):
                continue  # Slack cannot tell right now: posting will find out
            found = info.get("channel") or {}
            name = f"#{found.get('name')}" if found.get("name") else f"channel {channel}"
            if found.get("is_archived"):
                problems.append(f"Errata cannot post in {name}: it is archived.")
            elif not found.get("is_member"):
                problems.append(
                    f"Errata cannot post in {name}: it is not a member. Add @Errata to {name}"
                    " (/invite @Errata), then send again."
                )
        return problems

    def channel_name(self, channel: str) -> str:
        info = self.call(self.tier3, "conversations.info", channel=channel)
        found = (info.get("channel") or {}) if isinstance(info, dict) else {}
        return found.get("name") or ""

    def channel_member_pages(self, channel: str) -> Iterator[list[Recipient]]:
        """The channel's members as recipients, a page (up to 1,000) at a time: bots and
        deactivated accounts left out, never the whole channel in memory."""
        page: list[str] = []
        for member in self._paged(
            "conversations.members", "members", self.tier4, channel=channel, limit=MEMBERS_PAGE
        ):
            page.append(member)
            if len(page) >= MEMBERS_PAGE:
                yield self._people(page, chosen=False)
                page = []
        if page:
            yield self._people(page, chosen=False)

    def _post_args(self, post: Post) -> dict[str, Any]:
        return {"thread_ts": post.thread_ts} if post.thread_ts else {}

    def send_post(self, memo: Memo, post: Post) -> Outcome:
        text, body = post_message(memo, post)
        return self._post_in(
            post.recipient_id,
            text,
            body,
            {"event_type": POST_EVENT, "event_payload": {"memo_id": memo.id, "post_id": post.id}},
            **self._post_args(post),
        )

    def send_post_notice(self, memo: Memo, retraction: Retraction, post: Post) -> Outcome:
        """A reply in the post's thread (a tracked post: the person's post's thread), with
        reply_broadcast so that it is also sent to the channel."""
        text, body = channel_notice(
            memo, retraction, post, self.permalink(post.recipient_id, post.thread_ts or post.ts)
        )
        return self._post_in(
            post.recipient_id,
            text,
            body,
            {
                "event_type": POST_NOTICE_EVENT,
                "event_payload": {"memo_id": memo.id, "post_notice_id": post.id},
            },
            thread_ts=post.thread_ts or post.ts,
            reply_broadcast=True,
        )

    def edit_post(self, memo: Memo, retraction: Retraction, post: Post) -> Outcome:
        text, body = retracted_post(memo, retraction, post, self.show_retracted_body)
        with _POST_EDITS:
            return self._update(post.channel or post.recipient_id, post.ts, text, body)

    def update_post_count(self, memo: Memo, post: Post, acknowledged: int) -> Outcome:
        text, body = post_message(memo, post, acknowledged)
        with _POST_EDITS:
            if self.store.retraction(memo.id) is not None:
                return Failed("retracted")  # its retracted form stays on top
            return self._update(post.channel or post.recipient_id, post.ts, text, body)

    def author_notice_blocks(self, post: Post) -> dict:
        return author_request(self.permalink(post.recipient_id, post.thread_ts))

    def _post_in(
        self, channel: str, text: str, body: list, metadata: dict, **extra: Any
    ) -> Outcome:
        args: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "blocks": body,
            "metadata": metadata,
            "unfurl_links": False,
            "unfurl_media": False,
            **extra,
        }
        result = self.call(self.post, "chat.postMessage", **args)
        if isinstance(result, dict):
            return Sent(result["channel"], result["ts"])
        return result


def posted_in(memo: Memo) -> str | None:
    """Where a channel memo was posted ("Posted in #announcements #all-staff"), or None."""
    channels = [c for a in memo.audiences if a.platform == "slack" for c in a.posts]
    return "Posted in " + " ".join(f"<#{c}>" for c in channels[:20]) if channels else None


def notice_destination(copy_channel: str | None, recipient_id: str, post_id: int | None) -> str:
    """Where a person's DM goes: a copy reached through a channel post has the channel as
    its place, and a DM (a notice, a reminder) goes to the person themselves."""
    return recipient_id if post_id else (copy_channel or recipient_id)


def seen_text(at: datetime) -> str:
    return f":white_check_mark: You confirmed you have seen this retraction {when(at)}."


def acknowledged_text(label: str, at: datetime) -> str:
    return f":white_check_mark: You acknowledged {label} {when(at)}."


# Private answers to a click on a channel post or its notice (texts.py has the others).
CLICK_REFUSED = {
    "not_member": (
        "You were not in this channel when this memo was posted, so it is not yours to"
        " confirm; nothing was recorded."
    ),
}
TRACK_NOT_COMMS_STAFF = "Only comms staff can track a post as a memo."
TRACK_WHERE = 'Use "Track as memo" on a person\'s post in a channel Errata is in.'


def track_too_long(length: int) -> str:
    return (
        f"That post is {length} characters; a memo holds {MESSAGE_LIMIT}, so it cannot be"
        " tracked as one."
    )
