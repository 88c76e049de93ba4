"""A stand-in for Microsoft Teams on loopback: the Bot Connector, the token endpoint, and Teams.

Placeholder docstring; see the end of the work for the full description.
"""

from bot.sandbox.teams.directory import (
    Team,
    TeamsDirectory,
    TeamsPerson,
    generate_teams_directory,
)
from bot.sandbox.teams.records import (
    Call,
    Dialog,
    InvokeRecord,
    Message,
    Replies,
    Reply,
    Version,
)
from bot.sandbox.teams.server import StandInTeams

__all__ = [
    "Call",
    "Dialog",
    "InvokeRecord",
    "Message",
    "Replies",
    "Reply",
    "StandInTeams",
    "Team",
    "TeamsDirectory",
    "TeamsPerson",
    "Version",
    "generate_teams_directory",
]
