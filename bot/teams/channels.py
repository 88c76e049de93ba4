"""Channel announcements in Teams: the memo posted once in a team channel as an Adaptive
Card (Acknowledge when asked, a live count), the channel's members paged from the Bot
Connector, the retraction notice posted as a reply in the card's thread, and the card
edited into its RETRACTED form. A person's post tracked as a memo ("Track as memo",
handlers/teams/tracking.py) gets the card as a reply in its thread instead, and its author
a DM naming it (a bot has no link to a person's post).

Bot Connector REST (learn.microsoft.com/azure/bot-service/rest-api/
bot-framework-rest-connector-api-reference, msteams-docs bots/how-to/get-teams-context.md,
conversations/send-proactive-messages.md, update-and-delete-bot-messages.md):

* the channels of a team: ``GET /v3/teams/{teamId}/conversations`` (the General
  channel's id is the team's, and Teams gives it no name);
* a new post in a channel: ``POST /v3/conversations/{channelId}/activities``;
* a reply in its thread: ``POST /v3/conversations/{channelId};messageid={activityId}/activities``;
* editing it: ``PUT /v3/conversations/{channelId}/activities/{activityId}``;
* its members: ``GET /v3/conversations/{channelId}/pagedmembers`` (a standard channel's
  members are its team's).

`TeamsChannels` is a part of `TeamsPlatform` (one of its bases): it uses the platform's
`call`, `client`, `_service_url`, `_member_pages`, `store`. The card verbs are the contract
with handlers/teams/invokes.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

from microsoft_teams.api import MessageActivityInput
from microsoft_teams.cards import (
    AdaptiveCard,
    ExecuteAction,
    RichTextBlock,
    SubmitAction,
    SubmitActionData,
    TextInput,
    TextRun,
    ToggleInput,
)

from bot.domain import (
    OUTCOMES,
    TITLE_LIMIT,
    Failed,
    Memo,
    Outcome,
    Post,
    Recipient,
    Retraction,
    Sent,
)
from bot.teams import cards

CHANNEL_ACKNOWLEDGE = "channel_acknowledge"
TRACK_COMMAND = "trackAsMemo"  # the message action's command id (teams/manifest.json)
CHANNEL_SEEN = "channel_seen"
GENERAL = "General"  # Teams names the General channel nothing: its id is the team's

# A count update and the retraction edit of a post never cross (as on Slack).
_POST_EDITS = threading.Lock()


# ---------------------------------------------------------------- cards


def _text(text: str, **style):
    return cards._text(text, **style)


def post_card(memo: Memo, post: Post, acknowledged: int = 0) -> AdaptiveCard:
    """The memo as posted in a channel: everyone's card, so no refresh and no per-person
    state; a click is answered privately and the count changes for all. For a person's
    post tracked as a memo: the bot's reply in its thread."""
    count = None
    actions = None
    if memo.ask_ack:
        count = _text(
            f"**{acknowledged}** acknowledged" if acknowledged else "No acknowledgements yet",
            is_subtle=True,
        )
        actions = [
            ExecuteAction(
                title="Acknowledge",
                verb=CHANNEL_ACKNOWLEDGE,
                data={"post_id": post.id},
                style="positive",
            )
        ]
    if post.thread_ts:
        return cards._card(
            _text(
                f"📌 The post above is tracked as **{memo.title}** ({memo.label})."
                + (" Please acknowledge you have read it." if memo.ask_ack else "")
            ),
            cards._facts(("Acknowledge by", cards.when(memo.ack_deadline))),
            count,
            actions=actions,
        )
    return cards._card(
        _text(memo.title, size="Large", weight="Bolder"),
        _text(memo.body),
        cards._facts(
            ("Memo", memo.label),
            ("Sent", cards.when(memo.created_at)),
            ("Acknowledge by", cards.when(memo.ack_deadline)),
        ),
        count,
        actions=actions,
    )


def retracted_post_card(
    memo: Memo, retraction: Retraction, show_body: bool, post: Post | None = None
) -> AdaptiveCard:
    if post is not None and post.thread_ts:
        body = _text(
            "_The post above was sent in error; its author has been asked to remove it._",
            is_subtle=True,
        )
    elif show_body:
        body = RichTextBlock(inlines=[TextRun(text=memo.body, strikethrough=True)])
    else:
        body = _text("_The original message has been withdrawn._", is_subtle=True)
    return cards._card(
        _text("RETRACTED: sent in error", size="Large", weight="Bolder", color="Attention"),
        RichTextBlock(inlines=[TextRun(text=memo.title, strikethrough=True, weight="Bolder")]),
        _text(f"Retracted {cards.when(retraction.retracted_at)}. **Reason:** {retraction.reason}"),
        body,
        _text(
            "The retraction notice is in this thread: please confirm you have seen it.",
            is_subtle=True,
        ),
    )


