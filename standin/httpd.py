"""The loopback HTTP transport: a threading server, request parsing, raw responses, drops.

The server knows nothing about Slack; it hands a ``Request`` to ``app.handle``
and writes back the ``Response`` (or drops the connection for ``DROP``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

_REASONS = {s.value: s.phrase for s in HTTPStatus}


class BadRequest(Exception):
    """The body could not be parsed (answered with Slack's invalid_* errors)."""

    def __init__(self, error: str):
        super().__init__(error)
        self.error = error


@dataclass(slots=True)
class Request:
    verb: str
    path: str
    query: str
    headers: Any  # http.client.HTTPMessage (case-insensitive)
    body: bytes

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()

    def args(self) -> dict[str, Any]:
        """Query string + body (JSON object, url-encoded form or multipart form)."""
        out: dict[str, Any] = (
            dict(parse_qsl(self.query, keep_blank_values=True)) if self.query else {}
        )
        if not self.body:
            return out
        ctype = self.content_type
        if ctype == "application/json":
            try:
                data = json.loads(self.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                raise BadRequest("invalid_json") from None
            if not isinstance(data, dict):
                raise BadRequest("invalid_json")
            out.update(data)
        elif ctype == "multipart/form-data":
            out.update(parse_multipart(self.headers.get("Content-Type", ""), self.body))
        else:
            try:
                out.update(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise BadRequest("invalid_form_data") from None
        return out


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    out: dict[str, Any] = {}
    if not msg.is_multipart():
        raise BadRequest("invalid_form_data")
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        if part.get_filename():
            out[name] = payload
        else:
            out[name] = payload.decode(part.get_content_charset() or "utf-8")
    return out


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, "application/json; charset=utf-8", headers or {})

    @classmethod
    def text(
        cls, text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8"
    ) -> Response:
        return cls(status, text.encode("utf-8"), content_type)


DROP = object()  # app.handle returns this to close the connection without answering


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SlackStandIn/1.0"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self, verb: str) -> None:
        path, _, query = self.path.partition("?")
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        req = Request(verb, path, query, self.headers, body)
        try:
            resp = self.server.app.handle(req)
        except Exception as e:  # a bug in the stand-in must not hang the client
            resp = Response.json(
                {"ok": False, "error": "fatal_error", "detail": repr(e)}, status=500
            )
        if resp is DROP:
            self.drop()
            return
        self.write(resp)

    def write(self, resp: Response) -> None:
        lines = [
            f"HTTP/1.1 {resp.status} {_REASONS.get(resp.status, 'Unknown')}",
            f"Content-Type: {resp.content_type}",
            f"Content-Length: {len(resp.body)}",
        ]
        for k, v in resp.headers.items():
            lines.append(f"{k}: {v}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.wfile.write(head + resp.body)
        except OSError:
            self.close_connection = True

    def drop(self) -> None:
        """Abort the connection (RST): the client sees a reset / RemoteDisconnected."""
        self.close_connection = True
        sock = self.connection
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.close()

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 1024
    handler_class: type[Handler] = Handler

    def __init__(self, address, app):
        self.app = app
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, self.handler_class)

    def handle_error(self, request, client_address) -> None:
        """Connection-level errors (resets, sockets closed at stop) are normal here."""
        if isinstance(sys.exc_info()[1], (OSError, ValueError)):
            return
        super().handle_error(request, client_address)

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._conns_lock:
            if add:
                self._conns.add(sock)
            else:
                self._conns.discard(sock)

    def close_all(self) -> None:
        """Close idle keep-alive connections so their threads end."""
        with self._conns_lock:
            conns = list(self._conns)
            self._conns.clear()
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """The lifecycle both stand-ins share: bound on start (port 0 picks a free one), served
    on a daemon thread, stopped idempotently; subclasses answer ``handle(Request)``."""

    server_class: type[SandboxHTTPServer] = SandboxHTTPServer
    thread_name = "stand-in"

    def __init__(self, host: str, port: int):
        self.host = host
        self._port = port
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = self.server_class((self.host, self._port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.thread_name}:{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_all()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The root, e.g. http://127.0.0.1:PORT (no trailing slash)."""
        return f"http://{self.host}:{self._port}"
