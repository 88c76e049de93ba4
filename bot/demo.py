"""`python -m bot demo`: the whole story on a stand-in Slack, no account needed.

A real bot (the same code `python -m bot` runs) serves HTTP on loopback; the
stand-in Slack plays both Slack's Web API and the people clicking in Slack.
Slack's rate limits are kept, only run faster (the stand-in's time scale).
"""

from __future__ import annotations

import logging
import random
import sys
import tempfile
import time
from pathlib import Path

from bot import audit, logs, reports
from bot.app import Bot
from bot.config import load_settings
from standin.slack import StandInSlack, generate_directory
from standin.teams import StandInTeams, generate_teams_directory

SCALE = 10.0  # Slack's limits, ten times faster
SECRET = "demo-signing-secret"
TOKEN = "xoxb-demo"


def _wait(condition, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo stalled")
        time.sleep(0.05)


def _say(text: str = "") -> None:
    print(text, flush=True)


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, rule, *body])


def _reminders_sent(store) -> int:
    return sum(n.reminders_sent for n in store.notices_of(1))


def _short(value) -> str:
    """A report cell for the screen: times as HH:MM:SS."""
    text = str(value)
    return text[11:19] if len(text) == 20 and text.endswith("Z") else text


class Actors:
    """The people of the demo, on whichever platform they got the memo."""

    def __init__(self, slack: StandInSlack, teams: StandInTeams):
        self.slack = slack
        self.teams = teams

    def click(self, platform: str, person: str, event: str, button: str) -> bool:
        """Press `button` on the newest message of kind `event` in the person's chat."""
        if platform == "teams":
            member = self.teams.directory.person(person)
            found = [m for m in self.teams.chat(member) if button in m.buttons()]
            if found:
                self.teams.invoke_action(member, found[-1], button)
            return bool(found)
        found = [m for m in self.slack.dm(person) if (m.metadata or {}).get("event_type") == event]
        if found:
            self.slack.click(person, found[-1], button)
        return bool(found)


