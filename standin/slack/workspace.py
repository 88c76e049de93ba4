"""The stand-in's mutable state: conversations, messages, views, triggers, files, hooks.

Everything is guarded by one re-entrant lock; ``changed`` is a condition on
that lock, notified after every change so tests can wait on a predicate
instead of sleeping.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from standin.slack.directory import ID_ALPHABET, Directory
from standin.slack.records import Message, UploadedFile

TRIGGER_TTL = 3.0  # seconds a trigger_id stays valid for views.open/push
HOOK_TTL = 30 * 60.0  # response_url: 30 minutes...
HOOK_USES = 5  # ...and at most 5 uses


@dataclass(slots=True)
class Trigger:
    id: str
    user: str
    issued: float  # monotonic
    used: bool = False


@dataclass(slots=True)
class Hook:
    """A response_url and what it is bound to."""

    token: str
    kind: str  # "commands" or "actions"
    user: str
    channel: str | None
    message_ts: str | None = None  # the message a click came from
    ephemeral: bool = False
    created: float = 0.0  # monotonic
    uses: int = 0


@dataclass(slots=True)
class ViewRecord:
    view: dict[str, Any]
    user: str
    kind: str  # "modal" or "home"
    history: list[dict[str, Any]] = field(default_factory=list)


class Workspace:
    def __init__(self, directory: Directory, seed: int = 1):
        self.directory = directory
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._rng = random.Random(seed * 104729 + 3)
        self._last_ts_us = 0
        self.trigger_ttl = TRIGGER_TTL
        # conversations
        self.dm_by_user: dict[str, str] = {}
        self.user_by_dm: dict[str, str] = {}
        self.mpims: dict[str, list[str]] = {}
        self.messages: dict[str, list[Message]] = {}
        self._by_ts: dict[tuple[str, str], Message] = {}
        self.ephemerals: dict[str, list[Message]] = {}
        # views
        self.views: dict[str, ViewRecord] = {}
        self.external_ids: dict[str, str] = {}
        self.stacks: dict[str, list[str]] = {}
        self.homes: dict[str, str] = {}
        self.closed_views: list[dict[str, Any]] = []
        # interactivity
        self.triggers: dict[str, Trigger] = {}
        self.hooks: dict[str, Hook] = {}
        # files
        self.files: dict[str, UploadedFile] = {}
        self.upload_secrets: dict[str, str] = {}
        self._counter = 0

    # ---------------------------------------------------------------- waiting
    def notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy; return its value (raise TimeoutError)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s")
                self.changed.wait(min(left, 0.05))

    # ------------------------------------------------------------------- ids
    def make_id(self, prefix: str, length: int = 10) -> str:
        with self.lock:
            return prefix + "".join(self._rng.choices(ID_ALPHABET, k=length))

    def next_ts(self) -> str:
        """Unique, strictly increasing message ts ("1764379105.000100"), from wall time."""
        with self.lock:
            now_us = int(time.time() * 1_000_000)
            us = max(now_us, self._last_ts_us + 1)
            self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def next_number(self) -> int:
        with self.lock:
            self._counter += 1
            return self._counter

    # ---------------------------------------------------------- conversations
    def dm_id(self, user_id: str) -> str:
        """The D id the bot's DM with ``user_id`` has (or will have), without creating it."""
        dm = self.dm_by_user.get(user_id)
        if dm is not None:
            return dm
        digest = hashlib.sha1(f"{self.directory.team_id}:{user_id}".encode()).digest()
        n = int.from_bytes(digest[:8], "big")
        chars = []
        for _ in range(10):
            n, r = divmod(n, 36)
            chars.append(ID_ALPHABET[r])
        return "D" + "".join(chars)

    def dm_for(self, user_id: str) -> str:
        """The stable D id of the bot's DM with ``user_id`` (created on first use)."""
        dm = self.dm_by_user.get(user_id)
        if dm is not None:
            return dm
        with self.lock:
            dm = self.dm_by_user.get(user_id)
            if dm is None:
                dm = self.dm_id(user_id)
                while dm in self.user_by_dm:  # a hash collision: vanishingly rare
                    dm = dm[:-1] + self._rng.choice(ID_ALPHABET)
                self.dm_by_user[user_id] = dm
                self.user_by_dm[dm] = user_id
            return dm

    def dm_if_open(self, user_id: str) -> str | None:
        return self.dm_by_user.get(user_id)

    def mpim_for(self, users: list[str]) -> str:
        key = sorted(set(users))
        with self.lock:
            for cid, members in self.mpims.items():
                if members == key:
                    return cid
            cid = self.make_id("G")
            self.mpims[cid] = key
            return cid

    def add_message(self, msg: Message) -> Message:
        with self.changed:
            self.messages.setdefault(msg.channel, []).append(msg)
            self._by_ts[(msg.channel, msg.ts)] = msg
            self.changed.notify_all()
        return msg

    def message(self, channel: str, ts: str) -> Message | None:
        return self._by_ts.get((channel, ts))

    def add_ephemeral(self, msg: Message) -> Message:
        with self.changed:
            self.ephemerals.setdefault(msg.for_user or "", []).append(msg)
            self.changed.notify_all()
        return msg

    def ephemeral(self, user: str, ts: str) -> Message | None:
        with self.lock:
            for m in self.ephemerals.get(user, []):
                if m.ts == ts:
                    return m
        return None

    # --------------------------------------------------------------- triggers
    def issue_trigger(self, user: str) -> str:
        with self.lock:
            n = self.next_number()
            tid = f"{int(time.time() * 1000) % 10**13}.{n}.{secrets.token_hex(16)}"
            self.triggers[tid] = Trigger(tid, user, time.monotonic())
            if len(self.triggers) > 10_000:
                cutoff = time.monotonic() - 60
                for k in [k for k, t in self.triggers.items() if t.issued < cutoff]:
                    del self.triggers[k]
            return tid

    def use_trigger(self, trigger_id: str) -> tuple[str | None, str | None]:
        """(user, None) or (None, error code) for views.open / views.push."""
        with self.lock:
            trig = self.triggers.get(trigger_id)
            if trig is None:
                return None, "invalid_trigger_id"
            if trig.used:
                return None, "exchanged_trigger_id"
            if time.monotonic() - trig.issued > self.trigger_ttl:
                return None, "expired_trigger_id"
            trig.used = True
            return trig.user, None

    # ------------------------------------------------------------------ hooks
    def issue_hook(
        self,
        kind: str,
        user: str,
        channel: str | None,
        message_ts: str | None = None,
        ephemeral: bool = False,
    ) -> Hook:
        with self.lock:
            token = f"{self.directory.team_id}/{self.next_number()}/{secrets.token_urlsafe(18)}"
            hook = Hook(token, kind, user, channel, message_ts, ephemeral, time.monotonic())
            self.hooks[token] = hook
            return hook

    # ------------------------------------------------------------------ views
    def view_record(self, view_id: str) -> ViewRecord | None:
        return self.views.get(view_id)

    def top_view(self, user: str) -> dict[str, Any] | None:
        with self.lock:
            stack = self.stacks.get(user) or []
            return self.views[stack[-1]].view if stack else None
