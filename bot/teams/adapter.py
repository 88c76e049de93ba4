"""The Microsoft Teams side of the platform interface, on Microsoft's Teams SDK.

The SDK (`microsoft-teams-api`) is asynchronous; the core is threads. One
event loop runs on its own thread and every call is handed to it, so the
outbox workers, the scheduler and the listeners can all use this adapter as
they use the Slack one. The SDK does not retry: every retry decision goes
back to the outbox, as on Slack.

Teams has no way for a bot to read back a 1:1 chat, so a send whose fate is
unknown cannot be checked. Rather than risk a second copy, such a send counts
as delivered and is marked "unconfirmed" in the report; its retraction notice
still goes out, so nobody who may have the memo is left untold.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
from microsoft_teams.api import Account, ApiClient, MessageActivityInput
from microsoft_teams.api.clients.conversation.params import CreateConversationParams
from microsoft_teams.cards import AdaptiveCard

from bot.clock import Clock
from bot.config import Settings
from bot.domain import (
    OUTCOMES,
    Approval,
    Audience,
    Copy,
    Escalation,
    Failed,
    Memo,
    Notice,
    Outcome,
    Recipient,
    Reminder,
    Retraction,
    RetractionCounts,
    Retry,
    Sent,
    Unknown,
    backoff,
    merge_recipients,
)
from bot.pacing import Budget, learning_budget
from bot.platform import StatusReport
from bot.store import Store
from bot.teams import cards
from bot.teams import channels as channel_cards
from bot.teams.auth import AppTokens, InboundAuth, TokenError, cloud_of
from bot.teams.channels import TeamsChannels

log = logging.getLogger(__name__)

TEAMS = "teams"

# Retried as Teams asks (rate-limit doc): 429 with Retry-After, 412, 502, 503, 504.
RETRIED_STATUSES = frozenset({408, 412, 429, 500, 502, 503, 504})
CHAT_BURST = 7
TENANT_KEY = "teams requests (per tenant)"
CHAT_KEY = "teams requests (per chat)"
UNCONFIRMED = "unconfirmed: Teams gave no answer and a bot cannot read the chat back"


class TeamsPlatform(TeamsChannels):
    name = TEAMS

    def __init__(self, settings: Settings, store: Store, clock: Clock, *, timeout: float = 15.0):
        self.settings = settings
        self.store = store
        self.clock = clock
        self.timeout = timeout
        self.app_id = settings.teams_app_id
        self.tenant_id = settings.teams_tenant_id
        # The settings are where the rates start; each learns Teams' real limit (bot.pacing).
        self.tenant = learning_budget(
            store,
            clock,
            TENANT_KEY,
            settings.teams_requests_per_second * 60,
            learn=settings.learn_rates,
        )
        self._conversation_rate = settings.teams_conversation_requests_per_second * 60
        # Chats learn one by one, each starting from the rate the last one settled on.
        start = learning_budget(
            store, clock, CHAT_KEY, self._conversation_rate, learn=settings.learn_rates
        )
        self._chat_learn, self._chat_rate = start.learning, start.per_minute
        self._conversations: OrderedDict[str, Budget] = OrderedDict()
        self._lock = threading.Lock()
        self._clients: dict[str, ApiClient] = {}
        self._channels_init()
        self.cloud = cloud_of(settings)
        # Our own client-credentials fetch, not MSAL (see bot.teams.auth), so that an
        # overridden login endpoint works; every Bot Connector call carries its token.
        self.tokens = AppTokens(
            cloud=self.cloud,
            tenant_id=settings.teams_tenant_id,
            client_id=settings.teams_app_id,
            client_secret=settings.teams_app_password,
        )
        # Checks requests from Teams in the web server's threads, never on the SDK's loop.
        self.inbound = InboundAuth(
            app_id=settings.teams_app_id, tenant_id=settings.teams_tenant_id, cloud=self.cloud
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="teams-sdk", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    # ------------------------------------------------------------ calls

    def _run(self, coroutine, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(
            timeout or self.timeout * 2
        )

    def client(self, service_url: str) -> ApiClient:
        """One SDK client per Bot Connector URL (they differ by region). A URL is only
        ever TEAMS_SERVICE_URL or one that arrived in an authenticated, admitted activity
        (the listeners store nothing else), so the token goes only to the Bot Connector."""
        with self._lock:
            client = self._clients.get(service_url)
            if client is None:
                client = ApiClient(service_url, cloud=self.cloud, token_provider=self.tokens)
                self._clients[service_url] = client
            return client

    def _budget(self, conversation_id: str | None) -> Budget | None:
        if not conversation_id:
            return None
        with self._lock:
            budget = self._conversations.get(conversation_id)
            if budget is None:
                # Teams' per-chat windows (7 in 1 s ... 1,800 an hour): a burst of 7, then the hourly pace.
                budget = self._chat_budget()
                self._conversations[conversation_id] = budget
                if len(self._conversations) > 2000:
                    self._conversations.popitem(last=False)
            else:
                self._conversations.move_to_end(conversation_id)
            return budget

    def _chat_budget(self) -> Budget:
        if not self._chat_learn:
            return Budget(self._conversation_rate, burst=CHAT_BURST)

        def settled(per_minute: float) -> None:
            self._chat_rate = per_minute  # where the next new chat starts
            try:
                self.store.remember_rate(CHAT_KEY, per_minute, self.clock.now())
            except Exception:
                log.warning("could not keep the learned rate of Teams chats", exc_info=True)

        return Budget(
            self._chat_rate,
            burst=CHAT_BURST,
            learn=True,
            setting=self._conversation_rate,
            probing=True,
            on_learn=settled,
        )

    def budget(self, stream: str) -> Budget:
        """Teams paces sends and updates alike, per app per tenant (each chat has its own
        pace on top, taken when the chat is known)."""
        return self.tenant

    def call(self, conversation_id: str | None, make) -> Any:
        """One Bot Connector request, paced per tenant and per chat: its result, or an Outcome."""
        self.tenant.acquire()
        budget = self._budget(conversation_id)
        if budget is not None:
            budget.acquire()
        try:
            result = self._run(asyncio.wait_for(make(), self.timeout))
        except httpx.HTTPStatusError as exc:
            return self._outcome_of_status(exc.response, budget)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return Retry(0, f"connection failed ({type(exc).__name__})")
        except TokenError as exc:
            log.warning("Teams access token unavailable: %s", exc)
            return Retry(5.0, "no access token")
        except (TimeoutError, httpx.TimeoutException):
            return Unknown("timeout", 2 * self.timeout)
        except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
            return Unknown(f"connection lost ({type(exc).__name__})", 1.0)
        self._accepted(budget)
        return result

    def _accepted(self, budget: Budget | None) -> None:
        self.tenant.accepted()
        if budget is not None:
            budget.accepted()

    def _outcome_of_status(self, response: httpx.Response, budget: Budget | None) -> Outcome:
        status = response.status_code
        code = _error_code(response)
        if status in RETRIED_STATUSES:
            after = _retry_after(response)
            if status == 429:
                # Without Retry-After Teams asks for backoff with jitter: the outbox's backoff.
                # Teams does not say which limit it was: a chat that has just taken a burst
                # of calls learns from it, otherwise the tenant's rate does.
                if budget is not None and budget.recent_calls(2.0) >= CHAT_BURST // 2:
                    self.tenant.hold(after or 1.0)
                    budget.limited(after or 1.0)
                else:
                    self.tenant.limited(after or 1.0)
                    if budget is not None and after:
                        budget.hold(after)
                return Retry(after or 0, code or "Throttled", rate_limited=after is not None)
            self._accepted(budget)
            return Retry(after or 0, code or f"http_{status}")
        self._accepted(budget)
        return Failed(code or f"http_{status}")

    # ------------------------------------------------------------ people and chats

    def reference(self, person_id: str) -> dict:
        person = self.store.person(TEAMS, person_id) or {}
        return json.loads(person.get("reference") or "{}")

    def _service_url(self, reference: dict) -> str:
        return (reference.get("service_url") or self.settings.teams_service_url).rstrip("/")

    def _conversation(self, person_id: str) -> tuple[str, str] | Outcome:
        """The person's 1:1 chat with the bot: known, or created (which Teams allows
        when the app is installed for them or in a team they are in)."""
        reference = self.reference(person_id)
        service_url = self._service_url(reference)
        if reference.get("conversation_id"):
            return service_url, reference["conversation_id"]
        member = reference.get("user_id") or person_id  # an Entra object ID works too
        tenant = reference.get("tenant_id") or self.tenant_id
        params = CreateConversationParams(
            members=[Account(id=member)], tenant_id=tenant, channel_data={"tenant": {"id": tenant}}
        )
        client = self.client(service_url)
        result = self.call(None, lambda: client.conversations.create(params))
        if not isinstance(result, OUTCOMES):
            self.store.remember_reference(
                TEAMS,
                person_id,
                {**reference, "conversation_id": result.id, "service_url": service_url},
            )
            return service_url, result.id
        if isinstance(result, Failed) and result.reason in (
            "ForbiddenOperationException",
            "BotNotInConversationRoster",
            "http_403",
        ):
            return Failed("app not installed")
        if isinstance(result, Unknown):
            # Creating a 1:1 twice returns the same chat: safe to try again.
            return Retry(1.0, result.reason)
        return result

    def _send(self, person_id: str, card: AdaptiveCard, text: str) -> Outcome:
        found = self._conversation(person_id)
        if not isinstance(found, tuple):
            return found
        service_url, conversation_id = found
        client = self.client(service_url)
        activity = MessageActivityInput(summary=text).add_card(card)
        result = self.call(
            conversation_id, lambda: client.conversations.create_activity(conversation_id, activity)
        )
        if isinstance(result, OUTCOMES):
            return result
        return Sent(conversation_id, result.id)

    def _update(
        self, conversation_id: str | None, activity_id: str | None, card: AdaptiveCard, text: str
    ) -> Outcome:
        if not conversation_id or not activity_id:
            return Failed("no message to edit (its delivery was unconfirmed)")
        service_url = self._service_url(self._reference_of_conversation(conversation_id))
        client = self.client(service_url)
        activity = MessageActivityInput(summary=text).add_card(card)
        result = self.call(
            conversation_id,
            lambda: client.conversations.update_activity(conversation_id, activity_id, activity),
        )
        if isinstance(result, OUTCOMES):
            return result
        return Sent(conversation_id, activity_id)

    def _reference_of_conversation(self, conversation_id: str) -> dict:
        person = self.store.person_by_conversation(TEAMS, conversation_id)
        return json.loads((person or {}).get("reference") or "{}")

    # ------------------------------------------------------------ the platform interface

    def _user_id(self, person_id: str) -> str | None:
        """The person's Teams user ID (29:...): a card's refresh names it."""
        return self.reference(person_id).get("user_id")

    def send_copy(self, memo: Memo, copy: Copy) -> Outcome:
        card = cards.memo_card(memo, copy.id, refresh_for=self._user_id(copy.recipient_id))
        return self._send(copy.recipient_id, card, f"{memo.label}: {memo.title}")

    def send_notice(
        self, memo: Memo, retraction: Retraction, copy: Copy, notice: Notice
    ) -> Outcome:
        note = None
        post = self.store.post(copy.post_id) if copy.post_id else None
        if post is not None and post.thread_ts and post.author_id == copy.recipient_id:
            note = channel_cards.author_request(post.channel_name or "", memo.body)
        return self._send(
            notice.recipient_id,
            cards.notice_card(memo, retraction, notice.id, note=note),
            f"RETRACTED: {memo.label} {memo.title}",
        )

    def edit_copy(
        self, memo: Memo, retraction: Retraction, copy: Copy, notice: Notice | None
    ) -> Outcome:
        card = cards.retracted_card(memo, retraction, self.settings.show_retracted_body)
        return self._update(copy.channel, copy.ts, card, f"RETRACTED: {memo.label} {memo.title}")

    def send_reminder(
        self,
        memo: Memo,
        retraction: Retraction | None,
        copy: Copy,
        notice: Notice | None,
        reminder: Reminder,
    ) -> Outcome:
        if notice is not None:
            post = self.store.post(notice.post_id) if notice.post_id else None
            card = cards.retraction_reminder_card(
                memo,
                retraction,
                notice.id,
                reminder.seq,
                where=(post.channel_name or "the channel") if post else None,
            )
            return self._send(notice.recipient_id, card, f"Reminder: {memo.label} was retracted")
        card = cards.acknowledgement_reminder_card(
            memo, copy.id, refresh_for=self._user_id(copy.recipient_id)
        )
        return self._send(copy.recipient_id, card, f"Reminder: please acknowledge {memo.label}")

    def send_escalation(
        self, memo: Memo, retraction: Retraction, escalation: Escalation, counts: RetractionCounts
    ) -> Outcome:
        card = cards.escalation_card(
            memo, retraction, escalation.people, counts, self.settings.max_reminders
        )
        return self._send(
            escalation.recipient_id, card, f"Not confirmed: retraction of {memo.label}"
        )

    def send_approval_request(self, memo: Memo, approval: Approval, recipients: int) -> Outcome:
        card = cards.approval_card(memo, self._name_of(memo), recipients)
        return self._send(approval.recipient_id, card, f"Approve {memo.label}: {memo.title}?")

    def update_approval_request(self, memo: Memo, approval: Approval, recipients: int) -> Outcome:
        card = cards.approval_card(memo, self._name_of(memo), recipients)
        return self._update(approval.channel, approval.ts, card, f"{memo.label}: {memo.state}")

    def _name_of(self, memo: Memo) -> str:
        person = self.store.person(memo.sender_platform, memo.sender_id) or {}
        return person.get("real_name") or person.get("name") or memo.sender_id

    def find_sent(self, kind: str, item_id: int, recipient_id: str, since: datetime) -> Outcome:
        """Teams cannot be asked: count it as delivered, and say it is unconfirmed."""
        if kind in ("post", "post_notice"):  # in a channel: its id is the recipient's
            return Sent(recipient_id, "", note=UNCONFIRMED)
        reference = self.reference(recipient_id)
        return Sent(reference.get("conversation_id") or "", "", note=UNCONFIRMED)

    def post_status(self, user_id: str, report: StatusReport, kind: str) -> Outcome:
        card, text = self._status(report, kind)
        return self._send(user_id, card, text)

    def update_status(self, channel: str, ts: str, report: StatusReport, kind: str) -> Outcome:
        card, text = self._status(report, kind)
        return self._update(channel, ts, card, text)

    @staticmethod
    def _status(report: StatusReport, kind: str) -> tuple[AdaptiveCard, str]:
        card, text = TeamsPlatform._status_view(report, kind)
        if report.finish_in is not None:
            card.body = [*card.body, cards.finish_estimate(*report.finish_in)]
        return card, text

    @staticmethod
    def _status_view(report: StatusReport, kind: str) -> tuple[AdaptiveCard, str]:
        if kind == "retraction":
            card = cards.retraction_status_card(
                report.memo, report.retraction, report.retraction_counts
            )
            return card, f"Retraction of {report.memo.label}"
        card = cards.memo_status_card(report.memo, report.counts, report.seconds_left)
        return card, f"{report.memo.label} status"

    @staticmethod
    def _retried(attempt, tries: int = 5) -> Outcome:
        outcome: Outcome = Failed("not sent")
        for number in range(1, tries + 1):
            outcome = attempt()
            if not isinstance(outcome, Retry):
                break
            time.sleep(outcome.after or backoff(number, base=0.2))
        return outcome

    def reply(
        self,
        person_id: str,
        card: AdaptiveCard,
        text: str,
        tries: int = 5,
        *,
        where: dict | None = None,
    ) -> Outcome:
        """An answer to something the person wrote to the bot. Not an outbox item (nothing
        to recover after a crash: the person can ask again), so it retries here. In their
        1:1 chat; when none can be had (Teams refuses to create it: the app is not
        installed for them) and they wrote in a channel or group chat, `where`
        ({service_url, conversation_id, reply_to_id, card}) answers there instead."""
        outcome = self._retried(lambda: self._send(person_id, card, text), tries)
        if where and isinstance(outcome, Failed) and outcome.reason == "app not installed":
            outcome = self._retried(lambda: self._reply_in(where, text), tries)
        if not isinstance(outcome, Sent):
            log.info("reply to %s not sent: %s", person_id, outcome)
        return outcome

    def _reply_in(self, where: dict, text: str) -> Outcome:
        """A reply in the conversation a message came from (its thread in a channel)."""
        conversation_id = where["conversation_id"]
        reply_to = where.get("reply_to_id")
        service_url = (where.get("service_url") or self.settings.teams_service_url).rstrip("/")
        client = self.client(service_url)
        activity = MessageActivityInput(summary=text).add_card(where["card"])
        result = self.call(
            conversation_id,
            (lambda: client.conversations.reply_to_activity(conversation_id, reply_to, activity))
            if reply_to
            else (lambda: client.conversations.create_activity(conversation_id, activity)),
        )
        if isinstance(result, OUTCOMES):
            return result
        return Sent(conversation_id, result.id)

    def edit(
        self, conversation_id: str, activity_id: str, card: AdaptiveCard, text: str, tries: int = 5
    ) -> Outcome:
        """Edit a card in a person's 1:1 chat, e.g. after an Action.Execute answer, which
        Teams shows only on the device that clicked. Retried here, like a reply."""
        outcome = self._retried(
            lambda: self._update(conversation_id, activity_id, card, text), tries
        )
        if not isinstance(outcome, Sent):
            log.info("card %s in %s not edited: %s", activity_id, conversation_id, outcome)
        return outcome

    # ------------------------------------------------------------ directory and audiences

    def refresh_directory(self) -> int:
        """Teams has no directory a bot may list: people are known as they install the app."""
        return len(self.store.everyone(TEAMS))

    def look_up_person(self, person_id: str, conversation_id: str | None = None) -> None:
        """The member as Teams shows them in their chat with the bot, or in
        `conversation_id` (a team or group chat they wrote in)
        (GET /v3/conversations/{id}/members/{id}: name, email, userPrincipalName)."""
        reference = self.reference(person_id)
        conversation_id = reference.get("conversation_id") or conversation_id
        if not conversation_id:
            return  # nowhere to ask yet: the install or their first message will tell
        client = self.client(self._service_url(reference))
        member_id = reference.get("user_id") or person_id
        result = self.call(
            None, lambda: client.conversations.get_member_by_id(conversation_id, member_id)
        )
        if isinstance(result, OUTCOMES):
            log.info("member %s not looked up: %s", person_id, result)
            return
        self.store.remember_person(
            TEAMS,
            person_id,
            name=getattr(result, "name", None) or "",
            email=getattr(result, "email", None)
            or getattr(result, "user_principal_name", None)
            or "",
            now=self.clock.now(),
        )

    def audience_problems(self, audience: Audience) -> list[str]:
        """Teams the app is no longer installed in cannot be read (their roster is refused)."""
        return [
            f"Errata is not installed in the team {team_id}: install it there, or choose"
            " another audience."
            for team_id in audience.groups
            if self.store.group(TEAMS, team_id) is None
        ] + self.post_problems(audience.posts)

    def members_of_group(self, team_id: str) -> list[str]:
        return [person.id for person in self._team_members(team_id)]

    def _team_members(self, team_id: str) -> list[Recipient]:
        """A team's roster, page by page; each member is remembered so they can be messaged."""
        team = self.store.group(TEAMS, team_id) or {}
        reference = json.loads(team.get("reference") or "{}")
        return [person for page in self._member_pages(team_id, reference) for person in page]

    def _member_pages(self, conversation_id: str, reference: dict) -> Iterator[list[Recipient]]:
        """A team's (or channel's) roster a page (up to 500) at a time
        (GET /v3/conversations/{id}/pagedmembers); each page's members are remembered,
        in one write, so they can be messaged."""
        service_url = self._service_url(reference)
        client = self.client(service_url)
        token = None
        for _ in range(10_000):
            result = self.call(
                None,
                lambda t=token: client.conversations.get_paged_members(conversation_id, 500, t),
            )
            if isinstance(result, OUTCOMES):
                raise LookupError(f"roster of {conversation_id}: {result}")
            page = [
                {
                    "id": member.aad_object_id or member.id,
                    "name": member.name or "",
                    "email": getattr(member, "email", None)
                    or getattr(member, "user_principal_name", "")
                    or "",
                    "reference": {
                        "user_id": member.id,
                        "service_url": service_url,
                        "tenant_id": reference.get("tenant_id") or self.tenant_id,
                    },
                }
                for member in result.members
            ]
            # One write per page of up to 500 members, not one per member.
            self.store.remember_people(TEAMS, page, self.clock.now())
            yield [Recipient(TEAMS, p["id"], p["name"]) for p in page]
            token = result.continuation_token
            if not token:
                return

    def resolve_audience(self, audience: Audience) -> list[Recipient]:
        found: list[list[Recipient]] = []
        if audience.everyone:
            found.append(self.store.everyone(TEAMS))
        if audience.people:
            known = self.store.people(TEAMS, audience.people)
            found.append(
                [
                    Recipient(
                        TEAMS,
                        pid,
                        (known.get(pid) or {}).get("real_name")
                        or (known.get(pid) or {}).get("name")
                        or "",
                        "app not installed" if (known.get(pid) or {}).get("deleted") else None,
                    )
                    for pid in audience.people
                ]
            )
        for team_id in audience.groups:
            try:
                found.append(self._team_members(team_id))
            except LookupError as exc:
                log.warning("members of team %s unavailable: %s", team_id, exc)
        return merge_recipients(*found)


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        return ""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("code"):
            return str(error["code"])
        # The MessageWritesBlocked form: {"errorCode": 209, "message": "{... subCode ...}"}
        message = str(body.get("message") or "")
        for code in ("MessageWritesBlocked", "ConversationBlockedByUser", "BotDisabledByAdmin"):
            if code in message:
                return code
    return ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
