"""Pure rules of Errata: states, IDs, audiences, the memo's lifecycle (sending
safely), records, outcomes, and the outbox's state machine.

Nothing here talks to Slack, Teams or the database, and nothing reads the
clock: callers pass `now`, so every rule can be tested with plain values.
(Durations and working hours are in bot/hours.py.) It is longer than our usual
~600 lines on purpose: these are the words every other module speaks (the records
and states are imported from here by ~40 modules), and the state machines are read
beside the states they move between.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# ---------------------------------------------------------------- states

MEMO_SENDING, MEMO_SENT, MEMO_RETRACTING, MEMO_RETRACTED = (
    "sending",
    "sent",
    "retracting",
    "retracted",
)
# Before a memo sends (see "Sending safely"): waiting for a second pair of eyes, for its
# send time, or out its undo window. Its copies exist but are not claimed yet.
MEMO_AWAITING_APPROVAL, MEMO_SCHEDULED, MEMO_HELD = "awaiting approval", "scheduled", "held"
BEFORE_SENDING = (MEMO_AWAITING_APPROVAL, MEMO_SCHEDULED, MEMO_HELD)
# ... and how one that never went out ended: nobody got a copy, nobody needs a notice.
MEMO_REJECTED, MEMO_UNDONE, MEMO_CANCELLED = "rejected", "undone", "cancelled"
NEVER_SENT = (MEMO_REJECTED, MEMO_UNDONE, MEMO_CANCELLED)
# The reason each of those gives its recipients' copies (`cancelled`, in the report).
CANCEL_REASONS = {
    MEMO_REJECTED: "rejected",
    MEMO_UNDONE: "undone",
    MEMO_CANCELLED: "retracted before its time",
}

# A copy (one person's delivery of the memo), a notice (one person's retraction
# message) and an edit (the retraction applied to a delivered copy) all move
# through the same delivery states. `sending` means the request may be on its
# way: the only state whose outcome can be unknown after a crash.
PENDING, SENDING, DELIVERED, FAILED, CANCELLED = (
    "pending",
    "sending",
    "delivered",
    "failed",
    "cancelled",
)
# An edit waits for its notice to settle before it may go (it points at the notice).
WAITING = "waiting"

# Transient faults are retried this many times before the item fails: with the
# backoff below (1, 2, 4 ... 60 s) that rides out about four minutes of outage.
MAX_ATTEMPTS = 10

# Slack limits that the compose modal enforces (header block text, section text).
TITLE_LIMIT = 150
MESSAGE_LIMIT = 3000
REASON_LIMIT = 1500
CORRECTIONS_LIMIT = 2500


# ---------------------------------------------------------------- memo IDs

_MEMO_REF = re.compile(r"^\s*(?:[Mm]-?)?(\d{1,9})\s*$")


def memo_label(memo_id: int) -> str:
    return f"M-{memo_id}"


def parse_memo_ref(text: str) -> int | None:
    """`M-7`, `m-7`, `M7` and `7` all name memo 7; anything else is None."""
    match = _MEMO_REF.match(text or "")
    return int(match.group(1)) if match else None


def split_memo_ref(text: str) -> tuple[int | None, str]:
    """Split `/retract M-7 the reason` into (7, "the reason")."""
    head, _, rest = (text or "").strip().partition(" ")
    memo_id = parse_memo_ref(head)
    if memo_id is None:
        return None, (text or "").strip()
    return memo_id, rest.strip()


# ---------------------------------------------------------------- audiences


@dataclass(frozen=True)
class Audience:
    """Who a memo is for, as chosen in the compose form (IDs per platform)."""

    people: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    everyone: bool = False
    platform: str = ""
    # Channels the memo is posted in (once each); their members are its recipients there.
    posts: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.people or self.channels or self.groups or self.everyone or self.posts)

    def to_json(self) -> dict:
        return {
            "platform": self.platform,
            "people": list(self.people),
            "channels": list(self.channels),
            "groups": list(self.groups),
            "everyone": self.everyone,
            **({"posts": list(self.posts)} if self.posts else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> Audience:
        return cls(
            people=tuple(data.get("people", ())),
            channels=tuple(data.get("channels", ())),
            groups=tuple(data.get("groups", ())),
            everyone=bool(data.get("everyone")),
            platform=data["platform"],  # always stored (migration 009 named it in old rows)
            posts=tuple(data.get("posts", ())),
        )


def audiences_of(value: Audience | Iterable[Audience] | dict | list) -> tuple[Audience, ...]:
    """A memo's audiences, one per platform: from an Audience, several, or their JSON."""
    if isinstance(value, Audience):
        return (value,)
    if isinstance(value, dict):
        return (Audience.from_json(value),)
    return tuple(a if isinstance(a, Audience) else Audience.from_json(a) for a in value)


