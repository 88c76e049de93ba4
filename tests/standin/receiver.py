"""A tiny HTTP receiver playing the bot, so the stand-ins' tests see exactly what they send."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


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


@contextmanager
def serving(rec: Receiver) -> Iterator[Receiver]:
    """Serve ``rec`` on a free loopback port (sets ``rec.url``) until the block ends."""

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
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
