"""Teams listeners: the activities Teams posts to /api/messages.

`TeamsListeners.handle` dispatches one activity: installs, uninstalls and team
renames (installs.py: who can be reached), the command menu (commands.py: memo,
retract, memo list, memo status, memo report, help), and the invokes
(invokes.py: the Acknowledge / I've seen this buttons, card refreshes, the
compose and retract dialogs; tracking.py: the "Track as memo" message action). activity.py reads an activity (`parse_activity`,
`command_text`). Like the Slack listeners they check who is asking, hand the
work to the core (`Core`, its read-only `core.answers`), and render the answer
with bot.teams.cards; the Teams adapter they are built with is called only for
what a Teams surface does besides the platform interface (replies, edits of a
clicked card, looking a member up).
"""

from __future__ import annotations

from bot.core import Core
from bot.teams.adapter import TeamsPlatform
from handlers.teams.activity import command_text, parse_activity
from handlers.teams.commands import Commands
from handlers.teams.installs import Installs
from handlers.teams.invokes import Invokes

__all__ = ["TeamsListeners", "command_text", "parse_activity"]


class TeamsListeners:
    def __init__(self, core: Core, teams: TeamsPlatform, report_link=None):
        self.installs = Installs(core, teams)
        self.commands = Commands(core, teams, report_link)
        self.invokes = Invokes(core, teams)

    def handle(self, activity: dict) -> tuple[int, dict | None]:
        """One activity; returns the HTTP status and body Teams expects."""
        kind = activity.get("type")
        self.installs.remember_sender(activity)
        if kind == "installationUpdate":
            self.installs.installation(activity, (activity.get("action") or "").startswith("add"))
            return 200, None
        if kind == "conversationUpdate":
            self.installs.conversation_update(activity)
            return 200, None
        if kind == "message":
            self.commands.message(activity)
            return 200, None
        if kind == "invoke":
            return self.invokes.invoke(activity)
        return 200, None
