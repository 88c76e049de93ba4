"""Teams listeners: the activities Teams posts to /api/messages.

Installs and uninstalls (who can be reached), the command menu (memo,
retract, memo list, memo status, memo report, help), the compose and retract
dialogs, and the Acknowledge / I've seen this buttons. Like the Slack
listeners they check who is asking, hand the work to the core, and render
the answer with bot.teams.cards.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time as clock
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core import Core, Refusal
from bot.domain import (
    MEMO_RETRACTED,
    MEMO_RETRACTING,
    Audience,
    compose_errors,
    memo_label,
    parse_memo_ref,
    retract_errors,
    split_memo_ref,
)
from bot.teams import cards
from bot.teams.adapter import TEAMS, TeamsPlatform

log = logging.getLogger(__name__)

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"
LOOK_UP_AGAIN_AFTER = 300.0  # seconds before a person whose look-up failed is asked for again
NOT_PRIVATE = (
    "I cannot write to you privately, so I will not answer that here. Add Errata for"
    " yourself (Apps, then Errata, then Add) and ask me in our chat."
)

HELP = [
    "**Errata** sends company-wide memos, and retracts them when they were sent in error.",
    "• **memo**: write a new memo (comms staff).",
    "• **retract M-7 reason**: retract a memo; everyone who got it is told (comms staff).",
    "• **memo list**: recent memos with their counts.",
    "• **memo status M-7**: one memo's live counts.",
    "• **memo report M-7**: the per-recipient report (comms staff and auditors).",
    "• **help**: this help.",
]


class TeamsListeners:
    def __init__(self, core: Core, teams: TeamsPlatform, report_link=None):
        self.core = core
        self.teams = teams
        self.report_link = report_link  # (memo_id, "platform:id") -> signed, expiring CSV link
        self._looked_up: dict[str, float] = {}  # person -> when their member record was asked for
        self._looked_up_lock = threading.Lock()

    # ------------------------------------------------------------ dispatch

    def handle(self, activity: dict) -> tuple[int, dict | None]:
        """One activity; returns the HTTP status and body Teams expects."""
        kind = activity.get("type")
        self._remember_sender(activity)
        if kind == "installationUpdate":
            self._installation(activity, (activity.get("action") or "").startswith("add"))
            return 200, None
        if kind == "conversationUpdate":
            self._conversation_update(activity)
            return 200, None
        if kind == "message":
            self._message(activity)
            return 200, None
        if kind == "invoke":
            return self._invoke(activity)
        return 200, None

    # ------------------------------------------------------------ who can be reached

    @staticmethod
    def _person_id(activity: dict) -> str:
        """A person is their Entra object ID. Never `from.id`: a Direct Line client chooses
        its own, so it would let anyone pass for anyone (requests without one are refused)."""
        sender = activity.get("from")
        aad = sender.get("aadObjectId") if isinstance(sender, dict) else None
        return aad if isinstance(aad, str) else ""

    def _reference(self, activity: dict) -> dict:
        conversation = activity.get("conversation") or {}
        tenant = ((activity.get("channelData") or {}).get("tenant") or {}).get(
            "id"
        ) or conversation.get("tenantId")
        return {
            "service_url": activity.get("serviceUrl"),
            "tenant_id": tenant,
            "user_id": (activity.get("from") or {}).get("id"),
            "conversation_id": conversation.get("id")
            if conversation.get("conversationType") == "personal"
            else None,
        }

    @staticmethod
    def _timezone(activity: dict) -> str | None:
        """The sender's IANA time zone: `localTimezone` on the activity (what Teams sends
        with messages and invokes), else a clientInfo entity's `timezone`. Install
        events carry neither."""
        zone = activity.get("localTimezone")
        if isinstance(zone, str) and zone:
            return zone
        for entity in activity.get("entities") or []:
            if entity.get("type") == "clientInfo" and isinstance(entity.get("timezone"), str):
                return entity["timezone"] or None
        return None

    @staticmethod
    def _roster_of(activity: dict) -> str | None:
        """A conversation whose roster holds the sender: their 1:1, the team of a channel,
        or the group chat."""
        conversation = activity.get("conversation") or {}
        if conversation.get("conversationType") == "channel":
            team = (activity.get("channelData") or {}).get("team") or {}
            return team.get("id") if isinstance(team.get("id"), str) else None
        cid = conversation.get("id")
        return cid if isinstance(cid, str) and cid else None

    def _remember_sender(self, activity: dict) -> None:
        """Whoever writes or clicks, wherever: their Teams user ID (29:..., what a 1:1 is
        created with), service URL and tenant, name and time zone. A personal chat's ID is
        stored from personal activities only, and never overwritten by anything else."""
        person = self._person_id(activity)
        if not person or activity.get("type") == "installationUpdate":
            return
        reference = {k: v for k, v in self._reference(activity).items() if v}
        name = (activity.get("from") or {}).get("name") or ""
        tz = self._timezone(activity)
        known = self.core.store.person(TEAMS, person) or {}
        stored = json.loads(known.get("reference") or "{}")
        if not (
            all(stored.get(k) == v for k, v in reference.items())
            and (not name or known.get("name") == name)
            and (not tz or known.get("tz") == tz)
        ):  # something new: written (no write on every click)
            self.core.store.remember_person(
                TEAMS, person, name=name, tz=tz, reference=reference, now=self.core.clock.now()
            )
        if not name and not known.get("name"):
            self._look_up_later(person, self._roster_of(activity))

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

    def _installation(self, activity: dict, added: bool) -> None:
        conversation = activity.get("conversation") or {}
        now = self.core.clock.now()
        if conversation.get("conversationType") == "personal":
            if not self._person_id(activity):
                return
            person = self._person_id(activity)
            reference = {k: v for k, v in self._reference(activity).items() if v}
            self.core.store.remember_person(
                TEAMS,
                person,
                name=(activity.get("from") or {}).get("name") or "",
                tz=self._timezone(activity),
                reference=reference,
                installed=added,
                now=now,
            )
            known = self.core.store.person(TEAMS, person) or {}
            if added and not (known.get("name") and known.get("email")):
                # Install events carry no name: ask Teams, off the request path.
                self._look_up_later(person, conversation.get("id"))
            return
        team = (activity.get("channelData") or {}).get("team") or {}
        if team.get("id"):
            if added:
                reference = {
                    "service_url": activity.get("serviceUrl"),
                    "tenant_id": self._reference(activity)["tenant_id"],
                }
                self.core.store.remember_group(
                    TEAMS, team["id"], team.get("name") or "", reference, now
                )
            else:
                self.core.store.forget_group(TEAMS, team["id"])

    def _conversation_update(self, activity: dict) -> None:
        channel_data = activity.get("channelData") or {}
        if channel_data.get("eventType") == "teamRenamed":
            self._team_renamed(activity)
            return
        bot_id = (activity.get("recipient") or {}).get("id")
        added = [m.get("id") for m in activity.get("membersAdded") or []]
        removed = [m.get("id") for m in activity.get("membersRemoved") or []]
        if bot_id in added:
            self._installation(activity, True)
        elif bot_id in removed:
            self._installation(activity, False)

    def _team_renamed(self, activity: dict) -> None:
        """conversationUpdate, channelData.eventType "teamRenamed": the team's new name."""
        team = (activity.get("channelData") or {}).get("team") or {}
        team_id, name = team.get("id"), team.get("name")
        if not isinstance(team_id, str) or not team_id or not isinstance(name, str) or not name:
            return
        known = self.core.store.group(TEAMS, team_id)
        reference = json.loads((known or {}).get("reference") or "{}") or {
            "service_url": activity.get("serviceUrl"),
            "tenant_id": self._reference(activity)["tenant_id"],
        }
        self.core.store.remember_group(TEAMS, team_id, name[:256], reference, self.core.clock.now())

    # ------------------------------------------------------------ commands

    def _reply(self, activity: dict, card, *, private: bool = False) -> None:
        """Answer in the person's chat, after Teams has had its 200 (replies are
        proactive sends); retried a few times through rate limits and faults. A person
        who floods the bot gets a couple of answers, not a queue that delays everyone.
        When no 1:1 can be had (the app is not installed for them: a channel or group
        chat member), the answer goes where they asked, as a reply there; what is
        `private` (their memos, reports) is not shown there, they are told why."""
        person = self._person_id(activity)
        conversation = activity.get("conversation") or {}
        where = None
        if conversation.get("conversationType") in ("channel", "groupChat") and isinstance(
            conversation.get("id"), str
        ):
            where = {
                "service_url": activity.get("serviceUrl"),
                "conversation_id": conversation["id"],
                "reply_to_id": activity.get("id") if isinstance(activity.get("id"), str) else None,
                "card": cards.text_card(NOT_PRIVATE) if private else card,
            }
        self.core.reply_later(
            (TEAMS, person), lambda: self.teams.reply(person, card, "Errata", where=where)
        )

    def _message(self, activity: dict) -> None:
        text = command_text(activity)
        person = self._person_id(activity)
        words = text.split(maxsplit=1)
        verb = words[0].lower() if words else "help"
        rest = words[1] if len(words) > 1 else ""
        core = self.core
        if verb == "retract":
            self._retract_command(activity, person, rest)
        elif verb == "memo":
            sub, _, argument = rest.partition(" ")
            sub = sub.lower()
            if sub in ("", "new", "send"):
                if not core.may_send(TEAMS, person):
                    core.deny(TEAMS, person, "memo")
                    self._reply(activity, cards.text_card("Only comms staff can send memos."))
                    return
                self._reply(
                    activity,
                    cards.open_dialog_card(
                        "Write the memo and choose who gets it.", "New memo", dialog=cards.COMPOSE
                    ),
                )
            elif sub == "list":
                self._reply(activity, self._list(person), private=True)
            elif sub == "status":
                self._reply(activity, self._status(person, argument), private=True)
            elif sub == "report":
                self._reply(activity, self._report(person, argument), private=True)
            else:
                self._reply(activity, cards.text_card(f"I do not know `memo {sub}`.", *HELP))
        else:
            self._reply(activity, cards.text_card(*HELP, f"_You are: {core.role(TEAMS, person)}._"))

    def _retract_command(self, activity: dict, person: str, rest: str) -> None:
        core = self.core
        if not core.may_send(TEAMS, person):
            core.deny(TEAMS, person, "retract", text=rest)
            self._reply(activity, cards.text_card("Only comms staff can retract memos."))
            return
        memo_id, reason = split_memo_ref(rest)
        if rest and memo_id is None:
            self._reply(
                activity,
                cards.text_card(f"`{rest.split()[0]}` is not a memo ID. Memo IDs look like M-7."),
            )
            return
        if memo_id is None:
            self._reply(
                activity,
                cards.open_dialog_card(
                    "Choose the memo to retract.", "Retract a memo", dialog=cards.RETRACT
                ),
            )
            return
        found = core.memo_to_retract(memo_id)
        if isinstance(found, Refusal):
            self._reply(activity, cards.text_card(found.message))
            return
        self._reply(
            activity,
            cards.open_dialog_card(
                f"Retract {found.label}: {found.title}?",
                f"Retract {found.label}",
                dialog=cards.RETRACT,
                memo=found.id,
                reason=reason,
            ),
        )

    def _list(self, person: str):
        core = self.core
        if core.may_oversee(TEAMS, person):
            items = core.overview()
        else:
            items = [
                (memo, core.store.memo_counts(memo.id), None)
                for memo, _ in core.store.memos_received_by(TEAMS, person, 20)
            ]
        if not items:
            return cards.text_card("There are no memos to show.")
        lines = [
            f"**{memo.label}** {memo.title} · {memo.state} · {counts.delivered}/{counts.recipients} delivered"
            + (f" · {counts.acknowledged} acknowledged" if memo.ask_ack else "")
            + (f" · retraction: {r.notified} notified, {r.seen} seen" if r else "")
            for memo, counts, r in items
        ]
        return cards.text_card(*lines)

    def _named(self, text: str):
        memo_id = parse_memo_ref(text.strip())
        memo = self.core.store.memo(memo_id) if memo_id else None
        if memo is None:
            return None, cards.text_card(
                f"There is no memo {memo_label(memo_id)}."
                if memo_id
                else "Name the memo, e.g. M-7."
            )
        return memo, None

    def _status(self, person: str, text: str):
        memo, problem = self._named(text)
        if problem:
            return problem
        if not self.core.may_see_memo(memo.id, TEAMS, person):
            self.core.deny(TEAMS, person, "memo status", memo=memo.id)
            return cards.text_card(
                f"You did not receive {memo.label}; only comms staff and auditors can see every memo."
            )
        return cards.memo_status_card(memo, self.core.store.memo_counts(memo.id))

    def _report(self, person: str, text: str):
        if not self.core.may_oversee(TEAMS, person):
            self.core.deny(TEAMS, person, "memo report", text=text)
            return cards.text_card("Only comms staff and auditors can see that.")
        memo, problem = self._named(text)
        if problem:
            return problem
        from bot import reports

        summary = reports.summary(self.core.store, memo.id)
        link = self.report_link(memo.id, f"{TEAMS}:{person}") if self.report_link else None
        lines = summary.lines()
        lines.append(
            f"[Download the CSV report]({link}) (the link works for an hour)."
            if link
            else "Set PUBLIC_URL to get a download link here; `python -m bot report` works on the server."
        )
        return cards.text_card(*lines)

    # ------------------------------------------------------------ invokes: buttons and dialogs

    def _invoke(self, activity: dict) -> tuple[int, dict]:
        name = activity.get("name")
        value = _object(activity.get("value"))
        person = self._person_id(activity)
        if name == "adaptiveCard/action":
            action = _object(value.get("action"))
            verb = action.get("verb")
            return 200, self._button(
                activity,
                person,
                verb if isinstance(verb, str) else None,
                _object(action.get("data")),
            )
        data = _object(value.get("data")) or value
        if name == "task/fetch":
            return 200, self._open_dialog(person, data)
        if name == "task/submit":
            return 200, self._submit_dialog(activity, person, data)
        return 200, {
            "statusCode": 200,
            "type": MESSAGE,
            "value": "That action is not something Errata knows.",
        }

    def _button(self, activity: dict, person: str, verb: str | None, data: dict) -> dict:
        """An Action.Execute click (or a card's refresh). Teams shows the answer card only
        on the device that clicked, so the chat message itself is edited too, after the
        answer: on another device or after a reload the person sees the same."""
        core = self.core
        if verb == cards.REFRESH:
            return self._refresh(person, data)
        if verb == cards.ACKNOWLEDGE:
            copy_id = _id(data.get("copy_id"))
            click = core.acknowledge(copy_id, person, TEAMS) if copy_id else None
            outcome = click.outcome if click else "unknown"
            if outcome not in ("recorded", "already"):
                refusal = _ACK_REFUSED.get(outcome, _ACK_REFUSED["unknown"])
                return {"statusCode": 200, "type": MESSAGE, "value": refusal}
            memo = core.store.memo(click.memo_id)
            copy = core.store.copy(copy_id)
            refresh_for = self._user_id(person)
            card = (
                cards.acknowledgement_reminder_card(memo, copy_id, click.at, refresh_for)
                if data.get("reminder")
                else cards.memo_card(memo, copy_id, click.at, refresh_for)
            )
            self._show_everywhere(
                activity,
                card,
                memo.title,
                (copy, cards.memo_card(memo, copy_id, click.at, refresh_for)),
            )
            return {"statusCode": 200, "type": CARD, "value": _dump(card)}
        if verb == cards.SEEN:
            notice_id = _id(data.get("notice_id"))
            click = core.mark_seen(notice_id, person, TEAMS) if notice_id else None
            outcome = click.outcome if click else "unknown"
            if outcome not in ("recorded", "already"):
                return {
                    "statusCode": 200,
                    "type": MESSAGE,
                    "value": _SEEN_REFUSED.get(outcome, _SEEN_REFUSED["unknown"]),
                }
            notice = core.store.notice(notice_id)
            memo = core.store.memo(notice.memo_id)
            retraction = core.store.retraction(memo.id)
            card = (
                cards.retraction_reminder_card(memo, retraction, notice_id, 0, click.at)
                if data.get("reminder")
                else cards.notice_card(memo, retraction, notice_id, click.at)
            )
            self._show_everywhere(
                activity,
                card,
                f"RETRACTED: {memo.label} {memo.title}",
                (notice, cards.notice_card(memo, retraction, notice_id, click.at)),
            )
            return {"statusCode": 200, "type": CARD, "value": _dump(card)}
        return {
            "statusCode": 200,
            "type": MESSAGE,
            "value": "That button is not something Errata knows.",
        }

    def _user_id(self, person: str) -> str | None:
        reference = json.loads(
            (self.core.store.person(TEAMS, person) or {}).get("reference") or "{}"
        )
        return reference.get("user_id")

    def _show_everywhere(self, activity: dict, card, text: str, delivered) -> None:
        """After the answer: edit the clicked message to `card`, and the delivered message
        (`delivered`: (copy or notice, its card)) when the click came from another one
        (a reminder). Only messages in the clicker's own 1:1 chat are edited."""
        conversation = (activity.get("conversation") or {}).get("id")
        clicked = activity.get("replyToId")
        if (activity.get("conversation") or {}).get("conversationType") != "personal":
            conversation = None
        item, its_card = delivered
        edits = []
        if isinstance(conversation, str) and isinstance(clicked, str) and clicked:
            edits.append((conversation, clicked, card))
        if (
            item is not None
            and item.channel
            and item.ts
            and (item.channel, item.ts)
            != (
                conversation,
                clicked,
            )
        ):
            edits.append((item.channel, item.ts, its_card))
        if not edits:
            return

        def edit() -> None:
            for conversation_id, activity_id, new in edits:
                self.teams.edit(conversation_id, activity_id, new, text)

        self.core.after_answer(edit)

    def _refresh(self, person: str, data: dict) -> dict:
        """A memo card's `refresh` (Teams invokes it when the card is shown): the card as
        the store has it now: RETRACTED, acknowledged, or the memo with its button. This
        reaches copies whose message ID was never confirmed, which no edit can."""
        core = self.core
        copy_id = _id(data.get("copy_id"))
        copy = core.store.copy(copy_id) if copy_id else None
        if copy is None or copy.recipient_id != person or copy.platform != TEAMS:
            return {"statusCode": 200, "type": MESSAGE, "value": _ACK_REFUSED["not_yours"]}
        memo = core.store.memo(copy.memo_id)
        retraction = core.store.retraction(memo.id)
        if retraction is not None and memo.state in (MEMO_RETRACTING, MEMO_RETRACTED):
            card = cards.retracted_card(memo, retraction, core.settings.show_retracted_body)
        elif data.get("reminder"):
            card = cards.acknowledgement_reminder_card(
                memo, copy.id, copy.acknowledged_at, self._user_id(person)
            )
        else:
            card = cards.memo_card(memo, copy.id, copy.acknowledged_at, self._user_id(person))
        return {"statusCode": 200, "type": CARD, "value": _dump(card)}

    def _dialog(self, title: str, card) -> dict:
        return {
            "task": {
                "type": "continue",
                "value": {"title": title, "card": {"contentType": CARD, "content": _dump(card)}},
            }
        }

    @staticmethod
    def _close(text: str) -> dict:
        return {"task": {"type": "message", "value": text}}

    def _open_dialog(self, person: str, data: dict) -> dict:
        core = self.core
        if not core.may_send(TEAMS, person):
            core.deny(TEAMS, person, "open dialog", dialog=data.get("dialog"))
            return self._close("Only comms staff can send or retract memos.")
        if data.get("dialog") == cards.RETRACT:
            memo_id = _id(data.get("memo"))
            if memo_id:
                found = core.memo_to_retract(memo_id)
                if isinstance(found, Refusal):
                    return self._close(found.message)
                reason = data.get("reason")
                return self._dialog(
                    "Retract memo",
                    cards.retract_dialog(
                        found, [], reason=reason[:4000] if isinstance(reason, str) else ""
                    ),
                )
            return self._dialog(
                "Retract memo", cards.retract_dialog(None, core.retractable_memos())
            )
        return self._dialog("New memo", self._compose_card())

    def _compose_card(self, errors=None, values=None):
        others = (
            {"slack": self.core.store.groups("slack")} if "slack" in self.core.platforms else {}
        )
        return cards.compose_dialog(
            teams=self.core.store.groups(TEAMS),
            other_platforms=others,
            errors=errors,
            values=values,
        )

    def _submit_dialog(self, activity: dict, person: str, data: dict) -> dict:
        core = self.core
        if not core.may_send(TEAMS, person):
            core.deny(TEAMS, person, "submit dialog", dialog=data.get("dialog"))
            return self._close("Only comms staff can send or retract memos.")
        if data.get("dialog") == cards.RETRACT:
            return self._submit_retraction(person, data)
        return self._submit_memo(activity, person, data)

    def _submit_memo(self, activity: dict, person: str, data: dict) -> dict:
        core = self.core
        title = str(data.get("title") or "")
        body = str(data.get("message") or "")
        audiences = [
            Audience(
                people=_many(data.get("people")),
                groups=_many(data.get("teams")),
                everyone=_true(data.get("everyone")),
                platform=TEAMS,
            )
        ]
        if "slack" in core.platforms:
            audiences.append(
                Audience(
                    groups=_many(data.get("slack_groups")),
                    everyone=_true(data.get("slack_everyone")),
                    platform="slack",
                )
            )
        deadline, deadline_errors = _deadline(
            data.get("deadline_date"), data.get("deadline_time"), self._zone(person)
        )
        errors = compose_errors(
            title=title, body=body, audience=audiences, ack_deadline=deadline, now=core.clock.now()
        )
        errors.update(deadline_errors)
        if errors:
            return self._dialog(
                "New memo",
                self._compose_card(errors, {k: v for k, v in data.items() if isinstance(v, str)}),
            )
        memo = core.send_memo(
            sender_id=person,
            platform=TEAMS,
            title=title,
            body=body,
            audience=tuple(a for a in audiences if not a.empty),
            ask_ack=_true(data.get("ask_ack")),
            ack_deadline=deadline,
        )
        return self._close(
            f"{memo.label} is on its way. I'll keep its status up to date in this chat."
        )

    def _submit_retraction(self, person: str, data: dict) -> dict:
        core = self.core
        memo_id = _id(data.get("memo"))
        reason = str(data.get("reason") or "")
        errors = retract_errors(reason=reason)
        if not memo_id:
            errors["memo"] = "Choose the memo to retract."
        if errors:
            memo = core.store.memo(memo_id) if memo_id else None
            card = cards.retract_dialog(
                memo, [] if memo else core.retractable_memos(), reason=reason, errors=errors
            )
            return self._dialog("Retract memo", card)
        requested = core.request_retraction(
            memo_id,
            by=person,
            platform=TEAMS,
            reason=reason,
            corrections=str(data.get("corrections") or ""),
        )
        if isinstance(requested, Refusal):
            return self._close(requested.message)
        # Stored: it stands even if the process dies now. Carried out at once on its own
        # path, never behind chat replies.
        core.apply_retraction_soon(memo_id)
        return self._close(
            f"{requested.label} is being retracted; everyone who got it will be told."
        )

    def _zone(self, person: str) -> ZoneInfo:
        tz = (self.core.store.person(TEAMS, person) or {}).get("tz")
        try:
            return ZoneInfo(tz) if tz else self.core.settings.default_timezone
        except (ZoneInfoNotFoundError, ValueError):
            return self.core.settings.default_timezone


