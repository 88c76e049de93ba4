"""Fixtures for the stand-in Slack's own tests: a running stand-in, a WebClient on it,
and a tiny HTTP receiver playing the bot so we can see exactly what "Slack" sends."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient

from bot.sandbox import StandInSlack, generate_directory

SECRET = "test-signing-secret"
TOKEN = "xoxb-test-token"


@pytest.fixture
def slack():
    stand_in = StandInSlack(
        generate_directory(people=120, seed=5),
        signing_secret=SECRET,
        bot_token=TOKEN,
        limits={"*": None},
        post_per_minute=None,
    )
    stand_in.start()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def client(slack):
    return WebClient(token=TOKEN, base_url=slack.api_url, retry_handlers=[])


@pytest.fixture
def humans(slack):
    return slack.directory.active_humans()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def payload(self) -> dict:
        return json.loads(self.form["payload"])

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A stand-in for the bot's HTTP endpoint: records requests, answers as told."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    # (status, body, content type) or a function of the Received request returning that
    answer: tuple[int, str, str] | Callable[[Received], tuple[int, str, str]] = (
        200,
        "",
        "text/plain",
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def last(self) -> Received:
        return self.requests[-1]


@pytest.fixture
def receiver(slack):
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            got = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)
            )
            with rec.lock:
                rec.requests.append(got)
            answer = rec.answer(got) if callable(rec.answer) else rec.answer
            status, body, ctype = answer
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    slack.bot_url = rec.url
    yield rec
    server.shutdown()
    server.server_close()


def json_answer(data: dict, status: int = 200) -> tuple[int, str, str]:
    return status, json.dumps(data), "application/json;charset=utf-8"