PERSON, GROUP, EMAIL, CHANNEL = "person", "group", "email", "channel"


@dataclass(frozen=True)
class Principal:
    """Someone (or somewhere) named in the settings: a person, a group of people, an
    email (which matches a person on any platform: `platform` is ""), or a channel.
    The settings say which platform each belongs to; nothing here guesses it."""

    platform: str
    kind: str
    id: str

    def names(self, platform: str, person_id: str, email: str = "") -> bool:
        """Whether this principal is that person themselves (groups are looked up apart)."""
        if self.kind == EMAIL:
            return bool(email) and email.lower() == self.id
        return self.kind == PERSON and self.platform == platform and self.id == person_id

    def __str__(self) -> str:
        return self.id if self.kind == EMAIL else f"{self.platform}:{self.id}"


@dataclass(frozen=True)
class Recipient:
    """One person a memo goes to. `error` set means they cannot receive it."""

    platform: str
    id: str
    name: str = ""
    error: str | None = None


def merge_recipients(*groups: Iterable[Recipient]) -> list[Recipient]:
    """Each person once, in the order first met; a reachable entry wins over an error."""
    merged: dict[tuple[str, str], Recipient] = {}
    for group in groups:
        for person in group:
            key = (person.platform, person.id)
            known = merged.get(key)
            if known is None or (known.error and not person.error):
                merged[key] = person
    return list(merged.values())


def compose_errors(
    *,
    title: str,
    body: str,
    audience: Audience | Iterable[Audience],
    ack_deadline: datetime | None,
    now: datetime,
    send_at: datetime | None = None,
) -> dict[str, str]:
    """What is wrong with a compose form, by field; empty when it can be sent."""
    errors: dict[str, str] = {}
    if not title.strip():
        errors["title"] = "Give the memo a title."
    elif len(title) > TITLE_LIMIT:
        errors["title"] = f"The title is {len(title)} characters; the limit is {TITLE_LIMIT}."
    if not body.strip():
        errors["message"] = "Write the message."
    elif len(body) > MESSAGE_LIMIT:
        errors["message"] = (
            f"The message is {len(body)} characters; one message holds {MESSAGE_LIMIT}."
        )
    if all(a.empty for a in audiences_of(audience)):
        errors["people"] = (
            "Choose at least one audience: people, members of channels, a user group, everyone,"
            " or channels to post in."
        )
    if ack_deadline is not None and ack_deadline <= now:
        errors["deadline"] = "The acknowledgement deadline must be in the future."
    if send_at is not None and send_at <= now:
        errors["send_at"] = "The send time has passed: choose a time in the future, or none."
    elif send_at is not None and ack_deadline is not None and ack_deadline <= send_at:
        errors["deadline"] = "The acknowledgement deadline must be after the send time."
    return errors


