"""Stories of accountability: the per-recipient report, the audit chain, roles, /memo list
and status, and the App Home."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot import reports
from bot.clock import SettableClock
from tests.harness import copies_in_dm, notices_in_dm, stand_in, start_bot, view_text, wait_for
from tests.integration.test_broadcast import send_memo
from tests.integration.test_retraction import retract

ROOT = Path(__file__).resolve().parents[2]


def cli(db: Path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_PATH": str(db), "PYTHONPATH": str(ROOT), **settings}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=db.parent,
        timeout=60,
    )


@pytest.mark.slow
def test_the_report_matches_what_each_person_was_shown(tmp_path):
    slack = stand_in(people=120)
    odd = slack.directory.add_person(real_name='=HYPERLINK("http://x","y")', tz="Europe/Paris")
    comms = slack.directory.active_humans()[0]
    clock = SettableClock()
    bot = start_bot(
        slack,
        tmp_path / "errata.db",
        clock=clock,
        COMMS_STAFF=comms,
        WORKING_HOURS="off",
        RETRACTION_REMIND_AFTER="1h",
        REMIND_EVERY="1h",
        MAX_REMINDERS="1",
    )
    try:
        slack.faults.set(method="chat.postMessage", latency=0.02)
        people = [p for p in slack.directory.active_humans() if p != comms]
        send_memo(
            slack, comms, **{"Everyone in the workspace": True, "Ask for acknowledgement": True}
        )
        wait_for(lambda: bot.store.memo_counts(1).delivered >= 40, what="some copies")
        for person in people[:15]:
            if copies_in_dm(slack, person):
                slack.click(person, copies_in_dm(slack, person)[0], "Acknowledge")
        retract(slack, comms)
        wait_for(lambda: bot.store.memo(1).state == "retracted", timeout=60, what="the retraction")
        noticed = [p for p in people if notices_in_dm(slack, p)]
        for person in noticed[:10]:
            slack.click(person, notices_in_dm(slack, person)[0], "I've seen this")
        wait_for(lambda: bot.store.retraction_counts(1).seen == 10, what="10 seen")
        clock.advance(timedelta(hours=2))
        bot.core.reminders.sweep()
        wait_for(lambda: all(len(slack.dm(p)) == 3 for p in noticed[10:]), what="one reminder each")
        clock.advance(timedelta(hours=2))
        bot.core.reminders.sweep()
        wait_for(
            lambda: [e for e in bot.store.audit_entries() if e["action"] == "escalation delivered"],
            what="escalation",
        )

        rows = list(reports.rows(bot.store, 1))
        assert [list(r) for r in rows[:1]] == [list(reports.COLUMNS)]
        assert len(rows) == len(people) + 1  # everyone but bots and the deactivated, comms included
        for row in rows:
            person = row["recipient_id"]
            shown_copies = copies_in_dm(slack, person)
            shown_notices = notices_in_dm(slack, person)
            if row["delivery_status"] == "delivered":
                assert len(shown_copies) == 1 and row["delivered_at"].endswith("Z")
                assert "RETRACTED" in shown_copies[0].content()
                assert row["retraction_status"] == "delivered" and len(shown_notices) == 1
                assert bool(row["seen_at"]) == ("You confirmed" in shown_notices[0].content())
                reminders = [
                    m
                    for m in slack.dm(person)
                    if (m.metadata or {}).get("event_type") == "errata_reminder"
                ]
                assert row["reminders_sent"] == len(reminders)
                assert bool(row["escalated_at"]) == (not row["seen_at"])
            else:
                assert (
                    row["delivery_status"] == "cancelled"
                    and shown_copies == []
                    and shown_notices == []
                )
            if row["acknowledged_at"]:
                assert person in people[:15] and row["delivery_status"] == "delivered"
        out = cli(tmp_path / "errata.db", "report", "M-1")
        assert out.returncode == 0, out.stderr
        back = list(csv.DictReader(io.StringIO(out.stdout)))
        assert len(back) == len(rows)
        hyperlink = next(r for r in back if r["recipient_id"] == odd.id)
        assert hyperlink["recipient_name"] == '\'=HYPERLINK("http://x","y")'  # inert text
        js = cli(tmp_path / "errata.db", "report", "M-1", "--format", "json")
        assert json.loads(js.stdout)[0]["memo_id"] == "M-1"
        assert cli(tmp_path / "errata.db", "report", "M-9").returncode == 1
    finally:
        bot.stop()
        slack.stop()


def test_audit_verify_names_a_changed_deleted_or_inserted_entry(slack, bot, comms, tmp_path):
    send_memo(slack, comms, People=slack.directory.active_humans()[1:6])
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    db = Path(bot.settings.database_path)
    ok = cli(db, "audit", "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("OK")
    exported = cli(db, "audit", "export").stdout.splitlines()
    assert json.loads(exported[0])["action"] == "memo created"

    def tampered(sql: str) -> subprocess.CompletedProcess:
        copy = tmp_path / "tampered.db"
        copy.unlink(missing_ok=True)
        bot.store.backup(str(copy))
        with sqlite3.connect(copy) as conn:
            conn.executescript(sql)
        # The copy has no key file beside it: the key is handed over as AUDIT_KEY.
        return cli(copy, "audit", "verify", AUDIT_KEY=bot.store.audit_key.decode())

    changed = tampered("UPDATE audit SET actor = 'UFORGED' WHERE id = 3")
    assert changed.returncode == 1 and "entry 3" in changed.stdout
    deleted = tampered("DELETE FROM audit WHERE id = 4")
    assert deleted.returncode == 1 and "entry 4" in deleted.stdout
    # An entry slipped in after entry 2, the later ones renumbered to make room.
    inserted = tampered(
        "UPDATE audit SET id = id + 1000 WHERE id >= 3; UPDATE audit SET id = id - 999 WHERE id > 1000;"
        "INSERT INTO audit (id, at, actor, action, memo_id, subject, detail, prev_hash, hash)"
        " SELECT 3, at, 'UFORGED', 'acknowledged', 1, '', '{}', hash, hash FROM audit WHERE id = 2;"
    )
    assert inserted.returncode == 1 and "entry 3" in inserted.stdout
    last = tampered("DELETE FROM audit WHERE id = (SELECT max(id) FROM audit)")
    assert last.returncode == 1 and "deleted" in last.stdout


def test_employees_cannot_pull_reports_and_it_is_audited(slack, bot, comms):
    send_memo(slack, comms, People=slack.directory.active_humans()[1:4])
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    employee = slack.directory.active_humans()[2]
    before = len(list(bot.store.audit_entries()))
    slack.command(employee, "/memo", "report M-1")
    assert "Only comms staff and auditors" in slack.ephemerals(employee)[-1].content()
    assert slack.files() == []
    after = list(bot.store.audit_entries())
    assert (
        len(after) == before + 1
        and after[-1]["action"] == "denied"
        and after[-1]["subject"] == "/memo report"
    )


def test_report_arrives_as_a_csv_in_a_dm_with_a_summary(slack, bot, comms):
    send_memo(
        slack,
        comms,
        People=slack.directory.active_humans()[1:6],
        **{"Ask for acknowledgement": True},
    )
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    slack.command(comms, "/memo", "report M-1")
    shared = wait_for(lambda: slack.files(), what="the CSV")[0]
    assert shared.channel == slack.dm_channel(comms)
    rows = list(csv.DictReader(io.StringIO(shared.content.decode("utf-8"))))
    assert len(rows) == 5 and set(rows[0]) == set(reports.COLUMNS)
    assert "Recipients 5" in shared.initial_comment and "delivered 5" in shared.initial_comment


def test_auditors_and_user_groups(tmp_path):
    slack = stand_in(people=60)
    comms_group = slack.directory.groups[0]
    member = comms_group.users[0]
    auditor = next(p for p in slack.directory.active_humans() if p not in comms_group.users)
    bot = start_bot(slack, tmp_path / "errata.db", COMMS_STAFF=comms_group.id, AUDITORS=auditor)
    try:
        send_memo(slack, member, People=slack.directory.active_humans()[:3])
        wait_for(
            lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent",
            what="a memo from a group member",
        )
        slack.command(auditor, "/memo", "list")
        assert "M-1" in slack.ephemerals(auditor)[-1].content()
        slack.command(auditor, "/memo")  # auditors never send
        assert "Only comms staff" in slack.ephemerals(auditor)[-1].content()
        slack.command(auditor, "/retract", "M-1 no")
        assert "Only comms staff" in slack.ephemerals(auditor)[-1].content()
        slack.command(auditor, "/memo", "report 1")
        wait_for(lambda: slack.files(), what="the auditor's report")
    finally:
        bot.stop()
        slack.stop()


def test_list_and_status_show_employees_only_their_memos(slack, bot, comms):
    first = slack.directory.active_humans()[1:3]
    send_memo(slack, comms, People=first)
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    outsider = slack.directory.active_humans()[9]
    slack.command(outsider, "/memo", "list")
    assert "not received any memos" in slack.ephemerals(outsider)[-1].content()
    slack.command(outsider, "/memo", "status M-1")
    assert "did not receive M-1" in slack.ephemerals(outsider)[-1].content()
    slack.command(first[0], "/memo", "status 1")
    assert "Delivered" in slack.ephemerals(first[0])[-1].content()
    slack.command(comms, "/memo", "status M-1")
    assert "Recipients" in slack.ephemerals(comms)[-1].content()
    slack.command(comms, "/memo", "status M-42")
    assert "no memo M-42" in slack.ephemerals(comms)[-1].content()
    slack.command(comms, "/memo", "help")
    assert "/retract" in slack.ephemerals(comms)[-1].content()


def test_the_app_home_shows_what_awaits_and_acts(slack, bot, comms):
    person = slack.directory.active_humans()[4]
    send_memo(slack, comms, People=[person], **{"Ask for acknowledgement": True})
    wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
    slack.open_home(person)
    home = wait_for(lambda: slack.home(person), what="the home")
    assert "Waiting for your acknowledgement" in view_text(
        home
    ) and "Recent memos" not in view_text(home)
    slack.click_home(person, "Acknowledge")
    wait_for(
        lambda: "Nothing is waiting" in view_text(slack.home(person)), what="the home to refresh"
    )
    wait_for(
        lambda: "You acknowledged" in copies_in_dm(slack, person)[0].content(),
        what="the DM to show it",
    )
    assert bot.store.memo_counts(1).acknowledged == 1
    slack.open_home(comms)
    assert "Recent memos" in view_text(wait_for(lambda: slack.home(comms), what="comms home"))
    retract(slack, comms)
    wait_for(lambda: notices_in_dm(slack, person), what="the notice")
    slack.open_home(person)
    wait_for(
        lambda: "Retractions to confirm" in view_text(slack.home(person)), what="retraction in home"
    )
    slack.click_home(person, "I've seen this")
    wait_for(lambda: bot.store.retraction_counts(1).seen == 1, what="seen from home")
    wait_for(
        lambda: "You confirmed" in notices_in_dm(slack, person)[0].content(), what="notice updated"
    )


def test_backup_is_a_consistent_copy_of_the_live_database(slack, bot, comms, tmp_path):
    send_memo(slack, comms, People=slack.directory.active_humans()[1:20])
    copy = tmp_path / "backup.db"
    out = cli(Path(bot.settings.database_path), "backup", str(copy))  # while the fan-out runs
    assert out.returncode == 0, out.stderr
    key = bot.store.audit_key.decode()  # the key is never in the backup: it is handed over
    assert cli(copy, "audit", "verify", AUDIT_KEY=key).stdout.startswith("OK")
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_retried_events_are_handled_once(slack, bot, comms):
    person = slack.directory.active_humans()[3]
    event = {
        "type": "app_home_opened",
        "user": person,
        "tab": "home",
        "channel": "D0",
        "event_ts": "1.1",
    }
    first = slack.send_event(event, event_id="Ev0001")
    wait_for(lambda: slack.home(person), what="the home")
    publishes = len(slack.calls("views.publish"))
    again = slack.send_event(event, event_id="Ev0001", retry_num=1, retry_reason="http_timeout")
    assert first.status == 200 and again.status == 200
    slack.send_event(event, event_id="Ev0002")
    wait_for(lambda: len(slack.calls("views.publish")) == publishes + 1, what="the new event")
    assert len(slack.calls("views.publish")) == publishes + 1
