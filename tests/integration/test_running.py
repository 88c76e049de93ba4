"""`python -m bot` as a real process: HTTP on PORT with /healthz and /slack/events."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.harness import SECRET, TOKEN, copies_in_dm, wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_python_m_bot_serves_slack_and_health(slack, tmp_path):
    port = free_port()
    comms = slack.directory.active_humans()[0]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_PATH": str(tmp_path / "errata.db"),
        "PORT": str(port),
        "COMMS_STAFF": comms,
        "SLACK_POST_PER_MINUTE": "6000",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True
    )
    try:

        def healthy():
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=1
                ) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout=30, what="/healthz")
        slack.bot_url = f"http://127.0.0.1:{port}"
        # The directory is loaded at start-up, in the background.
        wait_for(lambda: slack.calls("users.list"), what="the directory load")
        slack.command(comms, "/memo")
        wait_for(lambda: slack.open_views(comms), what="the compose modal")
        person = slack.directory.active_humans()[3]
        reply = slack.submit_view(
            comms, {"Title": "Hello", "Message": "From a real process", "People": [person]}
        )
        assert reply.status == 200 and not reply.errors
        wait_for(lambda: copies_in_dm(slack, person), what="the copy")
    finally:
        process.terminate()
        process.wait(timeout=20)
