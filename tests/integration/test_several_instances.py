"""Several instances on one PostgreSQL: the CLI reads the shared store, one instance at
a time holds the sender's lease, and another takes it when the holder stops renewing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bot.lease import Leadership
from bot.store import Store
from tests.unit.builders import deliver, memo_to, retract

ROOT = Path(__file__).resolve().parents[2]
KEY = "k" * 32


def _cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url, "AUDIT_KEY": KEY, "DATABASE_PATH": "/nonexistent"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, cwd=ROOT, env=env
    )


def test_report_and_audit_commands_read_postgresql(postgres_url, clock):
    store = Store(postgres_url, audit_key=KEY.encode())
    store.migrate()
    memo = memo_to(store, clock, ["U1", "U2", "U3"])
    deliver(store, clock)
    retract(store, clock, memo.id)
    deliver(store, clock, "notices")
    entries = len(list(store.audit_entries()))
    store.close()

    report = _cli(postgres_url, "report", f"M-{memo.id}", "--format", "json")
    assert report.returncode == 0, report.stderr
    rows = json.loads(report.stdout)
    assert sorted(r["recipient_id"] for r in rows) == ["U1", "U2", "U3"]
    assert {r["retraction_status"] for r in rows} == {"delivered"}
    verify = _cli(postgres_url, "audit", "verify")
    assert verify.returncode == 0 and "OK" in verify.stdout, verify.stdout + verify.stderr
    export = _cli(postgres_url, "audit", "export")
    assert export.returncode == 0 and len(export.stdout.splitlines()) == entries
    backup = _cli(postgres_url, "backup", "/tmp/x.db")
    assert backup.returncode == 2 and "pg_dump" in backup.stdout


def test_one_instance_holds_the_lease_and_another_takes_it_when_it_stops(postgres_url):
    first, second = (Store(postgres_url, audit_key=KEY.encode()) for _ in range(2))
    first.migrate()
    second.migrate()
    events = []
    a = Leadership(first, 3, lambda: events.append("a leads"), lambda: events.append("a stops"))
    b = Leadership(second, 3, lambda: events.append("b leads"), lambda: events.append("b stops"))
    a.start()
    b.start()
    assert events == ["a leads"] and first.lease_holder() == a.name
    a.stop()  # a stops renewing (as if killed): b takes over once the lease runs out
    started = time.monotonic()
    while "b leads" not in events and time.monotonic() - started < 10:
        time.sleep(0.1)
    assert events == ["a leads", "b leads"]
    assert 2 <= time.monotonic() - started <= 3 + 1 + 1  # the lease, plus one renewal period
    b.stop()
    b.release()  # a clean stop hands it on at once
    assert second.lease_holder() is None
    assert first.take_lease(a.name, 3)
    first.close()
    second.close()