def channel_notice_card(memo: Memo, retraction: Retraction, post: Post) -> AdaptiveCard:
    corrections = (
        _text(f"**Corrected instructions**\n\n{retraction.corrections}")
        if retraction.corrections
        else _text("**Please disregard the original memo.**")
    )
    return cards._card(
        _text(f"Retraction: {memo.title}", size="Large", weight="Bolder", color="Attention"),
        _text("⚠️ **A memo posted in this channel was sent in error and has been retracted.**"),
        cards._facts(
            ("Memo", f"{memo.title} ({memo.label})"),
            ("Sent", cards.when(memo.created_at)),
            ("Retracted", cards.when(retraction.retracted_at)),
        ),
        _text(f"**Reason**\n\n{retraction.reason}"),
        corrections,
        _text("Everyone in this channel when the memo was posted: please confirm.", is_subtle=True),
        actions=[
            ExecuteAction(
                title="I've seen this",
                verb=CHANNEL_SEEN,
                data={"post_id": post.id},
                style="positive",
            )
        ],
    )


def first_words(text: str, words: int = 8) -> str:
    """How a person's post is named to them (a bot has no link to it in Teams)."""
    split = " ".join(text.split()).split(" ")
    return " ".join(split[:words]) + ("…" if len(split) > words else "")


def author_request(channel_name: str, text: str) -> str:
    """What the author of a tracked post is asked in their DM notice: Teams gives a bot no
    link to a person's channel post, so the post is named by its channel and first words."""
    where = f" in {channel_name}" if channel_name else ""
    return (
        f"✏️ **Your post{where} (“{first_words(text)}”) was tracked as this memo.** Errata"
        " cannot change it: please delete or edit your post so that nobody acts on it."
    )


def track_dialog(channel_name: str, text: str, errors: dict | None = None) -> AdaptiveCard:
    """The "Track as memo" dialog: a title, and whether to ask for acknowledgement."""
    errors = errors or {}
    where = channel_name or "this channel"
    return cards._card(
        _text("Track as memo", size="Large", weight="Bolder"),
        _text(
            f"This post in {where} becomes a memo: the channel's members are its recipients,"
            " and a retraction reaches each of them."
        ),
        _text(f"“{first_words(text, 30)}”", is_subtle=True),
        TextInput(id="title", label="Title", is_required=True, max_length=TITLE_LIMIT),
        _text(f"⚠️ {errors['title']}", color="Attention") if "title" in errors else None,
        ToggleInput(
            id="ask_ack",
            label="Ask for acknowledgement",
            title="Add an Acknowledge button",
            value="true",
        ),
        actions=[SubmitAction(title="Track as memo", data=SubmitActionData(dialog="track"))],
    )


# Private answers to a click on a channel card (the Action.Execute answer is shown only
# to the person who clicked).
NOT_MEMBER = (
    "You were not in this channel when this memo was posted, so it is not yours to"
    " confirm; nothing was recorded."
)


def acknowledged_text(label: str) -> str:
    return f"✅ You acknowledged {label}. Thank you."


SEEN_TEXT = "✅ You confirmed you have seen this retraction."


# ---------------------------------------------------------------- the adapter's part


