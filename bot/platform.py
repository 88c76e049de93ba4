"""The one small interface through which the core reaches a chat platform.

The outbox, the status board and the scheduler only ever call these methods;
the Slack adapter implements them today, a Teams adapter can tomorrow. Every
send returns an `Outcome` (see `bot.domain`): the adapter decides what its
platform's errors mean (retry, permanent failure, or unknown fate), the core
decides what to do about it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.domain import (
    Approval,
    Audience,
    Copy,
    Escalation,
    Memo,
    MemoCounts,
    Notice,
    Outcome,
    Post,
    Recipient,
    Reminder,
    Retraction,
    RetractionCounts,
)
from bot.pacing import Budget


@dataclass
class StatusReport:
    """What a live status message shows; the adapter decides how it looks."""

    memo: Memo
    counts: MemoCounts
    retraction: Retraction | None = None
    retraction_counts: RetractionCounts | None = None
    # Seconds to finish at the learned rates, and the rate (a minute) that sets it.
    finish_in: tuple[float, float] | None = None
    seconds_left: int = 0  # of a held memo's undo window (the countdown beside Undo)


class Platform(Protocol):
    name: str

    def budget(self, stream: str) -> Budget:
        """The rate budget of an outbox stream: "post" (new messages: copies, notices,
        reminders, escalations) or "edit" (changing sent ones). The outbox takes a turn
        from it before it claims an item; the send then uses that turn."""
        ...

    def send_copy(self, memo: Memo, copy: Copy) -> Outcome:
        """Post the memo to its recipient as a new direct message."""
        ...

    def send_notice(
        self, memo: Memo, retraction: Retraction, copy: Copy, notice: Notice
    ) -> Outcome:
        """Post the retraction notice to a person whose copy was delivered."""
        ...

    def send_reminder(
        self,
        memo: Memo,
        retraction: Retraction | None,
        copy: Copy,
        notice: Notice | None,
        reminder: Reminder,
    ) -> Outcome:
        """Remind a person: of a retraction not yet confirmed (`notice` given), or of an
        acknowledgement the memo asks for."""
        ...

    def send_escalation(
        self, memo: Memo, retraction: Retraction, escalation: Escalation, counts: RetractionCounts
    ) -> Outcome:
        """Tell the retractor (or a channel) who still has not confirmed."""
        ...

    def edit_copy(
        self, memo: Memo, retraction: Retraction, copy: Copy, notice: Notice | None
    ) -> Outcome:
        """Edit a delivered copy in place into its retracted form (idempotent)."""
        ...

    def send_approval_request(self, memo: Memo, approval: Approval, recipients: int) -> Outcome:
        """Ask a member of comms staff to approve a memo: the memo exactly as recipients will
        see it, its audience and resolved size (`recipients`), Approve and Reject."""
        ...

    def update_approval_request(self, memo: Memo, approval: Approval, recipients: int) -> Outcome:
        """Show the decision on a delivered approval request ("Approved by <name> at
        10:42"), without its buttons (idempotent)."""
        ...

    def find_sent(self, kind: str, item_id: int, recipient_id: str, since: datetime) -> Outcome:
        """Look for a message of `kind` ("copy" or "notice") whose send had an
        unknown outcome: Sent if it is there, NotFound if it is not, Retry if
        the platform cannot tell right now."""
        ...

    def post_status(self, user_id: str, report: StatusReport, kind: str) -> Outcome:
        """Start a live status message (`kind` "memo" or "retraction") for its issuer."""
        ...

    def update_status(self, channel: str, ts: str, report: StatusReport, kind: str) -> Outcome: ...

    def resolve_audience(self, audience: Audience) -> list[Recipient]:
        """Every person the audience names, once each; unreachable ones carry an error."""
        ...

    def audience_problems(self, audience: Audience) -> list[str]:
        """What in the audience cannot be reached (a channel the bot cannot read, one with
        nobody in it), in words for the compose form; [] when all is well. Quick: it runs
        while the platform waits for the form's answer."""
        ...

    def members_of_group(self, group_id: str) -> list[str]:
        """People in a user group (for roles given to a group)."""
        ...

    def refresh_directory(self) -> int:
        """Reload the people directory into the store; returns how many people."""
        ...

    def look_up_person(self, person_id: str) -> None:
        """Fetch one person's name and email into the store (between directory refreshes)."""
        ...


class ChannelPosts(Protocol):
    """What a platform does for channel announcements (Slack today): post a memo once in
    a channel, page its members, post the retraction notice in the post's thread (also
    sent to the channel), edit the post, and show its live acknowledgement count."""

    def channel_name(self, channel: str) -> str: ...

    def channel_member_pages(self, channel: str) -> Iterator[list[Recipient]]:
        """The channel's members as recipients, a page at a time (bots and deactivated
        accounts left out)."""
        ...

    def send_post(self, memo: Memo, post: Post) -> Outcome: ...

    def send_post_notice(self, memo: Memo, retraction: Retraction, post: Post) -> Outcome: ...

    def edit_post(self, memo: Memo, retraction: Retraction, post: Post) -> Outcome: ...

    def update_post_count(self, memo: Memo, post: Post, acknowledged: int) -> Outcome: ...


class Interactive(Protocol):
    """What a platform's listeners may do besides the outbox's sends: the extras of an
    interactive surface (links to messages, files, reflecting a click made elsewhere).
    Declared apart so that nothing reaches around `Platform` for them."""

    def permalink(self, channel: str | None, ts: str | None) -> str | None:
        """A link to a message, or None when there is none."""
        ...

    def send_file(
        self, user_id: str, path: str, *, filename: str, title: str, comment: str
    ) -> Outcome:
        """Share a file with a person privately."""
        ...

    def show_acknowledged(self, memo: Memo, copy: Copy, at: datetime) -> Outcome:
        """Show an acknowledgement made elsewhere (the App Home) on the person's copy."""
        ...

    def show_seen(
        self, memo: Memo, retraction: Retraction, copy: Copy, notice: Notice, at: datetime
    ) -> Outcome:
        """Show a confirmation made elsewhere on the person's notice."""
        ...
