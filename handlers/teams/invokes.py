"""Teams invokes: the Acknowledge / I've seen this buttons (Action.Execute), a memo
card's refresh, and the compose and retract dialogs (task/fetch opens one, task/submit
sends the memo or stores the retraction). Each answers in the body Teams expects."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from bot.core import Core, Refusal
from bot.domain import (
    MEMO_RETRACTED,
    MEMO_RETRACTING,
    Audience,
    compose_errors,
    retract_errors,
)
from bot.teams import cards
from bot.teams import channels as channel_cards
from bot.teams.adapter import TEAMS, TeamsPlatform
from handlers.teams.activity import an_id, an_object, many, person_id, true
from handlers.teams.tracking import Tracking

CARD = "application/vnd.microsoft.card.adaptive"
MESSAGE = "application/vnd.microsoft.activity.message"

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


class Invokes:
    def __init__(self, core: Core, teams: TeamsPlatform):
        self.core = core
        self.teams = teams
        self.tracking = Tracking(core, teams)

    def invoke(self, activity: dict) -> tuple[int, dict]:
        name = activity.get("name")
        value = an_object(activity.get("value"))
        person = person_id(activity)
        if name == "adaptiveCard/action":
            action = an_object(value.get("action"))
            verb = action.get("verb")
            return 200, self._button(
                activity,
                person,
                verb if isinstance(verb, str) else None,
                an_object(action.get("data")),
            )
        if name == "composeExtension/fetchTask":
            return 200, self.tracking.fetch(activity, person, value)
        if name == "composeExtension/submitAction":
            return 200, self.tracking.submit(activity, person, value)
        data = an_object(value.get("data")) or value
        if name == "task/fetch":
            return 200, self._open_dialog(person, data)
        if name == "task/submit":
            return 200, self._submit_dialog(person, data)
        return 200, _message("That action is not something Errata knows.")

    # ------------------------------------------------------------ buttons

    def _button(self, activity: dict, person: str, verb: str | None, data: dict) -> dict:
        """An Action.Execute click (or a card's refresh). Teams shows the answer card only
        on the device that clicked, so the chat message itself is edited too, after the
        answer: on another device or after a reload the person sees the same."""
        core = self.core
        if verb == cards.REFRESH:
            return self._refresh(person, data)
        if verb in (channel_cards.CHANNEL_ACKNOWLEDGE, channel_cards.CHANNEL_SEEN):
            return self._channel_click(person, verb, data)
        if verb == cards.ACKNOWLEDGE:
            copy_id = an_id(data.get("copy_id"))
            click = core.acknowledge(copy_id, person, TEAMS) if copy_id else None
            outcome = click.outcome if click else "unknown"
            if outcome not in ("recorded", "already"):
                return _message(_ACK_REFUSED.get(outcome, _ACK_REFUSED["unknown"]))
            memo, copy = core.answers.copy(copy_id)
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
            return _card(card)
        if verb == cards.SEEN:
            notice_id = an_id(data.get("notice_id"))
            click = core.mark_seen(notice_id, person, TEAMS) if notice_id else None
            outcome = click.outcome if click else "unknown"
            if outcome not in ("recorded", "already"):
                return _message(_SEEN_REFUSED.get(outcome, _SEEN_REFUSED["unknown"]))
            memo, retraction, _, notice = core.answers.notice(notice_id)
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
            return _card(card)
        if verb in (cards.APPROVE, cards.UNDO):
            memo_id = an_id(data.get("memo")) or 0
            if verb == cards.APPROVE:
                done = core.approve(memo_id, TEAMS, person)
            else:
                done = core.undo(memo_id, TEAMS, person)
            if isinstance(done, Refusal):
                return _message(done.message)
            recipients = core.answers.status(memo_id).counts.recipients
            if verb == cards.APPROVE:
                return _card(
                    cards.approval_card(
                        done, core.display_name(done.sender_platform, done.sender_id), recipients
                    )
                )
            return _card(cards.memo_status_card(done, core.answers.status(memo_id).counts))
        return _message("That button is not something Errata knows.")

    def _channel_click(self, person: str, verb: str, data: dict) -> dict:
        """Acknowledge or I've seen this on a card in a channel: everyone's card, so the
        answer is a private message to the clicker and the card itself is left alone (its
        count changes for all, bot.channels)."""
        post_id = an_id(data.get("post_id"))
        channels = self.core.channels
        if verb == channel_cards.CHANNEL_ACKNOWLEDGE:
            click = channels.acknowledge(post_id, person, TEAMS) if post_id and person else None
        else:
            click = channels.seen(post_id, person, TEAMS) if post_id and person else None
        outcome = click.outcome if click else "unknown"
        if outcome in ("recorded", "already"):
            if verb == channel_cards.CHANNEL_SEEN:
                return _message(channel_cards.SEEN_TEXT)
            memo = self.core.answers.memo(click.memo_id)
            return _message(channel_cards.acknowledged_text(memo.label if memo else "this memo"))
        if outcome == "not_member":
            return _message(channel_cards.NOT_MEMBER)
        refused = _ACK_REFUSED if verb == channel_cards.CHANNEL_ACKNOWLEDGE else _SEEN_REFUSED
        return _message(refused.get(outcome, refused["unknown"]))

    def _user_id(self, person: str) -> str | None:
        """The person's Teams user ID (29:...): a card's refresh names it."""
        return self.core.answers.reference(TEAMS, person).get("user_id")

    def _show_everywhere(self, activity: dict, card, text: str, delivered) -> None:
        """After the answer: edit the clicked message to `card`, and the delivered message
        (`delivered`: (copy or notice, its card)) when the click came from another one
        (a reminder). Only messages in the clicker's own 1:1 chat are edited."""
        conversation = (activity.get("conversation") or {}).get("id")
        clicked = activity.get("replyToId")
        if (activity.get("conversation") or {}).get("conversationType") != "personal":
            conversation = None
        item, its_card = delivered
        if getattr(item, "post_id", None):
            item = None  # reached through a channel card: everyone's, never edited for one
        edits = []
        if isinstance(conversation, str) and isinstance(clicked, str) and clicked:
            edits.append((conversation, clicked, card))
        if (
            item is not None
            and item.channel
            and item.ts
            and (item.channel, item.ts) != (conversation, clicked)
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
        copy_id = an_id(data.get("copy_id"))
        found = core.answers.copy(copy_id) if copy_id else None
        memo, copy = found or (None, None)
        if copy is None or copy.recipient_id != person or copy.platform != TEAMS:
            return _message(_ACK_REFUSED["not_yours"])
        retraction = core.answers.retraction(memo.id)
        if retraction is not None and memo.state in (MEMO_RETRACTING, MEMO_RETRACTED):
            card = cards.retracted_card(memo, retraction, core.settings.show_retracted_body)
        elif data.get("reminder"):
            card = cards.acknowledgement_reminder_card(
                memo, copy.id, copy.acknowledged_at, self._user_id(person)
            )
        else:
            card = cards.memo_card(memo, copy.id, copy.acknowledged_at, self._user_id(person))
        return _card(card)

    # ------------------------------------------------------------ dialogs

    def _open_dialog(self, person: str, data: dict) -> dict:
        core = self.core
        if not core.may_send(TEAMS, person):
            core.deny(TEAMS, person, "open dialog", dialog=data.get("dialog"))
            return _close("Only comms staff can send or retract memos.")
        if data.get("dialog") == cards.REJECT:
            found = core.may_decide(an_id(data.get("memo")) or 0, TEAMS, person)
            if isinstance(found, Refusal):
                return _close(found.message)
            return _dialog("Reject memo", cards.reject_dialog(found))
        if data.get("dialog") == cards.RETRACT:
            memo_id = an_id(data.get("memo"))
            if memo_id:
                found = core.memo_to_retract(memo_id)
                if isinstance(found, Refusal):
                    return _close(found.message)
                reason = data.get("reason")
                return _dialog(
                    "Retract memo",
                    cards.retract_dialog(
                        found, [], reason=reason[:4000] if isinstance(reason, str) else ""
                    ),
                )
            return _dialog("Retract memo", cards.retract_dialog(None, core.retractable_memos()))
        return _dialog("New memo", self._compose_card())

    def _compose_card(self, errors=None, values=None):
        answers = self.core.answers
        others = {"slack": answers.groups("slack")} if "slack" in self.core.platforms else {}
        return cards.compose_dialog(
            teams=answers.groups(TEAMS),
            other_platforms=others,
            errors=errors,
            values=values,
            channels=self.teams.postable_channels(),
        )

    def _submit_dialog(self, person: str, data: dict) -> dict:
        core = self.core
        if not core.may_send(TEAMS, person):
            core.deny(TEAMS, person, "submit dialog", dialog=data.get("dialog"))
            return _close("Only comms staff can send or retract memos.")
        if data.get("dialog") == cards.RETRACT:
            return self._submit_retraction(person, data)
        if data.get("dialog") == cards.REJECT:
            return self._submit_rejection(person, data)
        return self._submit_memo(person, data)

    def _submit_rejection(self, person: str, data: dict) -> dict:
        """The Reject dialog: the first decision wins; a refusal closes the dialog."""
        core = self.core
        memo_id = an_id(data.get("memo")) or 0
        reason = data.get("reason") if isinstance(data.get("reason"), str) else ""
        if not reason.strip():
            found = core.may_decide(memo_id, TEAMS, person)
            if isinstance(found, Refusal):
                return _close(found.message)
            errors = {"reason": "Say why the memo is rejected; its sender will read this."}
            return _dialog("Reject memo", cards.reject_dialog(found, errors))
        decided = core.reject(memo_id, TEAMS, person, reason[:4000])
        if isinstance(decided, Refusal):
            return _close(decided.message)
        return _close(f"{decided.label} is rejected; it reaches no one and its sender is told.")

    def _submit_memo(self, person: str, data: dict) -> dict:
        core = self.core
        title = str(data.get("title") or "")
        body = str(data.get("message") or "")
        audiences = [
            Audience(
                people=many(data.get("people")),
                groups=many(data.get("teams")),
                everyone=true(data.get("everyone")),
                platform=TEAMS,
                posts=many(data.get("post_channels")),
            )
        ]
        if "slack" in core.platforms:
            audiences.append(
                Audience(
                    groups=many(data.get("slack_groups")),
                    everyone=true(data.get("slack_everyone")),
                    platform="slack",
                )
            )
        deadline, deadline_errors = _deadline(
            data.get("deadline_date"),
            data.get("deadline_time"),
            core.answers.time_zone(TEAMS, person),
        )
        send_at, send_at_errors = _deadline(
            data.get("send_at_date"),
            data.get("send_at_time"),
            core.answers.time_zone(TEAMS, person),
        )
        errors = compose_errors(
            title=title,
            body=body,
            audience=audiences,
            ack_deadline=deadline,
            now=core.clock.now(),
            send_at=send_at,
        )
        errors.update(deadline_errors)
        errors.update({k.replace("deadline", "send_at"): v for k, v in send_at_errors.items()})
        if not errors:
            problems = core.audience_problems(audiences)
            if problems:
                posting = any(p.startswith("Errata cannot post") for p in problems)
                errors = {"post_channels" if posting else "people": " ".join(problems)[:1900]}
        if errors:
            return _dialog(
                "New memo",
                self._compose_card(errors, {k: v for k, v in data.items() if isinstance(v, str)}),
            )
        memo = core.send_memo(
            sender_id=person,
            platform=TEAMS,
            title=title,
            body=body,
            audience=tuple(a for a in audiences if not a.empty),
            ask_ack=true(data.get("ask_ack")),
            ack_deadline=deadline,
            send_at=send_at,
        )
        if memo.state == "scheduled":
            return _close(
                f"{memo.label} is scheduled. I'll keep its status up to date in this chat."
            )
        return _close(f"{memo.label} is on its way. I'll keep its status up to date in this chat.")

    def _submit_retraction(self, person: str, data: dict) -> dict:
        core = self.core
        memo_id = an_id(data.get("memo"))
        reason = str(data.get("reason") or "")
        errors = retract_errors(reason=reason)
        if not memo_id:
            errors["memo"] = "Choose the memo to retract."
        if errors:
            memo = core.answers.memo(memo_id) if memo_id else None
            card = cards.retract_dialog(
                memo, [] if memo else core.retractable_memos(), reason=reason, errors=errors
            )
            return _dialog("Retract memo", card)
        requested = core.request_retraction(
            memo_id,
            by=person,
            platform=TEAMS,
            reason=reason,
            corrections=str(data.get("corrections") or ""),
        )
        if isinstance(requested, Refusal):
            return _close(requested.message)
        # Stored: it stands even if the process dies now. Carried out at once on its own
        # path, never behind chat replies.
        core.apply_retraction_soon(memo_id)
        return _close(f"{requested.label} is being retracted; everyone who got it will be told.")


# ------------------------------------------------------------ answers in Teams' shapes


def _dump(card) -> dict:
    return card.model_dump(by_alias=True, exclude_none=True)


def _card(card) -> dict:
    return {"statusCode": 200, "type": CARD, "value": _dump(card)}


def _message(text: str) -> dict:
    return {"statusCode": 200, "type": MESSAGE, "value": text}


def _dialog(title: str, card) -> dict:
    return {
        "task": {
            "type": "continue",
            "value": {"title": title, "card": {"contentType": CARD, "content": _dump(card)}},
        }
    }


def _close(text: str) -> dict:
    return {"task": {"type": "message", "value": text}}


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