def retract_errors(*, reason: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not reason.strip():
        errors["reason"] = (
            "Say why the memo is being retracted; everyone who got it will read this."
        )
    elif len(reason) > REASON_LIMIT:
        errors["reason"] = f"The reason is {len(reason)} characters; the limit is {REASON_LIMIT}."
    return errors


# ---------------------------------------------------------------- sending safely


def needs_approval(*, recipients: int, everyone: bool, approval_over: int | None) -> bool:
    """Whether a memo waits for a second member of comms staff (`APPROVAL_OVER`, None:
    off): one to more people than the threshold, or to everyone."""
    if approval_over is None:
        return False
    return everyone or recipients > approval_over


def state_to_send(
    *, send_at: datetime | None, hold_seconds: float, now: datetime
) -> tuple[str, datetime | None]:
    """Where a memo goes once nothing but time stands in its way (after the submit when it
    needs no approval, after its approval, at its send time): `scheduled` before its send
    time, else `held` for its undo window, else `sending`. Returns (state, held_until)."""
    if send_at is not None and send_at > now:
        return MEMO_SCHEDULED, None
    if hold_seconds > 0:
        return MEMO_HELD, now + timedelta(seconds=hold_seconds)
    return MEMO_SENDING, None


def first_state(
    *, approval_possible: bool, send_at: datetime | None, hold_seconds: float, now: datetime
) -> tuple[str, datetime | None]:
    """The state a new memo starts in. When approval is possible (`APPROVAL_OVER` set) it
    waits in `awaiting approval` while its audience is resolved: only then is its size
    known, and `resolved_state` says whether it really needs the approval."""
    if approval_possible:
        return MEMO_AWAITING_APPROVAL, None
    return state_to_send(send_at=send_at, hold_seconds=hold_seconds, now=now)


def resolved_state(
    memo: Memo, *, recipients: int, approval_over: int | None, now: datetime
) -> tuple[str, datetime | None]:
    """A memo's state once its audience is resolved: still awaiting approval when it needs
    it, else on its way (scheduled, held or sending). Other states are left as they are."""
    if memo.state != MEMO_AWAITING_APPROVAL:
        return memo.state, memo.held_until
    everyone = any(a.everyone for a in memo.audiences)
    if recipients and needs_approval(
        recipients=recipients, everyone=everyone, approval_over=approval_over
    ):
        return MEMO_AWAITING_APPROVAL, None
    return state_to_send(send_at=memo.send_at, hold_seconds=memo.hold_seconds, now=now)


APPROVE, REJECT, UNDO, CANCEL, TIME_PASSES = "approve", "reject", "undo", "cancel", "time passes"


def transition(memo: Memo, event: str, now: datetime) -> tuple[str, datetime | None] | None:
    """What an event does to a memo that has not started sending: its new state (and the
    end of its undo window), or None when the event does not apply to it (a second
    decision, an undo after the window, a send time not yet come).

    approve: awaiting approval -> scheduled | held | sending; reject: awaiting approval ->
    rejected; undo: held -> undone; cancel (a retraction before its time): any state
    before sending -> cancelled; time passes: scheduled -> held | sending at its send time,
    held -> sending at the end of its window."""
    state = memo.state
    if event == APPROVE and state == MEMO_AWAITING_APPROVAL:
        return state_to_send(send_at=memo.send_at, hold_seconds=memo.hold_seconds, now=now)
    if event == REJECT and state == MEMO_AWAITING_APPROVAL:
        return MEMO_REJECTED, None
    if event == UNDO and state == MEMO_HELD:
        return MEMO_UNDONE, None
    if event == CANCEL and state in BEFORE_SENDING:
        return MEMO_CANCELLED, None
    if event == TIME_PASSES:
        if state == MEMO_SCHEDULED and memo.send_at is not None and memo.send_at <= now:
            return state_to_send(send_at=None, hold_seconds=memo.hold_seconds, now=now)
        if state == MEMO_HELD and memo.held_until is not None and memo.held_until <= now:
            return MEMO_SENDING, None
    return None


def seconds_left(memo: Memo, now: datetime) -> int:
    """Whole seconds left of a held memo's undo window (0 when none)."""
    if memo.state != MEMO_HELD or memo.held_until is None:
        return 0
    return max(0, math.ceil((memo.held_until - now).total_seconds()))


# ---------------------------------------------------------------- records


@dataclass
class Memo:
    id: int
    title: str
    body: str
    sender_id: str
    sender_platform: str
    ask_ack: bool
    ack_deadline: datetime | None
    audiences: tuple[Audience, ...]
    state: str
    created_at: datetime
    status_channel: str | None = None
    status_ts: str | None = None
    sent_at: datetime | None = None
    send_at: datetime | None = None  # "Send at": scheduled until then
    held_until: datetime | None = None  # in its undo window until then
    hold_seconds: float = 0.0  # the undo window it was given (UNDO_WINDOW when submitted)
    recipients_added: bool = False
    decision: str | None = None  # approved | rejected
    decided_by: str | None = None
    decided_by_platform: str | None = None
    decided_by_name: str | None = None
    decided_at: datetime | None = None
    decision_reason: str | None = None
    stopped_by_name: str | None = None  # who rejected, undid or cancelled it
    stopped_at: datetime | None = None

    @property
    def label(self) -> str:
        return memo_label(self.id)

    @property
    def before_sending(self) -> bool:
        return self.state in BEFORE_SENDING

    @property
    def never_sent(self) -> bool:
        return self.state in NEVER_SENT


@dataclass
class Retraction:
    memo_id: int
    retracted_by: str
    retracted_by_platform: str
    reason: str
    corrections: str
    retracted_at: datetime
    applied: bool = True  # False between the request and the retraction's transaction
    status_channel: str | None = None
    status_ts: str | None = None
    done_at: datetime | None = None


@dataclass(kw_only=True)
class Delivery:
    """What a copy and a notice share: one message to one person, and its fate."""

    id: int
    memo_id: int
    platform: str
    recipient_id: str
    state: str
    attempts: int = 0
    in_doubt: bool = False
    channel: str | None = None
    ts: str | None = None
    error: str | None = None
    delivered_at: datetime | None = None
    claimed_at: datetime | None = None


@dataclass(kw_only=True)
class Copy(Delivery):
    recipient_name: str = ""
    acknowledged_at: datetime | None = None
    post_id: int | None = None  # reached through this channel post, not by DM


@dataclass(kw_only=True)
class Post(Delivery):
    """The memo posted once in a channel (`recipient_id` is the channel); or, for a
    person's post tracked as a memo, the bot's reply in its thread (`thread_ts`, by
    `author_id`). `acknowledged_shown`: the count the post shows now."""

    channel_name: str = ""
    thread_ts: str | None = None
    author_id: str | None = None
    acknowledged_shown: int = 0


@dataclass(kw_only=True)
class Notice(Delivery):
    copy_id: int
    priority: int
    seen_at: datetime | None = None
    reminders_sent: int = 0
    last_reminder_at: datetime | None = None
    escalated_at: datetime | None = None
    post_id: int | None = None  # delivered by the channel notice of this post, not by DM


@dataclass(frozen=True)
class Approval:
    """One approval request: a DM (Teams: a card) to a member of comms staff."""

    id: int
    memo_id: int
    platform: str
    recipient_id: str
    state: str
    in_doubt: bool = False
    channel: str | None = None
    ts: str | None = None


@dataclass
class Edit:
    copy_id: int
    memo_id: int
    state: str
    attempts: int = 0
    error: str | None = None


@dataclass(frozen=True)
class Reminder:
    """One reminder: of a retraction not yet confirmed (`kind` "retraction", `target_id`
    a notice) or of an acknowledgement the memo asks for (`kind` "ack", a copy); `seq`
    counts from 1 for that person."""

    id: int
    memo_id: int
    kind: str
    target_id: int
    seq: int
    platform: str
    recipient_id: str
    in_doubt: bool = False


@dataclass(frozen=True)
class Escalation:
    """The list of people who still have not confirmed a retraction, for one recipient
    (the retractor, or the escalation channel); `people` are "platform:id"."""

    id: int
    memo_id: int
    platform: str
    recipient_id: str
    people: tuple[str, ...]
    in_doubt: bool = False


@dataclass(frozen=True)
class Refusal:
    """Why an action cannot go ahead, in words for the person who asked."""

    message: str


# ---------------------------------------------------------------- outcomes of a platform call


@dataclass(frozen=True)
class Sent:
    """The platform accepted the message; `channel` and `ts` locate it. `note` says
    what is uncertain about it (shown in the report), e.g. a delivery unconfirmed."""

    channel: str
    ts: str
    note: str = ""


@dataclass(frozen=True)
class Retry:
    """Nothing happened on the platform's side; try again after `after` seconds."""

    after: float
    reason: str
    rate_limited: bool = False


@dataclass(frozen=True)
class Unknown:
    """The request may or may not have been acted on (connection lost, timeout).

    `check_after`: how long the platform may still act on it, so the check of
    its fate must wait at least that long (a timed-out request can still land)."""

    reason: str
    check_after: float = 0.0


@dataclass(frozen=True)
class Failed:
    """A permanent refusal; never retried."""

    reason: str


@dataclass(frozen=True)
class NotFound:
    """A check of an in-doubt send found no trace of it: it never arrived."""


Outcome = Sent | Retry | Unknown | Failed | NotFound
OUTCOMES = (Sent, Retry, Unknown, Failed, NotFound)


def backoff(attempts: int, base: float = 1.0, cap: float = 60.0) -> float:
    """Seconds before retry number `attempts` (1, 2, 4, ... capped)."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


# ---------------------------------------------------------------- the outbox's state machine


@dataclass(frozen=True)
class ItemKind:
    """What differs between the kinds of outbox item: where it is stored, the word the
    audit log uses, and whether a send checked absent is cancelled once its memo has
    stopped sending (a copy is; a notice, an edit, a reminder is sent again)."""

    table: str
    label: str
    cancel_when_absent: bool = False


ITEM_KINDS: dict[str, ItemKind] = {
    kind.table: kind
    for kind in (
        ItemKind("copies", "copy", cancel_when_absent=True),
        ItemKind("notices", "notice"),
        ItemKind("edits", "edit"),
        ItemKind("reminders", "reminder"),
        ItemKind("escalations", "escalation"),
        ItemKind("approvals", "approval request"),
        # A memo posted in a channel, its retraction notice in the post's thread (also sent
        # to the channel), and the post edited into its retracted form.
        ItemKind("posts", "channel post", cancel_when_absent=True),
        ItemKind("post_notices", "channel notice"),
        ItemKind("post_edits", "channel post edit"),
    )
}


@dataclass(frozen=True)
class Item:
    """An outbox item as the state machine sees it."""

    state: str
    attempts: int = 0
    in_doubt: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Step:
    """What an outcome does to an item: its new state, tries and doubt, the error to
    show, when to try again (seconds from now, for `pending`), and the audit entry
    ("delivered" or "failed") when it settles."""

    state: str
    attempts: int
    in_doubt: bool
    error: str | None
    retry_after: float | None = None
    sent: Sent | None = None
    audit: str | None = None

    @property
    def settled(self) -> bool:
        return self.state in (DELIVERED, FAILED, CANCELLED)


def step(kind: ItemKind, item: Item, outcome: Outcome, *, memo_sending: bool) -> Step | None:
    """The one place that says what an outcome does to an outbox item; None when the
    item is not `sending` any more (an outcome that arrives late changes nothing).

    Rate limits and failed checks of an in-doubt send use up no tries; an unknown
    fate is never failed before it has been checked; a copy checked absent after its
    memo stopped sending is cancelled, never sent."""
    if item.state != SENDING:
        return None
    tries = item.attempts
    if isinstance(outcome, Sent):
        return Step(DELIVERED, tries, False, outcome.note or None, sent=outcome, audit="delivered")
    if isinstance(outcome, Failed):
        return Step(FAILED, tries, False, outcome.reason, audit="failed")
    if isinstance(outcome, NotFound):
        if kind.cancel_when_absent and not memo_sending:
            return Step(CANCELLED, tries, False, item.error)
        if tries >= MAX_ATTEMPTS:  # checked: it never arrived, and the tries are used up
            return Step(FAILED, tries, False, item.error or "not delivered", audit="failed")
        return Step(PENDING, tries, False, item.error, retry_after=0.0)
    if isinstance(outcome, Unknown):
        tries += 1
        return Step(
            PENDING,
            tries,
            True,
            outcome.reason,
            retry_after=max(backoff(tries), outcome.check_after),
        )
    if outcome.rate_limited:
        return Step(PENDING, tries, item.in_doubt, outcome.reason, retry_after=outcome.after)
    if item.in_doubt:  # the check itself could not run
        return Step(PENDING, tries, True, item.error, retry_after=max(outcome.after, backoff(3)))
    tries += 1
    if tries >= MAX_ATTEMPTS:
        return Step(FAILED, item.attempts, False, outcome.reason, audit="failed")
    return Step(PENDING, tries, False, outcome.reason, retry_after=outcome.after or backoff(tries))


# ---------------------------------------------------------------- counts and progress


@dataclass
class MemoCounts:
    recipients: int = 0
    pending: int = 0
    delivered: int = 0
    failed: int = 0
    cancelled: int = 0
    acknowledged: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    @property
    def settled(self) -> int:
        return self.delivered + self.failed + self.cancelled


@dataclass
class RetractionCounts:
    to_notify: int = 0
    notified: int = 0
    failed: int = 0
    pending: int = 0
    seen: int = 0
    edits_total: int = 0
    edits_done: int = 0
    edits_failed: int = 0
    cancelled: int = 0

    @property
    def outstanding(self) -> int:
        """Delivered notices not yet confirmed as seen."""
        return self.notified - self.seen


def progress_bar(done: int, total: int, width: int = 20) -> str:
    if total <= 0:
        return "▓" * width + " 100%"
    share = min(1.0, done / total)
    filled = round(share * width)
    return "▓" * filled + "░" * (width - filled) + f" {share:.0%}"
