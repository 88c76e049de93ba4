"""Roles are (platform, id) principals: a person is checked only against principals of
their own platform (or an email), so a Teams person's role check never asks Slack
about a user group, and the other way round."""

from __future__ import annotations

from bot.config import load_settings
from bot.core import Core

SLACK_PERSON, TEAMS_PERSON = "U0COMMS", "3f0c5a52-8d8f-4d1e-9a33-2b7c1d2e4f60"


class Platform:
    def __init__(self, name: str, groups: dict[str, list[str]]):
        self.name = name
        self.groups = groups
        self.asked: list[str] = []
        self.looked_up: list[str] = []

    def members_of_group(self, group_id: str) -> list[str]:
        self.asked.append(group_id)
        return self.groups.get(group_id, [])

    def look_up_person(self, person_id: str) -> None:
        self.looked_up.append(person_id)


def core_with(store, clock, **env):
    settings = load_settings(
        {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DATABASE_PATH": "x", **env}
    )
    slack = Platform("slack", {"S0COMMS": [SLACK_PERSON]})
    teams = Platform("teams", {})
    return Core(settings, store, clock, {"slack": slack, "teams": teams}), slack, teams


def test_a_teams_persons_role_check_never_asks_slack(store, clock):
    core, slack, teams = core_with(store, clock, COMMS_STAFF="S0COMMS")
    assert core.role("teams", TEAMS_PERSON) == "employee"
    assert slack.asked == [] and teams.asked == []
    assert core.role("slack", SLACK_PERSON) == "comms staff"
    assert slack.asked == ["S0COMMS"] and teams.asked == []


def test_a_slack_persons_role_check_never_asks_teams(store, clock):
    core, slack, teams = core_with(store, clock, AUDITORS=f"teams:{TEAMS_PERSON}")
    assert core.role("slack", SLACK_PERSON) == "employee"
    assert core.role("teams", TEAMS_PERSON) == "auditor"
    assert slack.asked == teams.asked == []


def test_the_same_id_on_another_platform_is_not_that_person(store, clock):
    core, _, _ = core_with(store, clock, COMMS_STAFF=f"slack:{SLACK_PERSON}")
    assert core.role("slack", SLACK_PERSON) == "comms staff"
    assert core.role("teams", SLACK_PERSON) == "employee"


def test_an_email_names_a_person_on_either_platform(store, clock):
    core, slack, teams = core_with(store, clock, COMMS_STAFF="Pat@Example.com")
    store.remember_person("teams", TEAMS_PERSON, name="Pat", email="pat@example.com")
    assert core.role("teams", TEAMS_PERSON) == "comms staff"
    assert teams.looked_up == []  # known: no look-up
    assert core.role("slack", SLACK_PERSON) == "employee"
    assert slack.looked_up == [SLACK_PERSON]  # unknown: looked up once
    assert core.role("slack", SLACK_PERSON) == "employee"
    assert slack.looked_up == [SLACK_PERSON]
