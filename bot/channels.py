"""Channel announcements in the core: a memo's posts stored with their members (paged,
never the whole channel in memory), clicks on a post (Acknowledge, I've seen this)
recorded for its members only, a person's post tracked as a memo, and the live
acknowledgement count each post shows, refreshed at most every COUNT_EVERY seconds.

A part of `Core` (`core.channels`): listeners reach it through the core.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from bot.domain import WAITING, Audience, Memo, Recipient, Sent, memo_label
from bot.store import Click

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

COUNT_EVERY = 3.0  # seconds between two updates of a post's acknowledgement count, at most


class Channels:
    def __init__(self, core: Core):
        self.core = core
        self.store = core.store
        self._stop = threading.Event()
        self._counted = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._count_forever, name="post-counts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._counted.set()
        if self._thread is not None:
            self._thread.join(5)

    # ------------------------------------------------------------ posts and their members

    def store_posts(self, memo: Memo, dm_recipients: list[Recipient]) -> bool:
        """Create the memo's posts and store each one's members as its recipients, a page
        at a time; people who get the memo by DM keep their DM copy. A post goes out once
        its members are stored. False when a channel could not be read (the sweep tries
        again: what was stored stays, each member once)."""
        if not any(a.posts for a in memo.audiences):
            return True
        by_dm = {(r.platform, r.id) for r in dm_recipients if not r.error}
        now = self.core.clock.now
        for audience in memo.audiences:
            platform = self.core.platforms.get(audience.platform)
            if not audience.posts or platform is None:
                continue
            known = {p.recipient_id for p in self.store.posts_of(memo.id)}
            missing = [c for c in audience.posts if c not in known]
            try:
                if missing:
                    named = [(c, platform.channel_name(c)) for c in missing]
                    self.store.add_posts(memo.id, platform.name, named, now())
                for post in self.store.posts_of(memo.id):
                    if post.platform != platform.name or post.state != WAITING:
                        continue
                    for page in platform.channel_member_pages(post.recipient_id):
                        fresh = [r for r in page if (r.platform, r.id) not in by_dm]
                        self.store.add_post_members(post.id, fresh, now())
                    self.store.post_ready(post.id, now())
            except Exception:
                log.exception("the channels of %s could not be read yet", memo.label)
                return False
        return True

    # ------------------------------------------------------------ clicks on a post

    def acknowledge(self, post_id: int, user_id: str, platform: str) -> Click:
        """Acknowledge on a channel post: recorded once for a member (their own copy, by
        DM or through the post); anyone else is refused and audited."""
        post, copy = self._member_click(post_id, user_id, platform, "acknowledge in channel")
        if isinstance(copy, Click):
            return copy
        click = self.core.acknowledge(copy.id, user_id, platform)
        if click.outcome == "recorded":
            self._counted.set()
        return click

    def seen(self, post_id: int, user_id: str, platform: str) -> Click:
        """I've seen this on a channel's retraction notice: the member's `seen_at`."""
        post, copy = self._member_click(post_id, user_id, platform, "seen in channel")
        if isinstance(copy, Click):
            return copy
        notice_id = self.store.notice_id_of_person(post.memo_id, platform, user_id)
        if notice_id is None:  # their copy never went out (failed, cancelled)
            return Click("closed", memo_id=post.memo_id)
        return self.core.mark_seen(notice_id, user_id, platform)

    def _member_click(self, post_id: int, user_id: str, platform: str, attempt: str):
        """(post, the member's copy), or (post, a refusal): an unknown post, or someone who
        was not a member when it was posted (refused and audited)."""
        post = self.store.post(post_id)
        if post is None:
            return None, Click("unknown")
        copy = self.store.copy_of_person(post.memo_id, platform, user_id)
        if copy is None:
            self.store.refuse_channel_click(
                post_id, user_id, platform, attempt, self.core.clock.now()
            )
            return post, Click("not_member", memo_id=post.memo_id)
        return post, copy

    # ------------------------------------------------------------ tracking a person's post

    def track(
        self,
        *,
        by: str,
        platform: str,
        channel: str,
        ts: str,
        author: str,
        text: str,
        title: str,
        ask_ack: bool,
    ) -> Memo | str:
        """Record a person's post as a memo: its author, text and channel; its recipients
        the channel's members; the bot replies in its thread. A refusal as text."""
        tracked = self.store.tracked_post(platform, channel, ts)
        if tracked is not None:
            return f"That post is already tracked as {memo_label(tracked.memo_id)}."
        target = self.core.platforms.get(platform)
        if target is None:
            return "That platform is not configured."
        now = self.core.clock.now()
        memo = self.store.create_memo(
            title=title.strip() or "Tracked post",
            body=text,
            sender_id=by,
            sender_platform=platform,
            ask_ack=ask_ack,
            ack_deadline=None,
            audience=Audience(posts=(channel,), platform=platform),
            now=now,
        )
        self.store.add_posts(
            memo.id,
            platform,
            [(channel, target.channel_name(channel))],
            now,
            thread_ts=ts,
            author_id=author,
        )
        self.store.record_tracking(memo.id, by, platform, channel, ts, author, now)
        self.core.status.mark(memo.id)
        self.core._resolve_soon(memo.id)
        return self.store.memo(memo.id)

    # ------------------------------------------------------------ the live count

    def refresh_counts(self) -> int:
        """Show each post's acknowledgement count where it changed; returns how many."""
        done = 0
        for post, memo, count in self.store.posts_to_count():
            platform = self.core.platforms.get(post.platform)
            if platform is None:
                continue
            outcome = platform.update_post_count(memo, post, count)
            if isinstance(outcome, Sent):
                self.store.set_acknowledged_shown(post.id, count)
                done += 1
            else:
                log.info("count on post %s not updated: %s", post.id, outcome)
        return done

    def _count_forever(self) -> None:
        while not self._stop.is_set():
            self._counted.wait(COUNT_EVERY * 4)
            if self._stop.is_set():
                return
            self._counted.clear()
            try:
                self.refresh_counts()
            except Exception:
                log.exception("post counts not refreshed; they are tried again shortly")
            self._stop.wait(COUNT_EVERY)  # at most one update per post this often
