"""The Slack side of the platform interface: Web API calls, paced per method,
and what Slack's answers mean for the core (sent, retry, failed, unknown).

No retries happen inside the client: a retry of chat.postMessage after a lost
connection could post twice, so every retry decision goes back to the outbox,
which checks an in-doubt send against the DM's history first.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading
import urllib.error
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.audit import Checkpoint
from bot.clock import Clock
from bot.domain import (
    Approval,
    Copy,
    Escalation,
    Failed,
    Memo,
    NotFound,
    Notice,
    Outcome,
    Reminder,
    Retraction,
    Retry,
    Sent,
    Unknown,
    backoff,
)
from bot.pacing import Budget, learning_budget
from bot.platform import StatusReport
from bot.slack import SLACK, messages
from bot.slack.channels import SlackChannels, notice_destination
from bot.slack.directory import SlackDirectory
from bot.store import Store

log = logging.getLogger(__name__)

# Answers that mean "Slack had a problem, nothing was done": retried.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "service_unavailable",
        "fatal_error",
        "internal_error",
        "request_timeout",
        "team_added_to_org",
    }
)

# Message metadata event types: "errata_" + the kind find_sent is asked about.
COPY_EVENT = "errata_copy"
NOTICE_EVENT = "errata_notice"
REMINDER_EVENT = "errata_reminder"
ESCALATION_EVENT = "errata_escalation"
APPROVAL_EVENT = "errata_approval"
CHECKPOINT_EVENT = "errata_audit_checkpoint"

# Published tiers (per minute) for the methods that are not paced by a setting.
TIER_2, TIER_3, TIER_4 = 20, 50, 100


class SlackPlatform(SlackChannels, SlackDirectory):
    name = SLACK

    def __init__(
        self,
        *,
        token: str,
        api_url: str,
        store: Store,
        clock: Clock,
        post_per_minute: float,
        update_per_minute: float,
        learn_rates: bool = True,
        show_retracted_body: bool = False,
        max_reminders: int = 3,
        timeout: int = 10,
    ):
        self._max_reminders = max_reminders
        self.client = WebClient(token=token, base_url=api_url, timeout=timeout, retry_handlers=[])
        self.store = store
        self.clock = clock
        self.show_retracted_body = show_retracted_body
        # No burst of our own: Slack's burst allowance is unpublished, so pace at the rate.
        # The settings are where the rates start; each learns its method's real limit.
        self.post = learning_budget(
            store, clock, f"{SLACK} chat.postMessage", post_per_minute, learn=learn_rates
        )
        self.update = learning_budget(
            store, clock, f"{SLACK} chat.update", update_per_minute, learn=learn_rates
        )
        self.tier2 = Budget(None)
        self.tier3 = Budget(None)
        self.tier4 = Budget(None)
        self._team_url: str | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ calls

    def budget(self, stream: str) -> Budget:
        """chat.postMessage for new messages, chat.update (Tier 3) for edits."""
        return self.update if stream == "edit" else self.post

    def call(self, budget: Budget, method: str, **args: Any) -> Outcome | dict:
        """One Web API call, paced by `budget`: the response dict if ok, else an Outcome."""
        budget.acquire()
        try:
            if method in _JSON_METHODS:
                response = self.client.api_call(method, json=args)
            else:
                response = self.client.api_call(method, params=_form(args))
            budget.accepted()
            return response.data
        except SlackApiError as exc:
            return self._outcome_of_error(budget, exc)
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, ConnectionRefusedError | socket.gaierror):
                return Retry(0, f"connection refused ({method})")
            return Unknown(f"connection error ({type(reason).__name__})", self._still_acting())
        except TimeoutError:
            # Slack may still be working on it: look for it only once it cannot land any more.
            return Unknown("timeout", self._still_acting())
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            return Unknown(f"connection lost ({type(exc).__name__})", 1.0)

    def _still_acting(self) -> float:
        return 3.0 * float(self.client.timeout or 10)

    def _outcome_of_error(self, budget: Budget, exc: SlackApiError) -> Outcome:
        response = exc.response
        status = response.status_code
        data = response.data if isinstance(response.data, dict) else {}
        error = data.get("error") or ""
        if not error or " " in error:  # not a Slack error code, e.g. an HTML error page
            error = f"http_{status}"
        if status == 429:
            after = _retry_after(response.headers)
            budget.limited(after)  # everyone holds; a learning budget settles under the limit
            return Retry(after, "ratelimited", rate_limited=True)
        budget.accepted()  # refused for its own reasons, but within the rate
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Retry(0, error if error != f"http_{status}" else f"http_{status}")
        return Failed(error)

    @property
    def team_url(self) -> str | None:
        with self._lock:
            if self._team_url is None:
                result = self.call(self.tier4, "auth.test")
                if isinstance(result, dict):
                    self._team_url = result.get("url") or ""
            return self._team_url or None

    def permalink(self, channel: str | None, ts: str | None) -> str | None:
        """Slack's permalink form, built locally: no call per notice."""
        if not channel or not ts or not self.team_url:
            return None
        return f"{self.team_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"

    def _post(self, channel: str, text: str, blocks_: list, metadata: dict | None) -> Outcome:
        args: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "blocks": blocks_,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if metadata:
            args["metadata"] = metadata
        result = self.call(self.post, "chat.postMessage", **args)
        if isinstance(result, dict):
            return Sent(result["channel"], result["ts"])
        return result

    def _update(self, channel: str, ts: str, text: str, blocks_: list) -> Outcome:
        result = self.call(
            self.update, "chat.update", channel=channel, ts=ts, text=text, blocks=blocks_
        )
        if isinstance(result, dict):
            return Sent(result.get("channel", channel), result.get("ts", ts))
        return result

    # ------------------------------------------------------------ the platform interface

    def send_copy(self, memo: Memo, copy: Copy) -> Outcome:
        text, body = messages.memo_message(memo, copy.id)
        outcome = self._post(
            copy.recipient_id,
            text,
            body,
            {"event_type": COPY_EVENT, "event_payload": {"memo_id": memo.id, "copy_id": copy.id}},
        )
        return outcome

    def send_notice(
        self, memo: Memo, retraction: Retraction, copy: Copy, notice: Notice
    ) -> Outcome:
        text, body = messages.notice_message(
            memo, retraction, notice.id, self.permalink(copy.channel, copy.ts)
        )
        post = self.store.post(copy.post_id) if copy.post_id else None
        if post is not None and post.author_id == copy.recipient_id and post.thread_ts:
            body = [*body[:-1], self.author_notice_blocks(post), body[-1]]
        return self._post(
            notice_destination(copy.channel, copy.recipient_id, copy.post_id),
            text,
            body,
            {
                "event_type": NOTICE_EVENT,
                "event_payload": {"memo_id": memo.id, "notice_id": notice.id},
            },
        )

    def send_reminder(
        self,
        memo: Memo,
        retraction: Retraction | None,
        copy: Copy,
        notice: Notice | None,
        reminder: Reminder,
    ) -> Outcome:
        if notice is not None:
            text, body = messages.retraction_reminder(
                memo,
                retraction,
                notice.id,
                self.permalink(notice.channel, notice.ts),
                reminder.seq,
            )
        else:
            text, body = messages.acknowledgement_reminder(
                memo, copy.id, self.permalink(copy.channel, copy.ts)
            )
        return self._post(
            notice_destination(
                notice.channel if notice else copy.channel,
                copy.recipient_id,
                (notice.post_id if notice else None) or copy.post_id,
            ),
            text,
            body,
            {
                "event_type": REMINDER_EVENT,
                "event_payload": {"memo_id": memo.id, "reminder_id": reminder.id},
            },
        )

    def send_escalation(
        self, memo: Memo, retraction: Retraction, escalation: Escalation, counts
    ) -> Outcome:
        text, body = messages.escalation_message(
            memo, retraction, escalation.people, counts, self._max_reminders
        )
        return self._post(
            escalation.recipient_id,
            text,
            body,
            {
                "event_type": ESCALATION_EVENT,
                "event_payload": {"memo_id": memo.id, "escalation_id": escalation.id},
            },
        )

    def edit_copy(
        self, memo: Memo, retraction: Retraction, copy: Copy, notice: Notice | None
    ) -> Outcome:
        notice_url = self.permalink(notice.channel, notice.ts) if notice else None
        text, body = messages.retracted_original(
            memo, retraction, notice_url, self.show_retracted_body
        )
        outcome = self._update(copy.channel, copy.ts, text, body)
        if isinstance(outcome, Failed) and outcome.reason == "message_not_found":
            # The person deleted the DM or the message: nothing left to mark.
            return Failed("message_not_found")
        return outcome

    def send_approval_request(self, memo: Memo, approval: Approval, recipients: int) -> Outcome:
        text, body = messages.approval_request(memo, approval.id, recipients)
        return self._post(
            approval.recipient_id,
            text,
            body,
            {
                "event_type": APPROVAL_EVENT,
                "event_payload": {"memo_id": memo.id, "approval_id": approval.id},
            },
        )

    def update_approval_request(self, memo: Memo, approval: Approval, recipients: int) -> Outcome:
        text, body = messages.approval_request(memo, approval.id, recipients)
        return self._update(approval.channel, approval.ts, text, body)

    def show_acknowledged(self, memo: Memo, copy: Copy, at: datetime) -> Outcome:
        """Reflect an acknowledgement made elsewhere (the App Home) on the DM copy. A copy
        reached through a channel post has no message of its own: the post's count shows it."""
        if copy.post_id:
            return Sent(copy.channel or "", copy.ts or "")
        text, body = messages.memo_message(memo, copy.id, acknowledged_at=at)
        return self._update(copy.channel, copy.ts, text, body)

    def show_seen(
        self, memo: Memo, retraction: Retraction, copy: Copy, notice: Notice, at: datetime
    ) -> Outcome:
        if notice.post_id:  # the channel's notice is everyone's: it is not changed for one
            return Sent(notice.channel or "", notice.ts or "")
        text, body = messages.notice_message(
            memo, retraction, notice.id, self.permalink(copy.channel, copy.ts), seen_at=at
        )
        return self._update(notice.channel, notice.ts, text, body)

    def send_file(
        self, user_id: str, path: str, *, filename: str, title: str, comment: str
    ) -> Outcome:
        """A file into the person's DM with the app (Slack's external upload flow)."""
        channel = self._dm_channel(user_id)
        if not isinstance(channel, str):
            return channel
        self.tier4.acquire()
        try:
            response = self.client.files_upload_v2(
                channel=channel, file=path, filename=filename, title=title, initial_comment=comment
            )
        except SlackApiError as exc:
            return self._outcome_of_error(self.tier4, exc)
        files = response.get("files") or [{}]
        return Sent(channel, files[0].get("id", ""))

    def find_sent(self, kind: str, item_id: int, recipient_id: str, since: datetime) -> Outcome:
        event = (
            f"errata_{kind}"  # copy, notice, reminder, escalation, memo_status, retraction_status
        )
        key = f"{kind}_id"
        # An escalation may have gone to a channel (ESCALATION_CHANNEL): look there; a
        # person's messages are in their DM with the app.
        is_channel = recipient_id[:1] in ("C", "G")
        channel = recipient_id if is_channel else self._dm_channel(recipient_id)
        if not isinstance(channel, str):
            return channel
        cursor = None
        oldest = f"{since.timestamp() - 60:.6f}"
        while True:
            args = {
                "channel": channel,
                "oldest": oldest,
                "limit": 200,
                "include_all_metadata": True,
            }
            if cursor:
                args["cursor"] = cursor
            result = self.call(self.tier3, "conversations.history", **args)
            if not isinstance(result, dict):
                if isinstance(result, Failed):
                    return Retry(backoff(2), f"history: {result.reason}")
                return result if isinstance(result, Retry) else Retry(backoff(2), result.reason)
            for message in result.get("messages", []):
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == event and payload.get(key) == item_id:
                    return Sent(channel, message["ts"])
            cursor = (result.get("response_metadata") or {}).get("next_cursor")
            if not result.get("has_more") or not cursor:
                return NotFound()

    def _dm_channel(self, user_id: str) -> str | Outcome:
        """The person's DM with the app: as any earlier delivery to them recorded it,
        else asked of Slack (only to check a send in doubt, or to share a file)."""
        known = self.store.dm_channel(SLACK, user_id)
        if known:
            return known
        result = self.call(self.tier3, "conversations.open", users=user_id)
        if isinstance(result, dict):
            channel = result["channel"]["id"]
            self.store.remember_dm_channel(SLACK, user_id, channel)
            return channel
        if isinstance(result, Failed):
            # No DM can exist with someone Slack does not know: nothing was sent.
            return NotFound()
        return result

    def post_status(self, user_id: str, report: StatusReport, kind: str) -> Outcome:
        text, body = self._status_blocks(report, kind)
        event = f"{kind}_status"
        metadata = {
            "event_type": f"errata_{event}",
            "event_payload": {f"{event}_id": report.memo.id},
        }
        return self._post(user_id, text, body, metadata)

    def update_status(self, channel: str, ts: str, report: StatusReport, kind: str) -> Outcome:
        text, body = self._status_blocks(report, kind)
        return self._update(channel, ts, text, body)

    @staticmethod
    def _status_blocks(report: StatusReport, kind: str) -> tuple[str, list]:
        text, body = SlackPlatform._status_view(report, kind)
        if report.finish_in is not None:
            body = [*body, messages.finish_estimate(*report.finish_in)]
        return text, body

    @staticmethod
    def _status_view(report: StatusReport, kind: str) -> tuple[str, list]:
        if kind == "retraction":
            return messages.retraction_status(
                report.memo, report.retraction, report.retraction_counts
            )
        return messages.memo_status(report.memo, report.counts, report.seconds_left)

    # ------------------------------------------------------------ audit checkpoints

    def post_checkpoint(self, channel: str, count: int, digest: str, at: datetime) -> str:
        """Post the audit chain's head; its ts, or raise (the checkpoint sweep retries)."""
        text, body = messages.audit_checkpoint(count, digest, at)
        metadata = {
            "event_type": CHECKPOINT_EVENT,
            "event_payload": {"count": count, "hash": digest},
        }
        outcome = self._post(channel, text, body, metadata)
        if isinstance(outcome, Sent):
            return outcome.ts
        raise RuntimeError(getattr(outcome, "reason", None) or type(outcome).__name__)

    def checkpoints_in(self, channel: str) -> list[Checkpoint]:
        """Every checkpoint this bot posted in `channel`, read back from its history
        (conversations.history with include_all_metadata; needs channels:history or
        groups:history). Messages from anyone else are ignored. Raises LookupError
        with Slack's error code when the channel cannot be read."""
        me = self.call(self.tier4, "auth.test")
        if not isinstance(me, dict):
            raise LookupError(getattr(me, "reason", "auth.test failed"))
        found = []
        history = self._paged(
            "conversations.history",
            "messages",
            self.tier3,
            channel=channel,
            include_all_metadata=True,
            limit=200,
        )
        for message in history:
            metadata = message.get("metadata") or {}
            if metadata.get("event_type") != CHECKPOINT_EVENT:
                continue
            if message.get("bot_id") != me.get("bot_id") and message.get("user") != me.get(
                "user_id"
            ):
                continue
            payload = metadata.get("event_payload") or {}
            try:
                found.append(
                    Checkpoint(int(payload["count"]), str(payload["hash"]), channel, message["ts"])
                )
            except (KeyError, TypeError, ValueError):
                log.warning(
                    "checkpoint message %s in %s has no count and hash", message.get("ts"), channel
                )
        return found


def _retry_after(headers: dict) -> float:
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                break
    return 1.0


# Block Kit payloads go as JSON bodies; read methods only take form fields.
_JSON_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "views.open",
        "views.update",
        "views.publish",
        "views.push",
    }
)


def _form(args: dict) -> dict:
    form = {}
    for key, value in args.items():
        if isinstance(value, bool):
            form[key] = "true" if value else "false"
        elif isinstance(value, list | dict):
            form[key] = json.dumps(value)
        else:
            form[key] = value
    return form