_ACK_REFUSED = {
    "retracted": "This memo was retracted, so there is nothing to acknowledge. Look for the retraction notice in this chat.",
    "retracting": "This memo is being retracted, so your acknowledgement was not recorded. Look for the retraction notice in this chat.",
    "not_yours": "This Acknowledge button belongs to someone else's copy of the memo; nothing was recorded.",
    "closed": "This memo is not waiting for an acknowledgement.",
    "unknown": "That memo could not be found.",
}
_SEEN_REFUSED = {
    "not_yours": "This button belongs to someone else's retraction notice; nothing was recorded.",
    "unknown": "That retraction notice could not be found.",
}


def _dump(card) -> dict:
    return card.model_dump(by_alias=True, exclude_none=True)


def _object(value) -> dict:
    return value if isinstance(value, dict) else {}


_MENTION = re.compile(r"<at\b[^>]*>.*?</at>", re.IGNORECASE | re.DOTALL)
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")


def command_text(activity: dict) -> str:
    """The command in a message, as it would read in a personal chat. In a channel or a
    group chat Teams sends `<at>Errata</at>&nbsp;memo list` (HTML: the mention, entities,
    maybe <p>/<div>/<br>), with a `mention` entity naming the bot: the bot's mention (by
    its entity, then any <at> element) goes, tags go, entities are decoded and white
    space (no-break spaces, line breaks) is collapsed."""
    text = activity.get("text")
    text = text if isinstance(text, str) else ""
    bot_id = (activity.get("recipient") or {}).get("id")
    for entity in activity.get("entities") or []:
        mentioned = entity.get("mentioned")
        said = entity.get("text")
        if (
            entity.get("type") == "mention"
            and isinstance(mentioned, dict)
            and mentioned.get("id") == bot_id
            and isinstance(said, str)
            and said
        ):
            text = text.replace(said, " ")
    text = _MENTION.sub(" ", text)
    text = _BREAK.sub(" ", text)
    text = _TAG.sub("", text)
    return " ".join(html.unescape(text).split())


