"""Channel announcements: a memo posted once per channel, its members stored as its
recipients there (one copy each, delivered when the post is), clicks on the post, and
its retraction (a notice in the post's thread, the post edited) with what follows.

A member reached only through a post has a copy whose `post_id` names the post: it is
`waiting` until the post is delivered, then `delivered` with the post's place; no DM
is ever sent for it. A member who also gets the memo by DM keeps the DM copy (one row
per person). At the retraction such a member's notice is delivered by the post's
notice in the thread (`notices.post_id`), except for the acknowledgers (and the author
of a tracked post), who also get the notice as a DM, first.
"""

from __future__ import annotations

from datetime import datetime

from bot.clock import to_text
from bot.domain import (
    BEFORE_SENDING,
    CANCEL_REASONS,
    CANCELLED,
    DELIVERED,
    FAILED,
    MEMO_RETRACTED,
    MEMO_RETRACTING,
    MEMO_SENDING,
    MEMO_SENT,
    PENDING,
    SENDING,
    WAITING,
    Copy,
    Memo,
    Post,
    Recipient,
    Step,
)
from bot.store.rows import _copy, _post

# The tables of a channel memo's retraction, busy while any row is in these states.
CHANNEL_RETRACTION_KINDS = ("post_notices", "post_edits")


class ChannelsMixin:
    """Posts in channels, their members, clicks on them, and their retraction."""

    # ------------------------------------------------------------ posting

    def add_posts(
        self,
        memo_id: int,
        platform: str,
        channels: list[tuple[str, str]],
        now: datetime,
        *,
        thread_ts: str | None = None,
        author_id: str | None = None,
    ) -> list[Post]:
        """One post per (channel id, name), once per memo; `waiting` until its members
        are stored (`post_ready`)."""
        stamp = to_text(now)
        with self._write() as db:
            for channel, name in channels:
                db.execute(
                    "INSERT INTO posts (memo_id, platform, recipient_id, channel_name, thread_ts,"
                    " author_id, state, attempts, in_doubt, next_attempt_at, created_at,"
                    " acknowledged_shown) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, 0)"
                    " ON CONFLICT DO NOTHING",
                    [memo_id, platform, channel, name, thread_ts, author_id, WAITING, stamp, stamp],
                )
        return self.posts_of(memo_id)

    def add_post_members(self, post_id: int, people: list[Recipient], now: datetime) -> int:
        """Store one page of a post's members as recipients (a copy each, `waiting` for
        the post), in one transaction. Anyone who already has a copy of the memo (named
        under People, or in another posted channel) keeps it. Returns the rows added."""
        stamp = to_text(now)
        with self._write() as db:
            row = db.execute(
                "SELECT p.memo_id, m.state FROM posts p JOIN memos m ON m.id = p.memo_id"
                " WHERE p.id = ?",
                [post_id],
            ).fetchone()
            if row is None:
                return 0
            memo_id, memo_state = row
            open_memo = memo_state in (MEMO_SENDING, MEMO_SENT, *BEFORE_SENDING)
            state = WAITING if open_memo else CANCELLED
            error = None if open_memo else CANCEL_REASONS.get(memo_state, "retracted")
            cursor = db.conn.executemany(
                "INSERT INTO copies (memo_id, platform, recipient_id, recipient_name, state,"
                " error, next_attempt_at, cancelled_at, attempts, in_doubt, post_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, ?) ON CONFLICT DO NOTHING",
                [
                    (
                        memo_id,
                        person.platform,
                        person.id,
                        person.name,
                        state,
                        error,
                        stamp,
                        stamp if state == CANCELLED else None,
                        post_id,
                    )
                    for person in people
                    if not person.error
                ],
            )
            return cursor.rowcount

    def post_ready(self, post_id: int, now: datetime) -> None:
        """Every member of the post is stored: it may go out (with its memo)."""
        with self._write() as db:
            row = db.execute(
                "UPDATE posts SET state = ?, next_attempt_at = ? WHERE id = ? AND state = ?"
                " RETURNING memo_id, platform, recipient_id, channel_name",
                [PENDING, to_text(now), post_id, WAITING],
            ).fetchone()
            if row is None:
                return
            members = db.execute(
                "SELECT count(*) FROM copies WHERE post_id = ?", [post_id]
            ).fetchone()[0]
            self._audit(
                db,
                now,
                "channel members resolved",
                memo_id=row[0],
                subject=f"{row[1]}:{row[2]}",
                detail={"channel": row[3], "recipients": members},
            )

    def post(self, post_id: int) -> Post | None:
        row = self._row("SELECT * FROM posts WHERE id = ?", [post_id])
        return _post(row) if row else None

    def posts_of(self, memo_id: int) -> list[Post]:
        return [
            _post(row)
            for row in self._rows("SELECT * FROM posts WHERE memo_id = ? ORDER BY id", [memo_id])
        ]

    def claim_post(
        self, platform: str, now: datetime, closed: frozenset[int] = frozenset()
    ) -> tuple[Post, Memo] | None:
        """Take the next due post; like a copy, only of a memo still sending (an in-doubt
        one is checked whatever happened since), none of a memo closed to new sends."""
        marks = ",".join("?" * len(closed))
        claimed = self._claim(
            "posts",
            platform,
            now,
            joins="JOIN memos m ON m.id = x.memo_id",
            where=" AND (m.state = ? OR x.in_doubt = 1)"
            + (f" AND (x.in_doubt = 1 OR x.memo_id NOT IN ({marks}))" if closed else ""),
            params=(MEMO_SENDING, *sorted(closed)),
        )
        if claimed is None:
            return None
        return _post(claimed), self.memo(claimed["memo_id"])

    def claim_post_notice(self, platform: str, now: datetime) -> tuple[Post, Memo] | None:
        claimed = self._claim("post_notices", platform, now)
        if claimed is None:
            return None
        return self.post(claimed["id"]), self.memo(claimed["memo_id"])

    def claim_post_edit(self, platform: str, now: datetime) -> tuple[Post, Memo] | None:
        claimed = self._claim("post_edits", platform, now)
        if claimed is None:
            return None
        return self.post(claimed["id"]), self.memo(claimed["memo_id"])

    def post_notice(self, post_id: int) -> dict | None:
        """Where a post's retraction notice landed (channel, ts, state), if queued."""
        return self._row(
            "SELECT state, in_doubt, channel, ts, delivered_at FROM post_notices WHERE id = ?",
            [post_id],
        )

    def release_post(self, post_id: int, now: datetime) -> None:
        """Give back a claimed post that was not sent (its memo is being retracted)."""
        with self._write() as db:
            row = db.execute(
                "SELECT m.state, p.memo_id FROM memos m JOIN posts p ON p.memo_id = m.id"
                " WHERE p.id = ?",
                [post_id],
            ).fetchone()
            if row[0] == MEMO_SENDING:
                db.execute(
                    "UPDATE posts SET state = ? WHERE id = ? AND state = ?",
                    [PENDING, post_id, SENDING],
                )
                return
            self._cancel_post(db, post_id, now)
            self._close_retraction_if_done(db, row[1], now)

    def _cancel_post(self, db, post_id: int, now: datetime) -> None:
        row = db.execute(
            "UPDATE posts SET state = ?, cancelled_at = ?, in_doubt = 0 WHERE id = ?"
            " AND state IN (?, ?, ?) RETURNING memo_id, platform, recipient_id",
            [CANCELLED, to_text(now), post_id, WAITING, PENDING, SENDING],
        ).fetchone()
        if row:
            self._audit(
                db, now, "channel post cancelled", memo_id=row[0], subject=f"{row[1]}:{row[2]}"
            )
        _settle_members(self, db, post_id, CANCELLED, "retracted", now)

    def _cancel_posts(self, db, memo_id: int, now: datetime) -> int:
        """At the retraction: posts not on their way are never posted, their members'
        copies cancelled with them."""
        ids = [
            r[0]
            for r in db.execute(
                "SELECT id FROM posts WHERE memo_id = ? AND state IN (?, ?) AND in_doubt = 0",
                [memo_id, WAITING, PENDING],
            ).fetchall()
        ]
        for post_id in ids:
            self._cancel_post(db, post_id, now)
        return len(ids)

    # ------------------------------------------------------------ clicks in the channel

    def copy_of_person(self, memo_id: int, platform: str, person_id: str) -> Copy | None:
        """The person's copy of a memo (by DM or through a post), if they are a recipient."""
        row = self._row(
            "SELECT * FROM copies WHERE memo_id = ? AND platform = ? AND recipient_id = ?",
            [memo_id, platform, person_id],
        )
        return _copy(row) if row else None

    def notice_id_of_person(self, memo_id: int, platform: str, person_id: str) -> int | None:
        row = self._row(
            "SELECT n.id FROM notices n JOIN copies c ON c.id = n.copy_id WHERE c.memo_id = ?"
            " AND c.platform = ? AND c.recipient_id = ?",
            [memo_id, platform, person_id],
        )
        return row["id"] if row else None

    def refuse_channel_click(
        self, post_id: int, user_id: str, platform: str, attempt: str, now: datetime
    ) -> None:
        """A click on a channel post by someone who is not one of its recipients."""
        post = self.post(post_id)
        with self._write() as db:
            self._audit(
                db,
                now,
                "denied",
                actor=user_id,
                memo_id=post.memo_id if post else None,
                subject=attempt,
                detail={
                    "platform": platform,
                    "post_id": post_id,
                    "channel": post.recipient_id if post else None,
                    "why": "not a recipient of the memo",
                },
            )

    def posts_to_count(self) -> list[tuple[Post, Memo, int]]:
        """Delivered posts of memos still open whose shown count is behind."""
        found = []
        for row in self._rows(
            "SELECT p.id, p.acknowledged_shown,"
            " (SELECT count(*) FROM copies c WHERE c.post_id = p.id"
            "  AND c.acknowledged_at IS NOT NULL) AS n"
            " FROM posts p JOIN memos m ON m.id = p.memo_id"
            " WHERE p.state = ? AND m.ask_ack = 1 AND m.state IN (?, ?)"
            " AND NOT EXISTS (SELECT 1 FROM retractions r WHERE r.memo_id = p.memo_id)",
            [DELIVERED, MEMO_SENDING, MEMO_SENT],
        ):
            if row["n"] != row["acknowledged_shown"]:
                post = self.post(row["id"])
                found.append((post, self.memo(post.memo_id), row["n"]))
        return found

    def set_acknowledged_shown(self, post_id: int, count: int) -> None:
        """Record the count a post shows now."""
        with self._write() as db:
            db.execute("UPDATE posts SET acknowledged_shown = ? WHERE id = ?", [count, post_id])

    def record_tracking(
        self, memo_id: int, by: str, platform: str, channel: str, ts: str, author: str, now
    ) -> None:
        with self._write() as db:
            self._audit(
                db,
                now,
                "post tracked as memo",
                actor=by,
                memo_id=memo_id,
                subject=f"{platform}:{author}",
                detail={"channel": channel, "ts": ts, "author": author},
            )

    def tracked_post(self, platform: str, channel: str, ts: str) -> Post | None:
        """The post of a memo that tracks a person's message, if it is tracked already."""
        row = self._row(
            "SELECT * FROM posts WHERE platform = ? AND recipient_id = ? AND thread_ts = ?",
            [platform, channel, ts],
        )
        return _post(row) if row else None

    # ------------------------------------------------------------ the retraction

    def _queue_channel_retraction(
        self, db, memo_id: int, now: datetime, post_ids: list[int] | None = None
    ) -> int:
        """Each delivered post gets its notice (in its thread, also sent to the channel)
        and its edit, both at once; the members who acknowledged through it (and the
        author of a tracked post) get a DM notice, first. Returns the DM notices queued."""
        stamp = to_text(now)
        only, params = "", []
        if post_ids is not None:
            only = f" AND id IN ({','.join('?' * len(post_ids))})"
            params = list(post_ids)
        for table in CHANNEL_RETRACTION_KINDS:
            db.execute(
                f"INSERT INTO {table} (id, memo_id, platform, recipient_id, state, attempts,"
                " in_doubt, next_attempt_at, created_at)"
                " SELECT id, memo_id, platform, recipient_id, ?, 0, 0, ?, ? FROM posts"
                f" WHERE memo_id = ? AND state = ?{only} ON CONFLICT DO NOTHING",
                [PENDING, stamp, stamp, memo_id, DELIVERED, *params],
            )
        cursor = db.execute(
            "INSERT INTO notices (copy_id, memo_id, platform, recipient_id, state,"
            " priority, attempts, in_doubt, next_attempt_at, reminders_sent)"
            " SELECT c.id, c.memo_id, c.platform, c.recipient_id, ?, 0, 0, 0, ?, 0"
            " FROM copies c JOIN posts p ON p.id = c.post_id WHERE c.memo_id = ?"
            " AND c.state = ? AND (c.acknowledged_at IS NOT NULL OR c.recipient_id = p.author_id)"
            + only.replace("id IN", "p.id IN")
            + " ON CONFLICT DO NOTHING",
            [PENDING, stamp, memo_id, DELIVERED, *params],
        )
        return cursor.rowcount


