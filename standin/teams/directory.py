"""The generated Microsoft 365 tenant: people (with their Teams and Entra ids) and teams.

``generate_teams_directory(people=200, teams=3, seed=1)`` is deterministic for a
seed. Each person has a Teams user id (``29:1...``, unique to this bot), an
Entra object id (``aadObjectId``, a GUID), a display name, e-mail and UPN, a
time zone and locale, and whether they have installed the app in personal
scope. Teams have a thread id (``19:...@thread.tacv2``), an Entra group id,
members, and whether the bot is installed in the team.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
from dataclasses import dataclass, field
from typing import Any

from standin.slack import names as N
from standin.slack.directory import _handle_part, _pick_name

TENANT_DOMAIN = "errata-sandbox.onmicrosoft.com"
EMAIL_DOMAIN = "errata-sandbox.example"
GUEST_DOMAIN = "contractor.example"
ORG_WIDE_TEAM_LIMIT = 10_000  # Teams caps org-wide teams at 10,000 members

# culture key -> (locale, country) as Teams' clientInfo entity reports them
LOCALES: dict[str, tuple[str, str]] = {
    "us": ("en-US", "US"),
    "uk": ("en-GB", "GB"),
    "de": ("de-DE", "DE"),
    "fr": ("fr-FR", "FR"),
    "es": ("es-ES", "ES"),
    "br": ("pt-BR", "BR"),
    "nordic": ("sv-SE", "SE"),
    "pl": ("pl-PL", "PL"),
    "jp": ("ja-JP", "JP"),
    "cn": ("zh-CN", "CN"),
    "kr": ("ko-KR", "KR"),
    "in": ("en-IN", "IN"),
    "ru": ("ru-RU", "RU"),
    "ar": ("ar-SA", "SA"),
    "he": ("he-IL", "IL"),
    "gr": ("el-GR", "GR"),
    "africa": ("en-ZA", "ZA"),
    "oceania": ("en-AU", "AU"),
    "newfoundland": ("en-CA", "CA"),
}


_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def _guid(rng: random.Random) -> str:
    """A random (version 4) GUID, as Entra hands out object ids."""
    h = f"{(rng.getrandbits(128) & _V4_CLEAR) | _V4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def teams_user_id(rng: random.Random) -> str:
    """'29:1' + 86 url-safe characters, like the per-bot ids Teams hands out."""
    return "29:1" + _b64(rng.randbytes(64))


def personal_conversation_id(seed: int, user_id: str) -> str:
    """The 1:1 chat id ('a:1...') for a user: stable for a seed, whoever asks first."""
    digest = hashlib.sha512(f"{seed}:{user_id}".encode()).digest()
    return "a:1" + _b64(digest + digest[:12])


def thread_id(rng: random.Random) -> str:
    return f"19:{rng.getrandbits(128):032x}@thread.tacv2"


@dataclass(slots=True, eq=False)
class TeamsPerson:
    """A user in the tenant, as the Bot Connector and Teams describe them."""

    id: str  # Teams user id "29:1..." (unique to this bot)
    aad_object_id: str  # Entra object id (GUID), the same for every app
    name: str  # display name
    given_name: str = ""
    surname: str = ""
    email: str = ""
    user_principal_name: str = ""
    tenant_id: str = ""
    tz: str = "America/Los_Angeles"
    locale: str = "en-US"
    country: str = "US"
    has_app: bool = True  # installed the app in personal scope
    user_role: str = "user"  # "user" or "guest"
    job_title: str = ""

    @property
    def is_guest(self) -> bool:
        return self.user_role == "guest"

    def to_account(self) -> dict[str, Any]:
        """The ``from`` of an activity this person caused."""
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id}

    def to_member(self) -> dict[str, Any]:
        """A TeamsChannelAccount, as pagedmembers / members/{id} give it."""
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "aadObjectId": self.aad_object_id,
        }
        if self.given_name:
            out["givenName"] = self.given_name
        if self.surname:
            out["surname"] = self.surname
        out["email"] = self.email
        out["userPrincipalName"] = self.user_principal_name
        out["tenantId"] = self.tenant_id
        out["userRole"] = self.user_role
        return out


@dataclass(slots=True, eq=False)
class Team:
    """A team: its General channel shares the team's thread id."""

    id: str  # "19:...@thread.tacv2"
    name: str
    aad_group_id: str
    members: list[str] = field(default_factory=list)  # Teams user ids, join order
    bot_installed: bool = True
    channels: list[dict[str, str]] = field(default_factory=list)  # [{id, name}]
    _member_set: set[str] | None = None
    _member_len: int = -1

    def has_member(self, user_id: str) -> bool:
        if self._member_set is None or self._member_len != len(self.members):
            self._member_set = set(self.members)
            self._member_len = len(self.members)
        return user_id in self._member_set

    def to_team_info(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "aadGroupId": self.aad_group_id}

    def to_details(self) -> dict[str, Any]:
        """GET /v3/teams/{teamId}."""
        return {
            "id": self.id,
            "name": self.name,
            "aadGroupId": self.aad_group_id,
            "channelCount": len(self.channels),
            "memberCount": len(self.members),
            "type": "standard",
        }


