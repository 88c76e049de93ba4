"""What the stand-in Teams records: connector calls, chat messages (with edits), replies."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from standin.teams import cards as C


@dataclass(slots=True)
class Call:
    """One HTTP request to the Bot Connector (or the token endpoint), whatever became of it."""

    method: str  # the operation: "activities.send", "conversations.create", "token", ...
    verb: str
    path: str
    body: Any = None  # parsed JSON (or form for the token endpoint)
    status: int = 0  # 0 when the connection was dropped without an answer
    error: str | None = None  # the error code answered, e.g. "ConversationBlockedByUser"
    conversation_id: str | None = None
    activity_id: str | None = None
    started: float = 0.0  # wall time
    finished: float = 0.0
    fault: str | None = (
        None  # "429", "5xx", "412", "drop_before", "drop_after", "ratelimited", "blocked"
    )
    query: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass(slots=True)
class Version:
    """An earlier state of a message: what it showed from ``since`` until ``until``."""

    text: str
    attachments: list
    since: float
    until: float
    source: str = "bot"  # "bot" (posted/PUT) or "invoke" (an Action.Execute card response)

    def cards(self) -> list[dict[str, Any]]:
        return C.cards_of(self.attachments)

    def card(self) -> dict[str, Any] | None:
        return C.card_of(self.attachments)

    def content(self) -> str:
        return C.flatten(self.text, self.cards())

    def actions(self) -> list[dict[str, Any]]:
        return [C.describe(a) for c in self.cards() for a in C.actions(c)]

    def buttons(self) -> list[str]:
        return [a["title"] for a in self.actions()]


@dataclass(slots=True)
class Message:
    """A message in a chat as it stands now; earlier versions in ``edits`` (oldest first).

    ``sender`` is "bot" for what the bot posted and "user" for what a person
    wrote (acting as Teams). ``activity`` is the activity as last posted/PUT.
    """

    conversation_id: str
    id: str
    text: str = ""
    attachments: list = field(default_factory=list)
    activity: dict[str, Any] = field(default_factory=dict)
    sender: str = "bot"
    from_id: str = ""
    reply_to_id: str | None = None
    posted_at: float = 0.0
    edits: list[Version] = field(default_factory=list)
    updated_at: float | None = None
    updated_by: str = "bot"  # what made the current version: "bot" or "invoke"
    deleted: bool = False
    deleted_at: float | None = None
    warnings: list[str] = field(default_factory=list)  # card problems Teams would render badly
    # What the device that clicked an Action.Execute button shows instead (Teams shows the
    # answer card "only to the specific client that requested it"), by user id, until the
    # message itself is next edited. Other devices and a reload show the message above.
    views: dict[str, list] = field(default_factory=dict)

    # ------------------------------------------------------------- assertions
    def cards(self) -> list[dict[str, Any]]:
        return C.cards_of(self.attachments)

    def card(self) -> dict[str, Any] | None:
        """The (first) Adaptive Card, as it stands now."""
        return C.card_of(self.attachments)

    def content(self) -> str:
        """All visible text: the text, then each card's text, facts, labels, button titles."""
        return C.flatten(self.text, self.cards())

    def actions(self) -> list[dict[str, Any]]:
        """[{title, type, verb, id, data, msteams, url}] of every card action, in card order."""
        return [C.describe(a) for c in self.cards() for a in C.actions(c)]

    def buttons(self) -> list[str]:
        """The action (button) titles, in card order."""
        return [a["title"] for a in self.actions()]

    def action(self, title: str) -> dict[str, Any]:
        """The action titled ``title`` (as ``actions()`` describes it)."""
        for c in self.cards():
            try:
                return C.describe(C.find_action(c, title))
            except LookupError:
                continue
        raise LookupError(f"no button {title!r} (buttons: {self.buttons()})")

    def card_on_device(self, user_id: str) -> dict[str, Any] | None:
        """The card as the device ``user_id`` acted on shows it (an invoke's answer), else
        as everyone sees it."""
        return C.card_of(self.views.get(user_id) or self.attachments)

    @property
    def edited(self) -> bool:
        return bool(self.edits)

    # ----------------------------------------------------------------- shapes
    def snapshot(self) -> Message:
        """A copy that later edits will not change."""
        return Message(
            conversation_id=self.conversation_id,
            id=self.id,
            text=self.text,
            attachments=copy.deepcopy(self.attachments),
            activity=copy.deepcopy(self.activity),
            sender=self.sender,
            from_id=self.from_id,
            reply_to_id=self.reply_to_id,
            posted_at=self.posted_at,
            edits=list(self.edits),
            updated_at=self.updated_at,
            updated_by=self.updated_by,
            deleted=self.deleted,
            deleted_at=self.deleted_at,
            warnings=list(self.warnings),
            views=copy.deepcopy(self.views),
        )

    def replace(
        self,
        *,
        text: str,
        attachments: list,
        activity: dict[str, Any] | None,
        at: float,
        source: str = "bot",
    ) -> None:
        """Edit in place, keeping the previous version in ``edits``."""
        since = self.updated_at if self.updated_at is not None else self.posted_at
        self.edits.append(Version(self.text, self.attachments, since, at, self.updated_by))
        self.text = text
        self.attachments = attachments
        if activity is not None:
            self.activity = activity
        self.updated_at = at
        self.updated_by = source
        self.views.clear()  # an edit re-renders the message on every device