# ---------------------------------------------------------------- what follows an outcome, by kind


def _settle_members(store, db, post_id: int, state: str, error: str | None, now) -> None:
    """The members waiting on a post share its fate."""
    if state == DELIVERED:
        post = db.execute("SELECT channel, ts FROM posts WHERE id = ?", [post_id]).fetchone()
        db.execute(
            "UPDATE copies SET state = ?, delivered_at = ?, channel = ?, ts = ?"
            " WHERE post_id = ? AND state = ?",
            [DELIVERED, to_text(now), post[0], post[1], post_id, WAITING],
        )
    else:
        db.execute(
            "UPDATE copies SET state = ?, error = ?, cancelled_at = ? WHERE post_id = ? AND state = ?",
            [state, error, to_text(now) if state == CANCELLED else None, post_id, WAITING],
        )


def _after_post(store, db, item: dict, change: Step, now: datetime) -> None:
    if change.state == DELIVERED:
        _settle_members(store, db, item["id"], DELIVERED, None, now)
        memo_state = db.execute(
            "SELECT state FROM memos WHERE id = ?", [item["memo_id"]]
        ).fetchone()[0]
        if memo_state in (MEMO_RETRACTING, MEMO_RETRACTED):  # posted while being retracted
            store._queue_channel_retraction(db, item["memo_id"], now, post_ids=[item["id"]])
            if memo_state == MEMO_RETRACTED:
                db.execute(
                    "UPDATE memos SET state = ? WHERE id = ?", [MEMO_RETRACTING, item["memo_id"]]
                )
                db.execute(
                    "UPDATE retractions SET done_at = NULL WHERE memo_id = ?", [item["memo_id"]]
                )
    elif change.state == FAILED:
        _settle_members(store, db, item["id"], FAILED, f"channel post: {change.error}", now)
    elif change.state == CANCELLED:
        _settle_members(store, db, item["id"], CANCELLED, "retracted", now)
    store._close_memo_if_done(db, item["memo_id"], now)