def _id(value) -> int | None:
    text = str(value if value is not None else "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 16 else None


def _many(value) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value if v)
    return tuple(v.strip() for v in str(value or "").split(",") if v.strip())


def _true(value) -> bool:
    return value is True or str(value).lower() == "true"


def _deadline(day, at, zone: ZoneInfo) -> tuple[datetime | None, dict[str, str]]:
    """The acknowledgement deadline from the dialog's date and time inputs, and what is
    wrong with them, by field. A date without a time means 17:00 that day."""
    # Anything but text (a client that sends an object) is as wrong as a bad date.
    day = day.strip() if isinstance(day, str) else ("" if day is None else "?")
    at = at.strip() if isinstance(at, str) else ("" if at is None else "?")
    errors: dict[str, str] = {}
    date = hour = None
    if day:
        try:
            date = datetime.strptime(day, "%Y-%m-%d").date()
        except ValueError:
            errors["deadline_date"] = f"{day[:20]} is not a date. Choose the day in the calendar."
    if at:
        for shape in ("%H:%M", "%H:%M:%S"):
            try:
                hour = datetime.strptime(at, shape).time()
                break
            except ValueError:
                continue
        else:
            errors["deadline_time"] = (
                f"{at[:20]} is not a time of day. Use hours and minutes, e.g. 17:00."
            )
    if at and not day and not errors:
        errors["deadline_date"] = "Choose the day as well as the time."
    if errors or date is None:
        return None, errors
    return datetime.combine(date, hour or time(17, 0), zone), {}