class TeamsChannels:
    """Channels of teams the app is installed in, and posts in them."""

    def _channels_init(self) -> None:
        # channel id -> (team id, team name, channel name), learnt as teams are listed
        self._channel_index: dict[str, tuple[str, str, str]] = {}

    def _team_reference(self, team_id: str) -> dict:
        team = self.store.group(self.name, team_id) or {}
        return json.loads(team.get("reference") or "{}")

    def team_channels(self, team_id: str) -> list[dict] | Outcome:
        """A team's channels, [{id, name}] (GET /v3/teams/{teamId}/conversations)."""
        team = self.store.group(self.name, team_id) or {}
        client = self.client(self._service_url(self._team_reference(team_id)))
        result = self.call(None, lambda: client.teams.get_conversations(team_id))
        if isinstance(result, OUTCOMES):
            return result
        found = []
        for channel in result:
            name = channel.name or GENERAL
            found.append({"id": channel.id, "name": name})
            self._channel_index[channel.id] = (team_id, team.get("name") or team_id, name)
        return found

    def postable_channels(self, limit: int = 100) -> list[dict]:
        """What the compose dialog offers: [{id, name: "Team › Channel"}] of every team the
        app is installed in (a team that cannot be listed right now is left out)."""
        offered: list[dict] = []
        for team in self.store.groups(self.name):
            channels = self.team_channels(team["id"])
            if isinstance(channels, OUTCOMES):
                continue
            for channel in channels:
                offered.append(
                    {
                        "id": channel["id"],
                        "name": f"{team['name'] or team['id']} › {channel['name']}",
                    }
                )
        return offered[:limit]

    def _team_of_channel(self, channel: str) -> tuple[str, str, str] | None:
        """(team id, team name, channel name) of a channel of an installed team, or None."""
        if channel not in self._channel_index:
            for team in self.store.groups(self.name):
                self.team_channels(team["id"])
                if channel in self._channel_index:
                    break
        found = self._channel_index.get(channel)
        if found and self.store.group(self.name, found[0]) is None:
            return None  # the app has since been removed from the team
        return found

    def post_problems(self, channels) -> list[str]:
        problems = []
        for channel in channels:
            known = self._channel_index.get(channel)
            if self._team_of_channel(channel) is None:
                name = f"{known[1]} › {known[2]}" if known else f"channel {channel}"
                problems.append(
                    f"Errata cannot post in {name}: it is not installed in its team."
                    " Add Errata to the team, or choose another channel."
                )
        return problems

    def channel_name(self, channel: str) -> str:
        found = self._team_of_channel(channel)
        return f"{found[1]} › {found[2]}" if found else ""

    def channel_member_pages(self, channel: str) -> Iterator[list[Recipient]]:
        """The channel's members, a page (up to 500) at a time, each remembered so that
        they can be messaged (a DM notice, a reminder)."""
        found = self._team_of_channel(channel)
        if found is None:
            raise LookupError(f"channel {channel}: no installed team has it")
        yield from self._member_pages(channel, self._team_reference(found[0]))

    def _channel_client(self, channel: str):
        # a post in a thread is edited in "<channel>;messageid=<root>": its channel's team
        found = self._team_of_channel(channel.split(";messageid=", 1)[0])
        reference = self._team_reference(found[0]) if found else {}
        return self.client(self._service_url(reference))

    def _in_channel(self, conversation_id: str, card: AdaptiveCard, text: str) -> Outcome:
        client = self._channel_client(conversation_id.split(";messageid=", 1)[0])
        activity = MessageActivityInput(summary=text).add_card(card)
        result = self.call(
            conversation_id, lambda: client.conversations.create_activity(conversation_id, activity)
        )
        if isinstance(result, OUTCOMES):
            return result
        return Sent(conversation_id, result.id)

    def _edit_in_channel(self, post: Post, card: AdaptiveCard, text: str) -> Outcome:
        channel = post.channel or post.recipient_id
        if not post.ts:
            return Failed("no post to edit (its delivery was unconfirmed)")
        client = self._channel_client(channel)
        activity = MessageActivityInput(summary=text).add_card(card)
        result = self.call(
            channel,
            lambda: client.conversations.update_activity(channel, post.ts, activity),
        )
        if isinstance(result, OUTCOMES):
            return result
        return Sent(channel, post.ts)

    def send_post(self, memo: Memo, post: Post) -> Outcome:
        """A new thread in the channel whose root is the memo's card; for a person's post
        tracked as a memo, a reply in that post's thread."""
        where = post.recipient_id
        if post.thread_ts:
            where = f"{post.recipient_id};messageid={post.thread_ts}"
        return self._in_channel(where, post_card(memo, post), f"{memo.label}: {memo.title}")

    def send_post_notice(self, memo: Memo, retraction: Retraction, post: Post) -> Outcome:
        """A reply in the post's thread; the channel shows it under the card."""
        if not (post.thread_ts or post.ts):
            return self._in_channel(
                post.recipient_id,
                channel_notice_card(memo, retraction, post),
                f"RETRACTED: {memo.label} {memo.title}",
            )
        return self._in_channel(
            f"{post.recipient_id};messageid={post.thread_ts or post.ts}",
            channel_notice_card(memo, retraction, post),
            f"RETRACTED: {memo.label} {memo.title}",
        )

    def edit_post(self, memo: Memo, retraction: Retraction, post: Post) -> Outcome:
        card = retracted_post_card(memo, retraction, self.settings.show_retracted_body, post)
        with _POST_EDITS:
            return self._edit_in_channel(post, card, f"RETRACTED: {memo.label} {memo.title}")

    def update_post_count(self, memo: Memo, post: Post, acknowledged: int) -> Outcome:
        with _POST_EDITS:
            if self.store.retraction(memo.id) is not None:
                return Failed("retracted")  # its retracted form stays on top
            return self._edit_in_channel(
                post, post_card(memo, post, acknowledged), f"{memo.label}: {memo.title}"
            )
