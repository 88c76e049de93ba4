"""The keyed audit chain as an operator meets it: a checkpoint appears in the audit
channel after a retraction, and `python -m bot audit verify` compares the log with it,
with the right key, the wrong key, no key, and after someone holding the key rewrote
history."""

from __future__ import annotations

import pytest

from bot import audit
from tests.harness import TOKEN, stand_in, start_bot, wait_for
from tests.integration.test_audit_and_reports import cli
from tests.integration.test_broadcast import send_memo
from tests.integration.test_retraction import retract
from tests.unit.test_audit import _rewrite

CHECKPOINT_EVENT = "errata_audit_checkpoint"


@pytest.fixture
def story(tmp_path):
    slack = stand_in(people=40)
    comms = slack.directory.active_humans()[0]
    channel = slack.directory.add_channel("audit-checkpoints")
    bot = start_bot(
        slack, tmp_path / "errata.db", COMMS_STAFF=comms, AUDIT_CHECKPOINT_CHANNEL=channel.id
    )
    try:
        yield slack, bot, comms, channel
    finally:
        bot.stop()
        slack.stop()


def checkpoint_messages(slack, channel_id: str) -> list:
    return [
        m
        for m in slack.messages(channel_id)
        if (m.metadata or {}).get("event_type") == CHECKPOINT_EVENT
    ]


def test_a_checkpoint_is_posted_after_a_retraction_and_verify_compares_it(story, tmp_path):
    slack, bot, comms, channel = story
    send_memo(slack, comms, People=slack.directory.active_humans()[1:6])
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    assert checkpoint_messages(slack, channel.id) == []  # nothing due before the retraction
    retract(slack, comms)
    posted = wait_for(lambda: checkpoint_messages(slack, channel.id), what="the checkpoint")[0]
    wait_for(lambda: bot.store.last_audit_checkpoint(channel.id), what="the checkpoint recorded")

    payload = posted.metadata["event_payload"]
    entries = {e["id"]: e for e in bot.store.audit_entries()}
    retracted = next(e["id"] for e in entries.values() if e["action"] == "memo retracted")
    assert payload["count"] >= retracted  # the checkpoint covers the retraction
    assert payload["hash"] == entries[payload["count"]]["hash"]
    assert f"the audit log has *{payload['count']:,}* entries" in str(posted.blocks)
    assert payload["hash"] in posted.text
    recorded = bot.store.last_audit_checkpoint(channel.id)
    assert (recorded["ts"], recorded["count"]) == (posted.ts, payload["count"])
    assert any(
        e["action"] == "audit checkpoint posted" and e["subject"] == channel.id
        for e in bot.store.audit_entries()
    )

    db = tmp_path / "errata.db"
    slack_env = {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": slack.api_url,
        "AUDIT_CHECKPOINT_CHANNEL": channel.id,
    }
    ok = cli(db, "audit", "verify", **slack_env)  # the key file beside the database
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("OK") and "1 posted checkpoint(s) match" in ok.stdout
    assert f"Checkpoints in {channel.id}: 1 read back and compared" in ok.stdout

    wrong = cli(db, "audit", "verify", AUDIT_KEY="w" * 40, **slack_env)
    assert wrong.returncode == 1 and "not the key" in wrong.stdout

    key = bot.store.audit_key.decode()
    copy = tmp_path / "elsewhere" / "copy.db"
    copy.parent.mkdir()
    bot.store.backup(str(copy))
    keyless = cli(copy, "audit", "verify", **slack_env)  # no AUDIT_KEY, no key file beside it
    assert keyless.returncode == 1 and "no audit key" in keyless.stderr
    assert cli(copy, "audit", "verify", AUDIT_KEY=key, **slack_env).returncode == 0

    # Someone holding the key rewrites entry 2 and recomputes every hash with it: the
    # chain is consistent again, but the posted checkpoint no longer matches.
    _rewrite(
        str(copy),
        "UPDATE audit SET actor = 'UFORGED' WHERE id = 2",
        lambda row: audit.entry_hash(row, key.encode()),
    )
    assert cli(copy, "audit", "verify", AUDIT_KEY=key).returncode == 0  # without checkpoints
    caught = cli(copy, "audit", "verify", AUDIT_KEY=key, **slack_env)
    assert caught.returncode == 1, caught.stdout
    assert f"BROKEN at audit entry {payload['count']}" in caught.stdout
    assert channel.id in caught.stdout and posted.ts in caught.stdout


def test_verify_says_which_checkpoints_it_could_not_read(story, tmp_path):
    slack, bot, comms, channel = story
    send_memo(slack, comms, People=slack.directory.active_humans()[1:3])
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    retract(slack, comms)
    wait_for(lambda: bot.store.last_audit_checkpoint(channel.id), what="the checkpoint")
    hidden = slack.directory.add_channel("private-audit", is_private=True, bot_member=False)
    db = tmp_path / "errata.db"
    env = {"SLACK_API_URL": slack.api_url, "AUDIT_CHECKPOINT_CHANNEL": hidden.id}

    no_token = cli(db, "audit", "verify", **env, SLACK_BOT_TOKEN="")
    assert no_token.returncode == 0 and no_token.stdout.startswith("OK")
    assert "Checkpoints NOT checked" in no_token.stdout and "SLACK_BOT_TOKEN" in no_token.stdout

    unreadable = cli(db, "audit", "verify", **env, SLACK_BOT_TOKEN=TOKEN)
    assert unreadable.returncode == 0, unreadable.stdout + unreadable.stderr
    lines = unreadable.stdout.splitlines()
    assert any(f"NOT checked in {hidden.id}" in line and "history" in line for line in lines)
    # The channel the database records a checkpoint in is still read and compared.
    assert f"Checkpoints in {channel.id}: 1 read back and compared." in lines
