"""The generated workspace: people, channels and user groups, with Slack's JSON shapes.

``generate_directory(people=500, seed=1)`` is deterministic for a seed. ``people``
is the exact number of active humans (what "Everyone in the workspace" must
reach); deactivated accounts, bots, app users and Slackbot come on top.
"""

from __future__ import annotations

import functools
import random
import threading
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from standin.slack import names as N

ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
EMAIL_DOMAIN = "errata-sandbox.example"
GUEST_DOMAIN = "contractor.example"
SLACKBOT_ID = "USLACKBOT"

_FOLD = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "œ": "oe",
        "Œ": "OE",
    }
)


def fold_ascii(text: str) -> str:
    """'Zoë Ødegaard' -> 'Zoe Odegaard' (what Slack's *_normalized fields hold)."""
    text = text.translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=4096)
def _handle_part(text: str) -> str:
    folded = fold_ascii(text).lower()
    return "".join(c for c in folded if c.isascii() and c.isalnum())


def tz_fields(tz: str, now: datetime | None = None) -> tuple[str, int]:
    """(tz_label, tz_offset seconds) as Slack reports them for ``tz`` at ``now``."""
    zone = ZoneInfo(tz)
    now = now or datetime.now(UTC)
    local = now.astimezone(zone)
    offset = int(local.utcoffset().total_seconds())
    labels = N.TZ_LABELS.get(tz)
    if labels is not None:
        return (labels[1] if local.dst() else labels[0]), offset
    return (local.tzname() or tz), offset


class IdMaker:
    """Slack-looking ids (``U`` + 10 upper-case alphanumerics), unique, seeded."""

    def __init__(self, rng: random.Random):
        self._rng = rng
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def make(self, prefix: str, length: int = 10) -> str:
        space = 36**length
        bits = space.bit_length() + 8
        with self._lock:
            while True:
                n = self._rng.getrandbits(bits) % space
                chars = []
                for _ in range(length):
                    n, r = divmod(n, 36)
                    chars.append(ID_ALPHABET[r])
                new = prefix + "".join(chars)
                if new not in self._seen:
                    self._seen.add(new)
                    return new

    def reserve(self, value: str) -> None:
        with self._lock:
            self._seen.add(value)


