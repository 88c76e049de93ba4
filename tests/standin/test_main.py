"""`python -m standin.slack` runs the stand-in in its own process and says where it is."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from slack_sdk import WebClient

ROOT = Path(__file__).resolve().parents[2]


def test_standalone_process_prints_its_api_url_and_serves():
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "standin.slack",
            "--people",
            "50",
            "--time-scale",
            "20",
            "--port",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline().strip()  # the process flushes this line as soon as it serves
        assert line.startswith("SLACK_API_URL=http://127.0.0.1:") and line.endswith("/api/"), line
        api_url = line.split("=", 1)[1]
        client = WebClient(token="xoxb-sandbox", base_url=api_url)
        members = client.users_list(limit=1000)["members"]
        assert (
            sum(
                1
                for m in members
                if not m["deleted"]
                and not m["is_bot"]
                and m["id"] != "USLACKBOT"
                and not m["is_app_user"]
            )
            == 50
        )
        user = next(
            m["id"]
            for m in members
            if not m["is_bot"] and not m["deleted"] and m["id"] != "USLACKBOT"
        )
        client.chat_postMessage(channel=user, text="hello")
        with urllib.request.urlopen(api_url.replace("/api/", "/_sandbox/stats")) as resp:
            stats = json.loads(resp.read())["stats"]
        assert stats["chat.postMessage"]["accepted"] == 1 and stats["users.list"]["accepted"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0, proc.stderr.read()