@dataclass(slots=True)
class InvokeRecord:
    """An invoke the stand-in sent as Teams and what became of the bot's answer."""

    user: str
    name: str  # "adaptiveCard/action", "task/fetch", "task/submit"
    value: Any
    status: int
    body: Any
    outcome: str
    at: float
    message_id: str | None = None


@dataclass(slots=True)
class Dialog:
    """An open dialog (task module) of one user."""

    id: str
    user: str
    title: str
    card: dict[str, Any] | None
    url: str | None = None
    height: Any = None
    width: Any = None
    conversation_id: str = ""
    message_id: str | None = None  # the message whose button opened it
    opened_at: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier cards
    # A message action's dialog: {commandId, messagePayload}; its submit is then
    # composeExtension/submitAction, not task/submit.
    command: dict[str, Any] | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "card": copy.deepcopy(self.card),
            "url": self.url,
            "height": self.height,
            "width": self.width,
            "message_id": self.message_id,
            "opened_at": self.opened_at,
        }

    def content(self) -> str:
        return C.flatten(self.title, [self.card] if self.card else [])


@dataclass(slots=True)
class Reply:
    """The bot's HTTP answer to something the stand-in sent as Teams.

    ``outcome`` says what Teams did with it: "delivered" (message, events),
    "card_replaced", "message_shown", "dialog_opened", "dialog_updated",
    "dialog_closed", "error_shown", "too_late" (answered after the invoke
    timeout: ignored), "not_sent" (client-side validation stopped it; see
    ``errors_by_label``).
    """

    status: int
    headers: dict[str, str]
    body: str
    elapsed: float
    request: dict[str, Any] | None = None  # the activity that was sent
    outcome: str | None = None
    shown: str | None = None  # a message Teams showed the user (invoke / dialog answers)
    card: dict[str, Any] | None = None  # the card Teams now shows (replacement or dialog)
    errors_by_label: dict[str, str] | None = None
    problem: str | None = None  # why Teams showed an error, when it did

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        body = self.body if len(self.body) < 200 else self.body[:200] + "..."
        return (
            f"Reply(status={self.status}, outcome={self.outcome}, "
            f"elapsed={self.elapsed:.3f}, body={body!r})"
        )


class Replies(list):
    """Several replies (e.g. installationUpdate then conversationUpdate)."""

    @property
    def ok(self) -> bool:
        return bool(self) and all(r.ok for r in self)

    @property
    def status(self) -> int:
        return self[-1].status if self else 0
