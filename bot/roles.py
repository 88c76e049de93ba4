"""Who may do what: comms staff, auditors, everyone else, decided per (platform, id)
principal. A person is matched only against principals of their own platform (or an
email), and a group is looked up only on its own platform, cached for a few minutes.
Mixed into `Core`, which provides `settings`, `store`, `platforms`, `clock`."""

from __future__ import annotations

import logging
import time

from bot.domain import EMAIL, GROUP, Principal

log = logging.getLogger(__name__)

COMMS, AUDITOR, EMPLOYEE = "comms staff", "auditor", "employee"
GROUP_CACHE_SECONDS = 300.0


class Roles:
    def role(self, platform: str, user_id: str) -> str:
        if self._listed(platform, user_id, self.settings.comms_staff):
            return COMMS
        if self._listed(platform, user_id, self.settings.auditors):
            return AUDITOR
        return EMPLOYEE

    def _listed(self, platform: str, user_id: str, principals: frozenset[Principal]) -> bool:
        """Whether the person is one of `principals`: named, by email, or in a group of
        their own platform (a Teams person is never looked up in a Slack group)."""
        if any(p.names(platform, user_id) for p in principals):
            return True
        if any(p.kind == EMAIL for p in principals):
            email = self._email(platform, user_id)
            if any(p.names(platform, user_id, email) for p in principals):
                return True
        groups = [p.id for p in principals if p.kind == GROUP and p.platform == platform]
        return any(user_id in self._group_members(platform, g) for g in groups)

    def _email(self, platform: str, user_id: str) -> str:
        """The person's email as the directory has it; someone not known yet (joined since
        the last refresh) is looked up once per GROUP_CACHE_SECONDS."""
        email = ((self.store.person(platform, user_id) or {}).get("email") or "").lower()
        if email:
            return email
        key = (platform, f"person:{user_id}")
        with self._group_lock:
            cached = self._group_cache.get(key)
            if cached and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
                return ""
            self._group_cache[key] = (time.monotonic(), frozenset())
        try:
            self.platforms[platform].look_up_person(user_id)
        except Exception as exc:  # a failed look-up grants nothing
            log.warning("could not look up %s on %s: %s", user_id, platform, exc)
        return ((self.store.person(platform, user_id) or {}).get("email") or "").lower()

    def _group_members(self, platform: str, group_id: str) -> frozenset[str]:
        key = (platform, group_id)
        with self._group_lock:
            cached = self._group_cache.get(key)
            if cached and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
                return cached[1]
        try:
            members = frozenset(self.platforms[platform].members_of_group(group_id))
        except Exception as exc:  # an unreachable group grants nothing
            log.warning("members of %s unavailable: %s", group_id, exc)
            members = frozenset()
        with self._group_lock:
            self._group_cache[key] = (time.monotonic(), members)
        return members

    def may_send(self, platform: str, user_id: str) -> bool:
        return self.role(platform, user_id) == COMMS

    def may_oversee(self, platform: str, user_id: str) -> bool:
        """List every memo, see any status, pull reports."""
        return self.role(platform, user_id) in (COMMS, AUDITOR)

    def deny(self, platform: str, user_id: str, attempt: str, **detail) -> None:
        self.store.record_denial(
            self.clock.now(), user_id, attempt, {"platform": platform, **detail}
        )