@dataclass(slots=True, eq=False)
class Person:
    """A workspace member (human, bot, app user, guest or Slackbot)."""

    id: str
    name: str  # the handle
    real_name: str
    display_name: str = ""
    first_name: str = ""
    last_name: str = ""
    email: str | None = None
    tz: str = "America/Los_Angeles"
    tz_label: str = "Pacific Standard Time"
    tz_offset: int = -28800
    deleted: bool = False
    is_bot: bool = False
    is_app_user: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    bot_id: str | None = None
    app_id: str | None = None
    title: str = ""
    color: str = "9f69e7"
    team_id: str = ""
    updated: int = 0
    status_text: str = ""
    status_emoji: str = ""

    @property
    def is_slackbot(self) -> bool:
        return self.id == SLACKBOT_ID

    @property
    def is_active_human(self) -> bool:
        """Active, not a bot, not an app user, not Slackbot."""
        return not (self.deleted or self.is_bot or self.is_app_user or self.is_slackbot)

    @property
    def avatar_hash(self) -> str:
        return "g" + format(zlib.crc32(self.id.encode()) * 2654435761 % (16**11), "011x")

    def to_slack(self, with_email: bool = True) -> dict[str, Any]:
        """The member object exactly as users.list / users.info give it."""
        images = {
            f"image_{size}": (
                f"https://secure.gravatar.com/avatar/{self.avatar_hash}.jpg?s={size}&d=mp"
            )
            for size in (24, 32, 48, 72, 192, 512)
        }
        profile: dict[str, Any] = {
            "title": self.title,
            "phone": "",
            "skype": "",
            "real_name": self.real_name,
            "real_name_normalized": fold_ascii(self.real_name),
            "display_name": self.display_name,
            "display_name_normalized": fold_ascii(self.display_name),
            "fields": None,
            "status_text": self.status_text,
            "status_emoji": self.status_emoji,
            "status_emoji_display_info": [],
            "status_expiration": 0,
            "avatar_hash": self.avatar_hash,
        }
        if self.email and not self.is_bot and with_email:
            # Slack includes profile.email only for tokens with users:read.email.
            profile["email"] = self.email
        profile["first_name"] = self.first_name
        profile["last_name"] = self.last_name
        profile.update(images)
        profile["status_text_canonical"] = ""
        profile["team"] = self.team_id
        if self.is_bot:
            profile["api_app_id"] = self.app_id or ""
            profile["bot_id"] = self.bot_id or ""
            profile["always_active"] = True
        if self.is_slackbot:
            profile["always_active"] = True
        out: dict[str, Any] = {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "deleted": self.deleted,
        }
        if self.deleted:
            # Deactivated accounts come without colour, time zone or role flags.
            out.update(
                {
                    "real_name": self.real_name,
                    "profile": profile,
                    "is_bot": self.is_bot,
                    "is_app_user": self.is_app_user,
                    "updated": self.updated,
                    "is_forgotten": False,
                }
            )
            return out
        out.update(
            {
                "color": self.color,
                "real_name": self.real_name,
                "tz": self.tz,
                "tz_label": self.tz_label,
                "tz_offset": self.tz_offset,
                "profile": profile,
                "is_admin": self.is_admin,
                "is_owner": self.is_owner,
                "is_primary_owner": self.is_primary_owner,
                "is_restricted": self.is_restricted,
                "is_ultra_restricted": self.is_ultra_restricted,
                "is_bot": self.is_bot,
                "is_app_user": self.is_app_user,
                "updated": self.updated,
                "is_email_confirmed": bool(self.email) and not self.is_bot,
                "who_can_share_contact_card": "EVERYONE",
            }
        )
        if self.is_bot:
            out["is_workflow_bot"] = False
        return out


@dataclass(slots=True, eq=False)
class Channel:
    """A public or private channel. ``members`` keeps Slack's order (join order)."""

    id: str
    name: str
    is_private: bool = False
    members: list[str] = field(default_factory=list)
    is_archived: bool = False
    is_general: bool = False
    created: int = 0
    creator: str = ""
    topic: str = ""
    purpose: str = ""
    team_id: str = ""
    bot_user_id: str = ""
    _member_set: set[str] | None = None
    _member_key: tuple | None = None

    def has_member(self, user_id: str) -> bool:
        members = self.members
        key = (id(members), len(members), members[-1] if members else None)
        if self._member_set is None or self._member_key != key:
            self._member_set = set(members)
            self._member_key = key
        return user_id in self._member_set

    @property
    def bot_is_member(self) -> bool:
        return bool(self.bot_user_id) and self.has_member(self.bot_user_id)

    def to_slack(self, include_num_members: bool = False) -> dict[str, Any]:
        """The conversation object as conversations.info gives it to the bot."""
        legacy_group = self.id.startswith("G")
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": not legacy_group,
            "is_group": legacy_group,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": False,
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": self.team_id,
            "updated": self.created * 1000,
            "parent_conversation": None,
            "creator": self.creator,
            "is_ext_shared": False,
            "shared_team_ids": [self.team_id],
            "pending_connected_team_ids": [],
            "is_member": self.bot_is_member,
            "topic": {
                "value": self.topic,
                "creator": self.creator if self.topic else "",
                "last_set": self.created if self.topic else 0,
            },
            "purpose": {
                "value": self.purpose,
                "creator": self.creator if self.purpose else "",
                "last_set": self.created if self.purpose else 0,
            },
            "previous_names": [],
        }
        if include_num_members:
            out["num_members"] = len(self.members)
        return out