class TeamsDirectory:
    """People and teams of one tenant. Thread-safe for lookups and additions."""

    def __init__(self, tenant_id: str | None = None, seed: int = 1):
        self.seed = seed
        self._rng = random.Random(f"teams-directory:{seed}")
        self.tenant_id = tenant_id or _guid(self._rng)
        self.tenant_domain = TENANT_DOMAIN
        self.people: list[TeamsPerson] = []
        self.teams: list[Team] = []
        self._by_key: dict[str, TeamsPerson] = {}
        self._team_by_key: dict[str, Team] = {}
        self._team_reach: dict[str, int] = {}  # user id -> teams with the bot they are in
        self._lock = threading.RLock()
        self._names: set[str] = set()

    # ---------------------------------------------------------------- lookups
    def person(self, key: str | TeamsPerson) -> TeamsPerson | None:
        """By Teams user id, aadObjectId, e-mail or UPN (case-insensitive for the last two)."""
        if isinstance(key, TeamsPerson):
            return key
        p = self._by_key.get(key)
        if p is None and isinstance(key, str):
            p = self._by_key.get(key.lower())
        return p

    def team(self, key: str | Team) -> Team | None:
        """By team id, Entra group id or name."""
        if isinstance(key, Team):
            return key
        return self._team_by_key.get(key) or self._team_by_key.get(str(key).lower())

    def installed(self) -> list[TeamsPerson]:
        """People who have the app in personal scope."""
        return [p for p in self.people if p.has_app]

    def can_reach(self, person: TeamsPerson) -> bool:
        """The bot may start a 1:1 with them: personal install, or a team with the bot."""
        if person.has_app:
            return True
        with self._lock:
            return self._team_reach.get(person.id, 0) > 0

    def __len__(self) -> int:
        return len(self.people)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.person(key) is not None

    def __iter__(self):
        return iter(list(self.people))

    # -------------------------------------------------------------- additions
    def _index(self, p: TeamsPerson) -> None:
        self._by_key[p.id] = p
        self._by_key[p.aad_object_id] = p
        if p.email:
            self._by_key[p.email.lower()] = p
        if p.user_principal_name:
            self._by_key[p.user_principal_name.lower()] = p

    def _unique_alias(self, base: str) -> str:
        base = base or "user"
        alias, n = base, 1
        while alias in self._names:
            n += 1
            alias = f"{base}{n}"
        self._names.add(alias)
        return alias

    def add_person(
        self,
        name: str | None = None,
        *,
        has_app: bool = True,
        tz: str = "America/New_York",
        locale: str = "en-US",
        country: str = "US",
        email: str | None = None,
        guest: bool = False,
        job_title: str = "",
        teams: list[str | Team] | None = None,
    ) -> TeamsPerson:
        """Add one person (and optionally put them in teams); returns it."""
        with self._lock:
            rng = self._rng
            if name is None:
                name = f"Person {len(self.people) + 1}"
            given, _, surname = name.partition(" ")
            alias = self._unique_alias(
                ".".join(filter(None, (_handle_part(given), _handle_part(surname))))
            )
            if guest:
                email = email or f"{alias}@{GUEST_DOMAIN}"
                upn = f"{email.replace('@', '_')}#EXT#@{self.tenant_domain}"
            else:
                email = email or f"{alias}@{EMAIL_DOMAIN}"
                upn = email
            p = TeamsPerson(
                id=teams_user_id(rng),
                aad_object_id=_guid(rng),
                name=name,
                given_name=given,
                surname=surname,
                email=email,
                user_principal_name=upn,
                tenant_id=self.tenant_id,
                tz=tz,
                locale=locale,
                country=country,
                has_app=has_app,
                user_role="guest" if guest else "user",
                job_title=job_title,
            )
            self.people.append(p)
            self._index(p)
            for t in teams or []:
                self.add_member(t, p)
            return p

    def add_team(
        self,
        name: str,
        members: list[str | TeamsPerson] | None = None,
        *,
        bot_installed: bool = True,
    ) -> Team:
        with self._lock:
            tid = thread_id(self._rng)
            team = Team(
                id=tid,
                name=name,
                aad_group_id=_guid(self._rng),
                bot_installed=bot_installed,
                channels=[{"id": tid, "name": "General"}],
            )
            self.teams.append(team)
            self._team_by_key[team.id] = team
            self._team_by_key[team.aad_group_id] = team
            self._team_by_key[name.lower()] = team
            ids = []
            for m in members or []:
                p = self.person(m)
                if p is None:
                    raise LookupError(f"no person {m!r}")
                ids.append(p.id)
            team.members = list(dict.fromkeys(ids))
            if bot_installed:
                reach = self._team_reach
                for uid in team.members:
                    reach[uid] = reach.get(uid, 0) + 1
            return team

    def add_member(self, team: str | Team, person: str | TeamsPerson) -> None:
        with self._lock:
            t = self.team(team)
            p = self.person(person)
            if t is None or p is None:
                raise LookupError(f"no team {team!r} or person {person!r}")
            if t.has_member(p.id):
                return
            t.members.append(p.id)
            t._member_set.add(p.id)  # kept in step (has_member just built it)
            t._member_len += 1
            if t.bot_installed:
                self._team_reach[p.id] = self._team_reach.get(p.id, 0) + 1

    def add_channel(self, team: str | Team, name: str) -> str:
        """A standard channel in ``team`` (its members are the team's); its id. Listed by
        GET /v3/teams/{teamId}/conversations (msteams-docs bots/how-to/get-teams-context.md)."""
        with self._lock:
            t = self.team(team)
            if t is None:
                raise LookupError(f"no team {team!r}")
            cid = thread_id(self._rng)
            t.channels.append({"id": cid, "name": name})
            return cid

    def set_bot_installed(self, team: str | Team, installed: bool) -> None:
        with self._lock:
            t = self.team(team)
            if t is None:
                raise LookupError(f"no team {team!r}")
            if t.bot_installed == installed:
                return
            t.bot_installed = installed
            delta = 1 if installed else -1
            for uid in t.members:
                self._team_reach[uid] = self._team_reach.get(uid, 0) + delta

    def teams_of(self, person: str | TeamsPerson) -> list[Team]:
        p = self.person(person)
        if p is None:
            return []
        return [t for t in self.teams if t.has_member(p.id)]


