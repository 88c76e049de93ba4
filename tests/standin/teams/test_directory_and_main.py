"""The generated tenant, and the stand-in as its own process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

from standin.teams import generate_teams_directory

ROOT = Path(__file__).resolve().parents[3]


def test_directory_is_deterministic_and_shaped_like_teams():
    a = generate_teams_directory(people=300, teams=4, seed=3)
    b = generate_teams_directory(people=300, teams=4, seed=3)
    assert [p.id for p in a.people] == [p.id for p in b.people]
    assert a.tenant_id == b.tenant_id and len(a) == 300 and len(a.teams) == 4
    p = a.people[5]
    assert re.fullmatch(r"29:1[A-Za-z0-9_-]{80,}", p.id)
    assert uuid.UUID(p.aad_object_id).version == 4
    for key in (p.id, p.aad_object_id, p.email, p.user_principal_name.upper()):
        assert a.person(key) is p
    assert all(re.fullmatch(r"19:[0-9a-f]{32}@thread\.tacv2", t.id) for t in a.teams)
    org = a.teams[0]
    assert len(org.members) == sum(not q.is_guest for q in a.people)
    assert 0.8 < len(a.installed()) / 300 < 1.0
    assert a.team(org.aad_group_id) is org and a.team(org.name) is org
    guest = next(q for q in a.people if q.is_guest)
    assert "#EXT#" in guest.user_principal_name and guest.to_member()["userRole"] == "guest"


def test_add_person_and_team_and_who_can_be_reached():
    d = generate_teams_directory(people=10, teams=0, seed=2)
    loner = d.add_person("Zoë Ødegaard", has_app=False, tz="Europe/Oslo", locale="nb-NO")
    assert d.person(loner.email) is loner and not d.can_reach(loner)
    team = d.add_team("Comms", [d.people[0], loner.id], bot_installed=False)
    assert not d.can_reach(loner)
    d.set_bot_installed(team, True)
    assert d.can_reach(loner) and d.teams_of(loner) == [team]
    late = d.add_person("Late Joiner", has_app=False, teams=[team])
    assert d.can_reach(late) and team.members[-1] == late.id


def test_python_m_runs_the_stand_in():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "standin.teams", "--people", "20", "--time-scale", "20"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        first = proc.stdout.readline().strip()
        assert first.startswith("TEAMS_SERVICE_URL=http://127.0.0.1:")
        url = first.split("=", 1)[1]
        rest = dict(proc.stdout.readline().strip().split("=", 1) for _ in range(5))
        assert set(rest) == {
            "TEAMS_APP_ID",
            "TEAMS_APP_PASSWORD",
            "TEAMS_TENANT_ID",
            "TEAMS_TOKEN_URL",
            "TEAMS_OPENID_METADATA_URL",
        }
        with urllib.request.urlopen(url + "_sandbox/health", timeout=5) as resp:
            assert json.loads(resp.read())["service_url"] == url
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