@dataclass(slots=True, eq=False)
class UserGroup:
    """A user group (``S...``), mentionable as @handle."""

    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)
    description: str = ""
    team_id: str = ""
    created_by: str = ""
    date_create: int = 0
    channels: list[str] = field(default_factory=list)

    def to_slack(self, include_users: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "is_subteam": True,
            "name": self.name,
            "description": self.description,
            "handle": self.handle,
            "is_external": False,
            "date_create": self.date_create,
            "date_update": self.date_create,
            "date_delete": 0,
            "auto_type": None,
            "auto_provision": False,
            "enterprise_subteam_id": "",
            "created_by": self.created_by,
            "updated_by": self.created_by,
            "deleted_by": None,
            "prefs": {"channels": list(self.channels), "groups": []},
            "user_count": len(self.users),
            "channel_count": len(self.channels),
        }
        if include_users:
            out["users"] = list(self.users)
        return out


class Directory:
    """The members, channels and user groups of one workspace.

    Thread-safe for the stand-in's readers; ``add_*`` may be called while the
    server runs.
    """

    def __init__(
        self, seed: int = 1, team_name: str = "Errata Sandbox", team_domain: str = "errata-sandbox"
    ):
        self._rng = random.Random(seed)
        self.ids = IdMaker(random.Random(seed * 7919 + 17))
        self.ids.reserve(SLACKBOT_ID)
        self._lock = threading.RLock()
        self.team_id = self.ids.make("T", 10)
        self.team_name = team_name
        self.team_domain = team_domain
        self.enterprise_id = None
        self.app_id = self.ids.make("A", 10)
        self.bot_id = self.ids.make("B", 10)
        self.now = datetime.now(UTC)
        self._created = int(self.now.timestamp()) - 3 * 365 * 86400
        self._tz_cache: dict[str, tuple[str, int]] = {}
        self._handles: set[str] = set()
        self._handle_next: dict[str, int] = {}
        self.people: list[Person] = []  # every member, in users.list order
        self._by_id: dict[str, Person] = {}
        self._index: dict[str, int] = {}
        self.channels: list[Channel] = []
        self.groups: list[UserGroup] = []
        self._channel_by_id: dict[str, Channel] = {}
        self._group_by_id: dict[str, UserGroup] = {}
        self.bot_user: Person = self._add(
            Person(
                id=self.ids.make("U"),
                name=self._unique_handle("errata"),
                real_name="Errata",
                display_name="Errata",
                first_name="Errata",
                is_bot=True,
                bot_id=self.bot_id,
                app_id=self.app_id,
                team_id=self.team_id,
                color="e0a729",
                updated=self._created,
            )
        )
        slackbot_label, slackbot_offset = self.tz_fields("America/Los_Angeles")
        self._add(
            Person(
                id=SLACKBOT_ID,
                name="slackbot",
                real_name="Slackbot",
                display_name="Slackbot",
                first_name="slackbot",
                tz="America/Los_Angeles",
                tz_label=slackbot_label,
                tz_offset=slackbot_offset,
                team_id=self.team_id,
                color="757575",
                updated=0,
            )
        )

    # ----------------------------------------------------------------- lookups
    @property
    def bot_user_id(self) -> str:
        return self.bot_user.id

    def person(self, user_id: str) -> Person | None:
        return self._by_id.get(user_id)

    def channel(self, channel_id: str) -> Channel | None:
        return self._channel_by_id.get(channel_id)

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.lstrip("#")
        for ch in list(self.channels):
            if ch.name == name:
                return ch
        return None

    def group(self, group_id: str) -> UserGroup | None:
        return self._group_by_id.get(group_id)

    def group_by_handle(self, handle: str) -> UserGroup | None:
        handle = handle.lstrip("@")
        for g in list(self.groups):
            if g.handle == handle:
                return g
        return None

    def index_of(self, user_id: str) -> int | None:
        return self._index.get(user_id)

    def active_humans(self) -> list[str]:
        """Ids of every active, non-bot, non-app, non-Slackbot member."""
        return [p.id for p in list(self.people) if p.is_active_human]

    def humans(self) -> list[Person]:
        return [p for p in list(self.people) if p.is_active_human]

    def deactivated(self) -> list[str]:
        return [p.id for p in list(self.people) if p.deleted]

    def bots(self) -> list[str]:
        return [p.id for p in list(self.people) if p.is_bot]

    def __len__(self) -> int:
        return len(self.people)

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._by_id

    # ---------------------------------------------------------------- helpers
    def tz_fields(self, tz: str) -> tuple[str, int]:
        cached = self._tz_cache.get(tz)
        if cached is None:
            cached = tz_fields(tz, self.now)
            self._tz_cache[tz] = cached
        return cached

    def _unique_handle(self, base: str) -> str:
        base = (base or "user")[:66]
        with self._lock:
            handle = base
            n = self._handle_next.get(base, 1)
            while handle in self._handles:
                n += 1
                handle = f"{base}{n}"
            self._handle_next[base] = n
            self._handles.add(handle)
        return handle

    def _add(self, person: Person) -> Person:
        with self._lock:
            if person.id in self._by_id:
                raise ValueError(f"duplicate member id {person.id}")
            self._index[person.id] = len(self.people)
            self.people.append(person)
            self._by_id[person.id] = person
        return person

    # ------------------------------------------------------------------ adding
    def add_person(
        self,
        real_name: str = "Test Person",
        *,
        tz: str = "Europe/London",
        deleted: bool = False,
        is_bot: bool = False,
        is_app_user: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_admin: bool = False,
        display_name: str | None = None,
        name: str | None = None,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        title: str = "",
        id: str | None = None,
        join_general: bool = True,
    ) -> Person:
        """Add a member (tests use this for awkward names and edge cases)."""
        parts = real_name.split()
        first = first_name if first_name is not None else (parts[0] if parts else real_name)
        last = (
            last_name if last_name is not None else (" ".join(parts[1:]) if len(parts) > 1 else "")
        )
        if name is None:
            base = ".".join(p for p in (_handle_part(first), _handle_part(last)) if p)
            name = self._unique_handle(base or "user")
        else:
            self._handles.add(name)
        label, offset = self.tz_fields(tz)
        pid = id or self.ids.make("U")
        if id is not None:
            self.ids.reserve(id)
        bot_id = self.ids.make("B") if is_bot else None
        app_id = self.ids.make("A") if is_bot else None
        if email is None and not is_bot:
            email = f"{name}@{GUEST_DOMAIN if is_restricted else EMAIL_DOMAIN}"
        person = Person(
            id=pid,
            name=name,
            real_name=real_name,
            display_name=display_name if display_name is not None else first,
            first_name=first,
            last_name=last,
            email=email,
            tz=tz,
            tz_label=label,
            tz_offset=offset,
            deleted=deleted,
            is_bot=is_bot,
            is_app_user=is_app_user,
            is_restricted=is_restricted or is_ultra_restricted,
            is_ultra_restricted=is_ultra_restricted,
            is_admin=is_admin,
            bot_id=bot_id,
            app_id=app_id,
            title=title,
            color=N.COLORS[len(self.people) % len(N.COLORS)],
            team_id=self.team_id,
            updated=int(self.now.timestamp()),
        )
        self._add(person)
        if join_general:
            general = next((c for c in self.channels if c.is_general), None)
            if general is not None:
                with self._lock:
                    general.members.append(person.id)
        return person

    def add_channel(
        self,
        name: str,
        members: list[str] | None = None,
        *,
        is_private: bool = False,
        bot_member: bool = True,
        is_archived: bool = False,
        is_general: bool = False,
        legacy_group_id: bool = False,
        topic: str = "",
        purpose: str = "",
        id: str | None = None,
    ) -> Channel:
        """Add a channel. ``bot_member`` puts the Errata bot in it."""
        prefix = "G" if (is_private and legacy_group_id) else "C"
        cid = id or self.ids.make(prefix)
        members = list(members or [])
        if bot_member and self.bot_user_id not in members:
            members.append(self.bot_user_id)
        if not bot_member and self.bot_user_id in members:
            members.remove(self.bot_user_id)
        creator = next((m for m in members if (p := self.person(m)) and p.is_active_human), "")
        ch = Channel(
            id=cid,
            name=name,
            is_private=is_private,
            members=members,
            is_archived=is_archived,
            is_general=is_general,
            created=self._created + len(self.channels) * 86400,
            creator=creator,
            topic=topic,
            purpose=purpose,
            team_id=self.team_id,
            bot_user_id=self.bot_user_id,
        )
        with self._lock:
            self.channels.append(ch)
            self._channel_by_id[cid] = ch
        return ch

    def add_group(
        self,
        handle: str,
        users: list[str] | None = None,
        *,
        name: str | None = None,
        description: str = "",
        id: str | None = None,
    ) -> UserGroup:
        gid = id or self.ids.make("S")
        users = list(users or [])
        g = UserGroup(
            id=gid,
            handle=handle,
            name=name or handle.replace("-", " ").title(),
            users=users,
            description=description,
            team_id=self.team_id,
            created_by=users[0] if users else "",
            date_create=self._created + len(self.groups) * 3600,
        )
        with self._lock:
            self.groups.append(g)
            self._group_by_id[gid] = g
        return g


