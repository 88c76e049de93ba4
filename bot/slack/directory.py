"""Slack's directory and audiences: the people and user groups loaded into the store,
one person looked up between refreshes, and an audience (everyone, people, channels,
user groups) resolved to recipients, or what in it cannot be reached. A part of
`SlackPlatform` (its base class): it uses the platform's `call`, its Tier 2-4 budgets,
`store` and `clock`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from bot.domain import Audience, Failed, Recipient, Retry, Unknown, backoff, merge_recipients
from bot.pacing import Budget
from bot.slack import SLACK, texts

log = logging.getLogger(__name__)


class SlackDirectory:
    def refresh_directory(self) -> int:
        members = self._paged("users.list", "members", self.tier2, limit=200)
        count = self.store.replace_people(
            SLACK, (_person_row(member) for member in members), self.clock.now()
        )
        groups = self.call(self.tier2, "usergroups.list")
        if isinstance(groups, dict):
            self.store.replace_groups(
                SLACK,
                (
                    {"id": g["id"], "handle": g.get("handle", ""), "name": g.get("name", "")}
                    for g in groups.get("usergroups", [])
                    if not g.get("date_delete")
                ),
                self.clock.now(),
            )
        return count

    def _paged(self, method: str, key: str, budget: Budget, **args: Any):
        cursor = None
        attempts = 0
        while True:
            call_args = dict(args)
            if cursor:
                call_args["cursor"] = cursor
            result = self.call(budget, method, **call_args)
            if isinstance(result, Retry | Unknown):
                attempts += 1
                if attempts > 8:
                    raise RuntimeError(f"{method} kept failing: {result.reason}")
                if not isinstance(result, Retry) or not result.rate_limited:
                    threading.Event().wait(backoff(attempts, base=0.5))
                continue
            if isinstance(result, Failed):
                raise LookupError(result.reason)
            attempts = 0
            yield from result.get(key, [])
            cursor = (result.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    def audience_problems(self, audience: Audience) -> list[str]:
        """Why some of the audience cannot be reached, in words for the compose form.

        A private channel the bot is not in answers `channel_not_found` (the picker
        offers every channel the *person* is in), and its name cannot be read either,
        so it is named by its ID. One call per channel, inside Slack's 3 seconds."""
        problems = []
        for channel in audience.channels:
            result = self.call(self.tier4, "conversations.members", channel=channel, limit=200)
            if isinstance(result, Failed):
                problems.append(
                    texts.channel_unreadable(channel)
                    if result.reason in ("channel_not_found", "not_in_channel")
                    else texts.channel_unavailable(channel, result.reason)
                )
                continue
            if not isinstance(result, dict):
                continue  # Slack cannot tell right now: resolution will try again
            more = (result.get("response_metadata") or {}).get("next_cursor")
            members = result.get("members") or []
            if not more and not [r for r in self._people(members, chosen=False) if not r.error]:
                info = self.call(self.tier3, "conversations.info", channel=channel)
                name = ((info if isinstance(info, dict) else {}).get("channel") or {}).get("name")
                problems.append(texts.channel_empty(f"#{name}" if name else f"Channel {channel}"))
        return problems

    def look_up_person(self, user_id: str) -> None:
        """Fetch one person's profile (users.info, Tier 4) into the directory: someone
        who joined since the last refresh, or whose email a role check needs."""
        result = self.call(self.tier4, "users.info", user=user_id)
        if isinstance(result, dict) and isinstance(result.get("user"), dict):
            self.store.update_person(SLACK, _person_row(result["user"]), self.clock.now())

    def members_of_group(self, group_id: str) -> list[str]:
        return list(self._paged("usergroups.users.list", "users", self.tier2, usergroup=group_id))

    def resolve_audience(self, audience: Audience) -> list[Recipient]:
        if self.store.directory_synced_at(SLACK) is None:
            self.refresh_directory()
        groups: list[list[Recipient]] = []
        if audience.everyone:
            groups.append(self.store.everyone(SLACK))
        if audience.people:
            groups.append(self._people(audience.people, chosen=True))
        for channel in audience.channels:
            try:
                members = list(
                    self._paged(
                        "conversations.members", "members", self.tier4, channel=channel, limit=1000
                    )
                )
            except LookupError as exc:
                log.warning("members of %s unavailable: %s", channel, exc)
                continue
            groups.append(self._people(members, chosen=False))
        for group in audience.groups:
            try:
                groups.append(self._people(self.members_of_group(group), chosen=False))
            except LookupError as exc:
                log.warning("members of group %s unavailable: %s", group, exc)
        return merge_recipients(*groups)

    def _people(self, ids, *, chosen: bool) -> list[Recipient]:
        """Directory entries for `ids`. People picked by name who cannot get a DM
        become failed copies with the reason; bots and deactivated accounts
        reached through a channel or group are simply not recipients."""
        known = self.store.people(SLACK, ids)
        result = []
        for user_id in ids:
            person = known.get(user_id)
            if person is None:
                result.append(Recipient(SLACK, user_id, ""))
                continue
            name = person["real_name"] or person["name"] or ""
            if person["is_bot"] or user_id == "USLACKBOT":
                if chosen:
                    result.append(Recipient(SLACK, user_id, name, "cannot_dm_bot"))
            elif person["deleted"]:
                if chosen:
                    result.append(Recipient(SLACK, user_id, name, "account_inactive"))
            else:
                result.append(Recipient(SLACK, user_id, name))
        return result


def _person_row(member: dict) -> dict:
    profile = member.get("profile") or {}
    is_bot = bool(
        member.get("is_bot") or member.get("is_app_user") or member.get("id") == "USLACKBOT"
    )
    return {
        "id": member["id"],
        "name": member.get("name", ""),
        "real_name": profile.get("real_name") or member.get("real_name") or member.get("name", ""),
        "email": profile.get("email", ""),
        "tz": member.get("tz") or "",
        "deleted": int(bool(member.get("deleted"))),
        "is_bot": int(is_bot),
    }