# The fields the listeners read, and the shapes they must have when present.
_SHAPES: dict[tuple[str, ...], type] = {
    ("type",): str,
    ("name",): str,
    ("action",): str,
    ("text",): str,
    ("serviceUrl",): str,
    ("channelId",): str,
    ("from",): dict,
    ("recipient",): dict,
    ("conversation",): dict,
    ("channelData",): dict,
    ("channelData", "tenant"): dict,
    ("channelData", "team"): dict,
    ("value",): dict,
    ("value", "action"): dict,
    ("value", "data"): dict,
    ("value", "action", "data"): dict,
    ("entities",): list,
    ("membersAdded",): list,
    ("membersRemoved",): list,
}
_LISTS_OF_OBJECTS = ("entities", "membersAdded", "membersRemoved")


def parse_activity(raw: bytes) -> dict | None:
    """The activity, or None for anything malformed: bad JSON or encoding, nesting too
    deep for the parser, not an object with a type, or a field the listeners read
    with the wrong shape (so that bad input is a 400, never a listener's 500)."""
    try:
        activity = json.loads(raw)
    except (ValueError, RecursionError, TypeError, MemoryError):
        return None
    if not isinstance(activity, dict) or not isinstance(activity.get("type"), str):
        return None
    for path, shape in _SHAPES.items():
        node = activity
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, shape):
            return None
    for key in _LISTS_OF_OBJECTS:
        if not all(isinstance(item, dict) for item in activity.get(key) or []):
            return None
    return activity