# --------------------------------------------------------------------- generator
def _pick_name(rng: random.Random, culture: N.Culture) -> tuple[str, str, str, str, str]:
    """(real_name, first, last, display_name, handle_base)."""
    given, given_roman = rng.choice(culture.given)
    family, family_roman = rng.choice(culture.family)
    if culture.family_first:
        sep = " " if culture.space_between else ""
        real = f"{family}{sep}{given}"
    else:
        real = f"{given} {family}"
    first_h = given_roman or _handle_part(given)
    last_h = family_roman or _handle_part(family)
    roll = rng.random()
    if roll < 0.15:
        display = ""  # many people never set one; clients fall back to real_name
    elif roll < 0.75:
        display = given
    elif roll < 0.9:
        display = real
    else:
        display = (
            f"{given} ({culture.key.upper()})" if rng.random() < 0.5 else f"{given[:1]}{family}"
        )
    style = rng.random()
    if style < 0.6:
        base = f"{first_h}.{last_h}"
    elif style < 0.85:
        base = f"{first_h[:1]}{last_h}"
    else:
        base = f"{first_h}{last_h}"
    return real, given, family, display, base


def generate_directory(
    people: int = 500,
    seed: int = 1,
    deactivated: int | None = None,
    bots: int | None = None,
    channels: int | None = None,
    groups: int | None = None,
    *,
    app_users: int | None = None,
    guests: int | None = None,
) -> Directory:
    """A deterministic workspace with exactly ``people`` active humans.

    Defaults: ~3% extra deactivated accounts, a handful of bots and app users,
    a guest or two (counted among ``people``: guests are active humans),
    Slackbot, #general with everyone, topic channels (some private, one
    archived, one the bot is not in) and user groups.
    """
    if people < 0:
        raise ValueError("people must be >= 0")
    d = Directory(seed=seed)
    rng = random.Random(seed)
    if deactivated is None:
        deactivated = max(1, round(people * 0.03)) if people else 0
    if bots is None:
        bots = min(len(N.BOT_NAMES), 3 + people // 1000)
    if app_users is None:
        app_users = 1 if people < 200 else 2
    if guests is None:
        guests = min(people, 1 if people < 1000 else 2 + people // 20000)
    if channels is None:
        channels = max(4, min(40, people // 40))
    if groups is None:
        groups = max(2, min(25, people // 100))

    weights = [c.weight for c in N.CULTURES]
    cultures = N.CULTURES
    zone_fields = {z: d.tz_fields(z) for c in cultures for z in c.zones}
    created = d._created
    titles = N.TITLES
    colors = N.COLORS
    team_id = d.team_id
    make_id = d.ids.make
    unique = d._unique_handle

    def person_from_culture(*, deleted=False, restricted=False, app_user=False) -> Person:
        culture = rng.choices(cultures, weights)[0]
        real, given, family, display, base = _pick_name(rng, culture)
        tz = rng.choice(culture.zones)
        label, offset = zone_fields[tz]
        handle = unique(base)
        return Person(
            id=make_id("U"),
            name=handle,
            real_name=real,
            display_name=display,
            first_name=given,
            last_name=family,
            email=f"{handle}@{GUEST_DOMAIN if restricted else EMAIL_DOMAIN}",
            tz=tz,
            tz_label=label,
            tz_offset=offset,
            deleted=deleted,
            is_app_user=app_user,
            is_restricted=restricted,
            title=rng.choice(titles),
            color=colors[rng.randrange(len(colors))],
            team_id=team_id,
            updated=created + rng.randrange(3 * 365 * 86400),
        )

    humans: list[str] = []
    n_regular = people - guests
    for i in range(n_regular):
        p = person_from_culture()
        if i == 0:
            p.is_admin = p.is_owner = p.is_primary_owner = True
        elif i < 4:
            p.is_admin = True
        d._add(p)
        humans.append(p.id)
    for _ in range(guests):
        p = person_from_culture(restricted=True)
        d._add(p)
        humans.append(p.id)
    gone: list[str] = []
    for _ in range(deactivated):
        p = person_from_culture(deleted=True)
        d._add(p)
        gone.append(p.id)
    bot_ids: list[str] = []
    for handle, real in N.BOT_NAMES[:bots]:
        label, offset = zone_fields.get("America/Los_Angeles") or d.tz_fields("America/Los_Angeles")
        p = Person(
            id=make_id("U"),
            name=unique(handle),
            real_name=real,
            display_name=real,
            first_name=real,
            tz="America/Los_Angeles",
            tz_label=label,
            tz_offset=offset,
            is_bot=True,
            bot_id=make_id("B"),
            app_id=make_id("A"),
            team_id=team_id,
            color=colors[rng.randrange(len(colors))],
            updated=created + rng.randrange(365 * 86400),
        )
        d._add(p)
        bot_ids.append(p.id)
    for _ in range(app_users):
        p = person_from_culture(app_user=True)
        d._add(p)

    # Channels: #general holds everyone (deactivated members stay listed, as in Slack).
    regulars = [h for h in humans if not d._by_id[h].is_restricted]
    guest_ids = [h for h in humans if d._by_id[h].is_restricted]
    general_members = [d.bot_user_id, *regulars, *gone]
    rng.shuffle(general_members)
    d.add_channel(
        "general",
        general_members,
        is_general=True,
        topic="Company-wide announcements and work-based matters",
        purpose="This channel is for workspace-wide communication and announcements.",
    )
    words = list(N.TEAM_WORDS + N.CHANNEL_WORDS)
    rng.shuffle(words)
    for i in range(max(0, channels - 1)):
        base = words[i % len(words)]
        name = base if i < len(words) else f"{base}-{i // len(words) + 1}"
        size = min(len(humans), max(2, int(rng.paretovariate(1.2) * 8)))
        members = rng.sample(humans, size) if humans else []
        if gone and rng.random() < 0.4:
            members.append(rng.choice(gone))
        if bot_ids and rng.random() < 0.4:
            members.append(rng.choice(bot_ids))
        if guest_ids and rng.random() < 0.2:
            members.append(rng.choice(guest_ids))
        kind = i % 6
        d.add_channel(
            name,
            members,
            is_private=kind in (2, 5),
            legacy_group_id=kind == 5,
            bot_member=kind not in (4,),  # some channels do not have the bot
            is_archived=(i == 7),
            topic=f"All things {base.replace('-', ' ')}" if rng.random() < 0.5 else "",
        )

    handles = list(N.TEAM_WORDS)
    rng.shuffle(handles)
    for i in range(groups):
        base = handles[i % len(handles)]
        handle = base if i < len(handles) else f"{base}-{i // len(handles) + 1}"
        size = min(len(humans), max(2, int(rng.paretovariate(1.1) * 10)))
        users = rng.sample(humans, size) if humans else []
        if gone and rng.random() < 0.2:
            users.append(rng.choice(gone))
        d.add_group(
            handle,
            users,
            name=f"{handle.replace('-', ' ').title()} team",
            description=f"The {handle} team",
        )
    return d