def _after_post_notice(store, db, item: dict, change: Step, now: datetime) -> None:
    """The notice in the thread reached every member at once: each one not notified
    by DM has a notice, delivered there (or failed with it), and is tracked from here
    (seen, reminders by DM, escalation)."""
    if not change.settled:
        return
    state = DELIVERED if change.state == DELIVERED else FAILED
    stamp = to_text(now)
    sent = change.sent
    cursor = db.execute(
        "INSERT INTO notices (copy_id, memo_id, platform, recipient_id, state, priority,"
        " attempts, in_doubt, next_attempt_at, reminders_sent, post_id, channel, ts,"
        " delivered_at, error)"
        " SELECT id, memo_id, platform, recipient_id, ?, 1, 0, 0, ?, 0, post_id, ?, ?, ?, ?"
        " FROM copies WHERE post_id = ? AND state = ? ON CONFLICT DO NOTHING",
        [
            state,
            stamp,
            sent.channel if sent else None,
            sent.ts if sent else None,
            stamp if state == DELIVERED else None,
            None if state == DELIVERED else f"channel notice: {change.error}",
            item["id"],
            DELIVERED,
        ],
    )
    store._audit(
        db,
        now,
        "notices delivered in channel" if state == DELIVERED else "notices failed in channel",
        memo_id=item["memo_id"],
        subject=f"{item['platform']}:{item['recipient_id']}",
        detail={"members": cursor.rowcount},
    )


def _nothing(store, db, item: dict, change: Step, now: datetime) -> None:
    return None


FOLLOWS = {"posts": _after_post, "post_notices": _after_post_notice, "post_edits": _nothing}