def generate_teams_directory(
    people: int = 200,
    teams: int = 3,
    seed: int = 1,
    *,
    installed: float = 0.9,
    guests: int | None = None,
    tenant_id: str | None = None,
    teams_installed: bool = True,
) -> TeamsDirectory:
    """A deterministic tenant with ``people`` users and ``teams`` teams.

    ``installed`` is the share of people who have the app in personal scope
    (the first person always has it). Team 0 is org-wide (everyone, up to
    10,000); the others hold 5-40% of the people. ``teams_installed``: the bot
    is installed in every generated team (so it can page their rosters and
    reach their members 1:1).
    """
    if people < 0 or teams < 0:
        raise ValueError("people and teams must be >= 0")
    d = TeamsDirectory(tenant_id=tenant_id, seed=seed)
    rng = random.Random(seed)
    if guests is None:
        guests = min(people, 1 if people < 1000 else 2 + people // 20000)
    cultures = N.CULTURES
    weights = [c.weight for c in cultures]
    titles = N.TITLES
    guest_slots = set(rng.sample(range(1, people), min(guests, max(0, people - 1))))
    with d._lock:
        for i in range(people):
            culture = rng.choices(cultures, weights)[0]
            real, given, family, _display, base = _pick_name(rng, culture)
            locale, country = LOCALES.get(culture.key, ("en-US", "US"))
            guest = i in guest_slots
            alias = d._unique_alias(base)
            if guest:
                email = f"{alias}@{GUEST_DOMAIN}"
                upn = f"{alias}_{GUEST_DOMAIN}#EXT#@{d.tenant_domain}"
            else:
                email = f"{alias}@{EMAIL_DOMAIN}"
                upn = email
            p = TeamsPerson(
                id=teams_user_id(d._rng),
                aad_object_id=_guid(d._rng),
                name=real,
                given_name=given,
                surname=family,
                email=email,
                user_principal_name=upn,
                tenant_id=d.tenant_id,
                tz=rng.choice(culture.zones),
                locale=locale,
                country=country,
                has_app=i == 0 or rng.random() < installed,
                user_role="guest" if guest else "user",
                job_title="" if guest else rng.choice(titles),
            )
            d.people.append(p)
            d._index(p)
    words = list(N.TEAM_WORDS)
    rng.shuffle(words)
    ids = [p.id for p in d.people]
    for n in range(teams):
        if n == 0:
            name = "Errata Sandbox (all company)"
            members = [i for i, p in zip(ids, d.people, strict=True) if not p.is_guest]
            members = members[:ORG_WIDE_TEAM_LIMIT]
        else:
            word = words[(n - 1) % len(words)]
            name = word.replace("-", " ").title()
            if n > len(words):
                name += f" {n // len(words) + 1}"
            share = rng.uniform(0.05, 0.4)
            size = max(1, round(len(ids) * share)) if ids else 0
            members = rng.sample(ids, min(size, len(ids)))
        d.add_team(name, members, bot_installed=teams_installed)
    return d
