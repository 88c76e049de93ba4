"""Pure rules of Errata: states, IDs, audiences, durations, working hours, outcomes.

Nothing here talks to Slack, Teams or the database, and nothing reads the
clock: callers pass `now`, so every rule can be tested with plain values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# ---------------------------------------------------------------- states

MEMO_SENDING, MEMO_SENT, MEMO_RETRACTING, MEMO_RETRACTED = (
    "sending",
    "sent",
    "retracting",
    "retracted",
)

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


# The platform of records written before there was more than one (stored audiences
# without a "platform" key). Only reading old rows uses it.
LEGACY_PLATFORM = "slack"

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


# ---------------------------------------------------------------- durations

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `1d`, `1h30m`: a positive duration."""
    compact = (text or "").strip().lower()
    if not compact or _DURATION_PART.sub("", compact).strip():
        raise ValueError("must be a duration such as 90s, 15m, 2h or 1d")
    seconds = sum(float(n) * _UNITS[u] for n, u in _DURATION_PART.findall(compact))
    if seconds <= 0:
        raise ValueError("must be longer than zero")
    return timedelta(seconds=seconds)


# ---------------------------------------------------------------- working hours


@dataclass(frozen=True)
class WorkingHours:
    """The daily window, in each person's own time zone, when reminders may go.

    `start == end == None` means no window (`off`). A window whose end is
    before its start spans midnight (e.g. 22:00-06:00 for a night shift).
    """

    start: time | None = None
    end: time | None = None

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        value = (text or "").strip().lower()
        if value == "off":
            return cls()
        match = re.match(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$", value)
        if not match:
            raise ValueError("must look like 09:00-18:00, or be off")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise ValueError("has an hour or minute out of range")
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if time(h1, m1) == end:
            raise ValueError("must not start and end at the same time")
        return cls(time(h1, m1), end)

    @property
    def off(self) -> bool:
        return self.start is None

    def __str__(self) -> str:
        if self.off:
            return "off"
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, local: time) -> bool:
        if self.off:
            return True
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, instant: datetime, zone: ZoneInfo) -> datetime:
        """The first instant at or after `instant` inside the window in `zone`.

        Works on wall-clock times, so a window stays 09:00-18:00 local across
        daylight-saving changes; a start that falls in a DST gap moves to the
        first real instant after it.
        """
        instant = instant.astimezone(UTC)
        if self.off:
            return instant
        local = instant.astimezone(zone)
        if self.contains(local.time().replace(tzinfo=None)):
            return instant
        day: date = local.date()
        if local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)
        opening = _wall_clock(day, self.start, zone)
        return max(opening, instant)


def _wall_clock(day: date, at: time, zone: ZoneInfo) -> datetime:
    """`day at` in `zone`, in UTC; in a DST gap, the first real instant after it."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)  # earlier of a repeated hour
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # Wall time skipped by a DST change: walk to the first minute past the gap.
    instant = min(first, naive.replace(tzinfo=zone, fold=1).astimezone(UTC))
    while instant.astimezone(zone).replace(tzinfo=None) < naive:
        instant += timedelta(minutes=1)
    return instant


def reminder_due(
    *,
    anchor: datetime,
    reminders_sent: int,
    last_reminder_at: datetime | None,
    first_after: timedelta,
    every: timedelta,
) -> datetime:
    """When the next reminder falls due, before the working-hours window applies."""
    if reminders_sent == 0 or last_reminder_at is None:
        return anchor + first_after
    return last_reminder_at + every


# ---------------------------------------------------------------- audiences


@dataclass(frozen=True)
class Audience:
    """Who a memo is for, as chosen in the compose form (IDs per platform)."""

    people: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    everyone: bool = False
    platform: str = ""

    @property
    def empty(self) -> bool:
        return not (self.people or self.channels or self.groups or self.everyone)

    def to_json(self) -> dict:
        return {
            "platform": self.platform,
            "people": list(self.people),
            "channels": list(self.channels),
            "groups": list(self.groups),
            "everyone": self.everyone,
        }

    @classmethod
    def from_json(cls, data: dict) -> Audience:
        return cls(
            people=tuple(data.get("people", ())),
            channels=tuple(data.get("channels", ())),
            groups=tuple(data.get("groups", ())),
            everyone=bool(data.get("everyone")),
            # Memos stored before Teams existed name no platform: they were Slack's.
            platform=data.get("platform") or LEGACY_PLATFORM,
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
            "Choose at least one audience: people, members of channels, a user group or everyone."
        )
    if ack_deadline is not None and ack_deadline <= now:
        errors["deadline"] = "The acknowledgement deadline must be in the future."
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

    @property
    def label(self) -> str:
        return memo_label(self.id)


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


@dataclass(kw_only=True)
class Notice(Delivery):
    copy_id: int
    priority: int
    seen_at: datetime | None = None
    reminders_sent: int = 0
    last_reminder_at: datetime | None = None
    escalated_at: datetime | None = None


@dataclass
class Edit:
    copy_id: int
    memo_id: int
    state: str
    attempts: int = 0
    error: str | None = None


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
