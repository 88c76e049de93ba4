"""Teams message commands and their replies: memo (the compose dialog's button), retract,
memo list, memo status, memo report, help. Replies are cards sent after Teams has had
its answer, in the person's 1:1 chat (or, when none can be had, where they asked)."""

from __future__ import annotations

from bot.core import Core, Refusal
from bot.domain import memo_label, parse_memo_ref, split_memo_ref
from bot.teams import cards
from bot.teams.adapter import TEAMS, TeamsPlatform
from handlers.teams.activity import command_text, person_id

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


class Commands:
    def __init__(self, core: Core, teams: TeamsPlatform, report_link=None):
        self.core = core
        self.teams = teams
        self.report_link = report_link  # (memo_id, "platform:id") -> signed, expiring CSV link

    def _reply(self, activity: dict, card, *, private: bool = False) -> None:
        """Answer in the person's chat, after Teams has had its 200 (replies are
        proactive sends); retried a few times through rate limits and faults. A person
        who floods the bot gets a couple of answers, not a queue that delays everyone.
        When no 1:1 can be had (the app is not installed for them: a channel or group
        chat member), the answer goes where they asked, as a reply there; what is
        `private` (their memos, reports) is not shown there, they are told why."""
        person = person_id(activity)
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

    def message(self, activity: dict) -> None:
        text = command_text(activity)
        person = person_id(activity)
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
            items = core.answers.received_by(TEAMS, person, 20)
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
        memo = self.core.answers.memo(memo_id) if memo_id else None
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
        return cards.memo_status_card(memo, self.core.answers.status(memo.id).counts)

    def _report(self, person: str, text: str):
        if not self.core.may_oversee(TEAMS, person):
            self.core.deny(TEAMS, person, "memo report", text=text)
            return cards.text_card("Only comms staff and auditors can see that.")
        memo, problem = self._named(text)
        if problem:
            return problem
        summary = self.core.answers.report_summary(memo.id)
        link = self.report_link(memo.id, f"{TEAMS}:{person}") if self.report_link else None
        lines = summary.lines()
        lines.append(
            f"[Download the CSV report]({link}) (the link works for an hour)."
            if link
            else "Set PUBLIC_URL to get a download link here; `python -m bot report` works on the server."
        )
        return cards.text_card(*lines)
