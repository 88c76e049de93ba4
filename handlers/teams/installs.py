"""Who can be reached on Teams: installs and uninstalls (for a person, in a team), a
team's new name, and whoever writes or clicks (their user ID, service URL, name and
time zone), with their member record looked up off the request path when Teams sent
no name. Everything learnt is handed to the core; nothing here reads the store."""

from __future__ import annotations

import logging
import threading
import time as clock

from bot.core import Core
from bot.teams.adapter import TEAMS, TeamsPlatform
from handlers.teams.activity import person_id, reference, roster_of, timezone

log = logging.getLogger(__name__)

LOOK_UP_AGAIN_AFTER = 300.0  # seconds before a person whose look-up failed is asked for again


class Installs:
    def __init__(self, core: Core, teams: TeamsPlatform):
        self.core = core
        self.teams = teams
        self._looked_up: dict[str, float] = {}  # person -> when their member record was asked for
        self._looked_up_lock = threading.Lock()

    def remember_sender(self, activity: dict) -> None:
        """Whoever writes or clicks, wherever: their Teams user ID (29:..., what a 1:1 is
        created with), service URL and tenant, name and time zone. A personal chat's ID is
        stored from personal activities only, and never overwritten by anything else."""
        person = person_id(activity)
        if not person or activity.get("type") == "installationUpdate":
            return
        named = self.core.person_seen(
            TEAMS,
            person,
            name=(activity.get("from") or {}).get("name") or "",
            tz=timezone(activity),
            reference={k: v for k, v in reference(activity).items() if v},
        )
        if not named:
            self._look_up_later(person, roster_of(activity))

    def _look_up_later(self, person: str, conversation_id: str | None) -> None:
        """Ask Teams for the person's member record (name, email), after Teams has had its
        answer; at most once per LOOK_UP_AGAIN_AFTER per person."""
        now = clock.monotonic()
        with self._looked_up_lock:
            last = self._looked_up.get(person)
            if last is not None and now - last < LOOK_UP_AGAIN_AFTER:
                return
            self._looked_up[person] = now
            if len(self._looked_up) > 10_000:
                self._looked_up.pop(next(iter(self._looked_up)))

        def look_up() -> None:
            try:
                self.teams.look_up_person(person, conversation_id=conversation_id)
            except Exception:
                log.exception("member %s not looked up", person)

        self.core.after_answer(look_up)

    def installation(self, activity: dict, added: bool) -> None:
        """The app added or removed: for a person (their 1:1), or in a team."""
        conversation = activity.get("conversation") or {}
        core = self.core
        if conversation.get("conversationType") == "personal":
            person = person_id(activity)
            if not person:
                return
            core.person_installed(
                TEAMS,
                person,
                added=added,
                name=(activity.get("from") or {}).get("name") or "",
                tz=timezone(activity),
                reference={k: v for k, v in reference(activity).items() if v},
            )
            known = core.answers.person(TEAMS, person)
            if added and not (known.get("name") and known.get("email")):
                # Install events carry no name: ask Teams, off the request path.
                self._look_up_later(person, conversation.get("id"))
            return
        team = (activity.get("channelData") or {}).get("team") or {}
        if team.get("id"):
            if added:
                core.group_installed(TEAMS, team["id"], team.get("name") or "", _where(activity))
            else:
                core.group_uninstalled(TEAMS, team["id"])

    def conversation_update(self, activity: dict) -> None:
        channel_data = activity.get("channelData") or {}
        if channel_data.get("eventType") == "teamRenamed":
            self._team_renamed(activity)
            return
        bot_id = (activity.get("recipient") or {}).get("id")
        added = [m.get("id") for m in activity.get("membersAdded") or []]
        removed = [m.get("id") for m in activity.get("membersRemoved") or []]
        if bot_id in added:
            self.installation(activity, True)
        elif bot_id in removed:
            self.installation(activity, False)

    def _team_renamed(self, activity: dict) -> None:
        """conversationUpdate, channelData.eventType "teamRenamed": the team's new name."""
        team = (activity.get("channelData") or {}).get("team") or {}
        team_id, name = team.get("id"), team.get("name")
        if not isinstance(team_id, str) or not team_id or not isinstance(name, str) or not name:
            return
        self.core.group_renamed(TEAMS, team_id, name[:256], _where(activity))


def _where(activity: dict) -> dict:
    """How to reach a team the activity came from: its service URL and tenant."""
    return {
        "service_url": activity.get("serviceUrl"),
        "tenant_id": reference(activity)["tenant_id"],
    }