def run_demo(people: int = 300, seed: int = 7, teams_people: int = 80) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logs.install()
    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="errata-demo-"))
    slack = StandInSlack(
        generate_directory(people=people, seed=seed),
        signing_secret=SECRET,
        bot_token=TOKEN,
        time_scale=SCALE,
    )
    slack.start()
    teams = StandInTeams(
        generate_teams_directory(people=teams_people, seed=seed, installed=1.0),
        time_scale=SCALE,
    )
    teams.start()
    actors = Actors(slack, teams)
    humans = slack.directory.active_humans()
    comms = humans[0]
    settings = load_settings(
        {
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_PATH": str(workdir / "errata.db"),
            "COMMS_STAFF": comms,
            "SLACK_POST_PER_MINUTE": str(int(300 * SCALE)),
            "SLACK_UPDATE_PER_MINUTE": str(int(50 * SCALE)),
            "STATUS_UPDATE_EVERY": "1s",
            # Short intervals so the demo shows a reminder round and an escalation.
            "RETRACTION_REMIND_AFTER": "3s",
            "REMIND_EVERY": "3s",
            "MAX_REMINDERS": "1",
            "WORKING_HOURS": "off",
            "LOG_LEVEL": "WARNING",
            # The same memo also goes to Microsoft Teams, through a stand-in Bot Connector.
            "TEAMS_APP_ID": teams.app_id,
            "TEAMS_APP_PASSWORD": teams.app_password,
            "TEAMS_TENANT_ID": teams.tenant_id,
            "TEAMS_SERVICE_URL": teams.service_url,
            # Authentication on both ways, as in production: the stand-in issues real
            # signed tokens from these endpoints.
            "TEAMS_LOGIN_ENDPOINT": teams.login_endpoint,
            "TEAMS_OPENID_METADATA_URL": teams.openid_metadata_url,
            "TEAMS_REQUESTS_PER_SECOND": str(45 * SCALE),
            "TEAMS_CONVERSATION_REQUESTS_PER_SECOND": str(0.5 * SCALE),
        }
    )
    bot = Bot(settings, idle_wait=0.05)
    try:
        bot.start(scheduler=False)
        slack.bot_url = teams.bot_url = bot.serve_in_background()
        store = bot.store
        teams.install_many()
        _wait(lambda: len(store.everyone("teams")) == teams_people)
        name = lambda user_id: slack.directory.person(user_id).real_name  # noqa: E731

        _say(f"Stand-in Slack at {slack.api_url} with {len(slack.directory.people)} accounts:")
        _say(f"  {len(humans)} active people, the rest bots, deactivated accounts and Slackbot.")
        _say(f"Stand-in Teams at {teams.service_url} with {teams_people} people who have the app.")
        _say(
            f"Errata serves {slack.bot_url}/slack/events and /api/messages; database {workdir / 'errata.db'}"
        )
        _say(f"Slack's and Teams' rate limits apply, {SCALE:g} times faster.\n")

        _say(
            f"{name(comms)} (comms staff) runs /memo and sends one memo to everyone, on Slack and Teams..."
        )
        slack.command(comms, "/memo")
        _wait(lambda: slack.open_views(comms))
        reply = slack.submit_view(
            comms,
            {
                "Title": "Delete the TikTok app from your phone by Friday",
                "Message": "For security reasons, every employee must delete the app from any"
                " phone used for work by Friday 17:00.",
                "Everyone in the workspace": True,
                "Teams: everyone with the app": True,
                "Ask for acknowledgement": True,
            },
        )
        if reply.errors:
            _say(f"the form was refused: {reply.errors}")
            return 1
        _wait(lambda: store.memo(1) is not None and store.memo_counts(1).recipients > 0)
        memo = store.memo(1)
        total = store.memo_counts(1).recipients
        _say(f"{memo.label} stored with {total} recipients; the fan-out starts.")

        # Some people acknowledge as their copies arrive.
        acknowledged: set[str] = set()
        while store.memo_counts(1).delivered < total * 0.4:
            for copy in store.copies_of(1):
                if (
                    copy.state == "delivered"
                    and copy.recipient_id not in acknowledged
                    and rng.random() < 0.3
                ):
                    actors.click(copy.platform, copy.recipient_id, "errata_copy", "Acknowledge")
                    acknowledged.add(copy.recipient_id)
            time.sleep(0.1)
        counts = store.memo_counts(1)
        _say(
            f"  {counts.delivered} delivered, {counts.pending} still to send,"
            f" {len(acknowledged)} acknowledged so far."
        )

        _say("\nIt was sent in error. Comms runs /retract M-1 mid-way through the fan-out...")
        slack.command(comms, "/retract M-1 Sent in error: no app needs deleting")
        _wait(lambda: slack.open_views(comms))
        slack.submit_view(comms, {"Corrected instructions": "Keep the app. No action is needed."})
        # Count once every copy has settled (those on their way when the retraction came
        # land as delivered, the rest are cancelled): the same figures as the table below.
        _wait(
            lambda: (
                store.memo(1).state in ("retracting", "retracted")
                and store.memo_counts(1).pending == 0
            )
        )
        counts = store.memo_counts(1)
        _say(
            f"  Retraction recorded: {counts.cancelled} copies cancelled before they went out;"
            f" {counts.delivered} people had it and get a notice (acknowledgers first)."
        )
        _wait(lambda: store.retraction_counts(1).pending == 0, timeout=180)
        notified = store.retraction_counts(1).notified
        _say(f"  {notified} notices delivered, each where its person got the memo; edits continue.")

        notices = [n for n in store.notices_of(1) if n.state == "delivered"]
        rng.shuffle(notices)
        seen_by = notices[: len(notices) * 2 // 3]
        for notice in seen_by:
            actors.click(notice.platform, notice.recipient_id, "errata_notice", "I've seen this")
        _say(f'  {len(seen_by)} people click "I\'ve seen this".')
        _wait(lambda: store.memo(1).state == "retracted", timeout=300)
        bot.core.status.flush()
        _wait(lambda: store.retraction_counts(1).seen >= len(seen_by))

        outstanding = store.retraction_counts(1).outstanding
        _say(
            f"\n{outstanding} people have not confirmed. Reminders are due after 3s (demo setting)..."
        )
        time.sleep(3.2)
        bot.core.reminders.sweep()
        _wait(lambda: _reminders_sent(store) >= outstanding)
        _say(f'  {_reminders_sent(store)} reminders sent, each with an "I\'ve seen this" button.')
        late = [n for n in store.notices_of(1) if n.state == "delivered" and not n.seen_at]
        for notice in late[: len(late) // 3]:
            actors.click(notice.platform, notice.recipient_id, "errata_reminder", "I've seen this")
        _wait(lambda: store.retraction_counts(1).seen >= len(seen_by) + len(late) // 3)
        _say(f"  {len(late) // 3} more confirm from the reminder.")
        time.sleep(3.2)
        bot.core.reminders.sweep()
        _wait(lambda: any("Not confirmed" in m.content() for m in slack.dm(comms)))
        escalated = store.retraction_counts(1).outstanding
        _say(
            f"  After the last reminder, {name(comms)} gets one escalation naming the"
            f" {escalated} still outstanding."
        )
        bot.core.status.flush()

        counts = store.memo_counts(1)
        rcounts = store.retraction_counts(1)
        _say("\nOutcome of M-1")
        headers = ["recipients", "delivered", "failed", "cancelled", "acknowledged"]
        headers += ["notified", "seen", "outstanding", "edited"]
        figures = [counts.recipients, counts.delivered, counts.failed, counts.cancelled]
        figures += [counts.acknowledged, rcounts.notified, rcounts.seen, rcounts.outstanding]
        _say(table(headers, [[*figures, rcounts.edits_done]]))

        report = list(reports.rows(store, 1))
        _say("\nThe report of M-1, 10 of its Slack rows and 5 of its Teams rows (times UTC):")
        columns = ["recipient_name", "platform", "delivery_status", "acknowledged_at"]
        columns += ["retraction_status", "seen_at", "reminders_sent", "escalated_at"]
        sample = [r for r in report if r["platform"] == "slack"][:10]
        sample += [r for r in report if r["platform"] == "teams"][:5]
        _say(table(columns, [[_short(row[c]) for c in columns] for row in sample]))
        _say(f"\nThe whole report: DATABASE_PATH={workdir / 'errata.db'} python -m bot report M-1")
        _say(
            f"Audit log: {audit.verify(store.audit_entries(), store.audit_key, store.audit_head())}"
        )
        return 0
    finally:
        bot.stop()
        teams.stop()
        slack.stop()


if __name__ == "__main__":
    sys.exit(run_demo())
