"""Roles named by email (issue 12): COMMS_STAFF and AUDITORS accept emails, and on
Slack they match as they do on Teams, through the `users:read.email` scope the
manifest asks for (the stand-in grants exactly the manifest's scopes)."""

from __future__ import annotations

import pytest

from tests.harness import manifest_scopes, stand_in, start_bot, wait_for


@pytest.fixture
def slack():
    stand = stand_in(people=20)
    yield stand
    stand.stop()


def opens_compose(slack, person) -> bool:
    slack.command(person, "/memo")
    try:
        wait_for(lambda: slack.open_views(person), timeout=3, what="the compose modal")
        return True
    except AssertionError:
        return False


def test_comms_staff_named_by_email_can_send_on_slack(slack, tmp_path):
    comms = slack.directory.person(slack.directory.active_humans()[0])
    employee = slack.directory.active_humans()[1]
    bot = start_bot(slack, tmp_path / "errata.db", COMMS_STAFF=comms.email.upper())
    try:
        bot.slack.refresh_directory()
        assert opens_compose(slack, comms.id)
        assert not opens_compose(slack, employee)
        assert bot.core.role("slack", comms.id) == "comms staff"
    finally:
        bot.stop()


def test_someone_who_joined_since_the_last_refresh_is_looked_up_once(slack, tmp_path):
    bot = start_bot(slack, tmp_path / "errata.db", AUDITORS="new.auditor@example.com")
    try:
        bot.slack.refresh_directory()
        newcomer = slack.directory.add_person("New Auditor", email="new.auditor@example.com")
        lookups = len(slack.calls("users.info"))
        assert bot.core.role("slack", newcomer.id) == "auditor"
        assert bot.core.role("slack", newcomer.id) == "auditor"
        assert len(slack.calls("users.info")) == lookups + 1
        stranger = slack.directory.active_humans()[2]
        assert bot.core.role("slack", stranger) == "employee"
    finally:
        bot.stop()


def test_without_the_email_scope_an_email_never_matches(tmp_path):
    scopes = ",".join(s for s in manifest_scopes().split(",") if s != "users:read.email")
    slack = stand_in(people=20, scopes=scopes)
    comms = slack.directory.person(slack.directory.active_humans()[0])
    bot = start_bot(slack, tmp_path / "errata.db", COMMS_STAFF=comms.email)
    try:
        bot.slack.refresh_directory()
        assert bot.core.role("slack", comms.id) == "employee"
    finally:
        bot.stop()
        slack.stop()
