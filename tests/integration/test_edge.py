"""Issue 11: the HTTP edge, tried as an attacker would. Socket Mode leaves no
unsigned door open, replays are acted on once, oversized and malformed bodies
are refused before they cost memory, idle connections do not starve real
requests, and a report link is refused when altered in any way."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest

from standin.slack.acting import Reply
from tests.harness import SECRET, stand_in, start_bot, wait_for

FORM = "application/x-www-form-urlencoded"
MEMO = {"Title": "Delete the chat app", "Message": "By Friday.", "Ask for acknowledgement": True}


@pytest.fixture(scope="module")
def slack():
    stand = stand_in(people=30)
    yield stand
    stand.stop()


def comms_and_people(slack):
    humans = slack.directory.active_humans()
    return humans[0], humans[1:6]


def captured_submission(slack, tmp_path) -> dict:
    """A real compose `view_submission` (as Slack would send it), captured unsent."""
    comms, people = comms_and_people(slack)
    bot = start_bot(slack, tmp_path / "capture.db", COMMS_STAFF=comms)
    try:
        slack.command(comms, "/memo")
        wait_for(lambda: slack.open_views(comms), what="the compose modal")
        sent = {}
        real = slack.actor._send_payload
        slack.actor._send_payload = lambda payload: (
            sent.setdefault("payload", payload) and Reply(200, {}, "", 0.0)
        )
        try:
            slack.submit_view(comms, {**MEMO, "People": people})
        finally:
            slack.actor._send_payload = real
        return sent["payload"]
    finally:
        bot.stop()


def form(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def posts(slack) -> int:
    return len(slack.calls("chat.postMessage"))


# ---------------------------------------------------------------- Socket Mode


def test_socket_mode_without_a_signing_secret_does_not_serve_slack_over_http(slack, tmp_path):
    payload = captured_submission(slack, tmp_path)
    comms, _ = comms_and_people(slack)
    bot = start_bot(
        slack,
        tmp_path / "socket.db",
        COMMS_STAFF=comms,
        SLACK_APP_TOKEN="xapp-1-A1-1-socket",
        SLACK_SIGNING_SECRET="",
    )
    try:
        before = posts(slack)
        body = form(payload)
        unsigned = slack.post_raw(body, {"Content-Type": FORM})
        signed = slack.post_raw(body, {"Content-Type": FORM, **slack.sign(body)})
        assert (unsigned.status, signed.status) == (404, 404)
        assert bot.store.recent_memos(10) == []
        assert posts(slack) == before
        assert bot.store.audit_head() is None  # not even a denial: nothing was acted on
    finally:
        bot.stop()


def test_socket_mode_with_a_signing_secret_verifies_like_http_mode(slack, tmp_path):
    payload = captured_submission(slack, tmp_path)
    comms, people = comms_and_people(slack)
    bot = start_bot(
        slack,
        tmp_path / "socket-signed.db",
        COMMS_STAFF=comms,
        SLACK_APP_TOKEN="xapp-1-A1-1-socket",
        SLACK_SIGNING_SECRET=SECRET,
    )
    try:
        body = form(payload)
        before = posts(slack)
        forged = [
            slack.post_raw(body, {"Content-Type": FORM}),
            slack.post_raw(body, {"Content-Type": FORM, **slack.sign(body, secret="guess")}),
            slack.post_raw(
                body, {"Content-Type": FORM, **slack.sign(body, timestamp=time.time() - 600)}
            ),
        ]
        assert [r.status for r in forged] == [401, 401, 401]
        assert bot.store.recent_memos(10) == [] and posts(slack) == before
        signed = slack.post_raw(body, {"Content-Type": FORM, **slack.sign(body)})
        assert signed.status == 200
        wait_for(lambda: bot.store.recent_memos(10), what="the signed memo")
        wait_for(lambda: bot.store.memo(1).state == "sent", what="its fan-out")
        assert {c.recipient_id for c in bot.store.copies_of(1)} == set(people)
    finally:
        bot.stop()


def test_a_replayed_compose_submission_sends_one_memo(slack, tmp_path):
    payload = captured_submission(slack, tmp_path)
    comms, people = comms_and_people(slack)
    bot = start_bot(slack, tmp_path / "replay.db", COMMS_STAFF=comms)
    try:
        body = form(payload)
        headers = {"Content-Type": FORM, **slack.sign(body)}
        first = slack.post_raw(body, headers)
        assert first.status == 200
        wait_for(lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent", what="fan-out")
        replays = [slack.post_raw(body, headers) for _ in range(3)]
        assert [r.status for r in replays] == [200, 200, 200]
        assert len(bot.store.recent_memos(10)) == 1
        assert sum(1 for c in bot.store.copies_of(1)) == len(people)
    finally:
        bot.stop()


# ---------------------------------------------------------------- sizes


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakRss:
    """The highest resident size seen while the block runs (sampled every 2 ms)."""

    def __enter__(self):
        self.start = rss_bytes()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.growth = self.peak - self.start


def raw_request(url: str, head: bytes, body_chunks=(), timeout: float = 5.0) -> tuple[int, float]:
    """Send `head` and then each chunk; the status line's code and when it came."""
    parts = urlsplit(url)
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break  # refused before the body was read: what we want
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return status, time.monotonic() - started


@pytest.fixture(scope="module")
def bot(slack, tmp_path_factory):
    comms, _ = comms_and_people(slack)
    started = start_bot(
        slack,
        tmp_path_factory.mktemp("edge") / "errata.db",
        COMMS_STAFF=comms,
        PUBLIC_URL="https://errata.example.com/",
    )
    yield started
    started.stop()


@pytest.mark.parametrize("path", ["/slack/events", "/api/messages", "/healthz", "/reports/x"])
def test_a_20_mb_body_is_refused_with_413_and_costs_no_memory(slack, bot, path):
    body = b"x" * (20 * 1024 * 1024)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    calls = len(slack.calls())
    with PeakRss() as memory:
        status, _ = raw_request(
            slack.bot_url,
            head,
            (body[i : i + 65536] for i in range(0, len(body), 65536)),
        )
    assert status == 413
    assert memory.growth < 15 * 1024 * 1024, memory.growth
    assert len(slack.calls()) == calls


def test_a_body_that_claims_2_gb_is_refused_at_once(slack, bot):
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 2000000000\r\n\r\n"
    )
    status, elapsed = raw_request(slack.bot_url, head)  # no body is ever sent
    assert status == 413 and elapsed < 2.0


def test_a_chunked_body_past_the_limit_is_refused(slack, bot):
    head = (
        b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"x" * 65536
    chunks = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"] * 40 + [b"0\r\n\r\n"]
    with PeakRss() as memory:
        status, _ = raw_request(slack.bot_url, head, chunks)
    assert status == 413
    assert memory.growth < 15 * 1024 * 1024


def test_a_body_under_the_limit_still_works(slack, bot):
    comms, _ = comms_and_people(slack)
    reply = slack.command(comms, "/memo list")
    assert reply.status == 200


# ---------------------------------------------------------------- idle connections


def test_150_idle_connections_do_not_stop_healthz_or_a_command(slack, bot):
    comms, _ = comms_and_people(slack)
    parts = urlsplit(slack.bot_url)
    idle = []
    try:
        for n in range(150):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
            if n % 2:
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Le")  # half sent
            idle.append(sock)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
        started = time.monotonic()
        conn.request("GET", "/healthz")
        health = conn.getresponse()
        health.read()
        health_seconds = time.monotonic() - started
        conn.close()
        listing = slack.command(comms, "/memo list")
        assert health.status == 200 and health_seconds < 1.0, health_seconds
        assert listing.status == 200 and listing.elapsed < 1.0, listing.elapsed
    finally:
        for sock in idle:
            sock.close()


# ---------------------------------------------------------------- report links


def get(url: str) -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def local(bot, slack, link: str) -> str:
    return slack.bot_url + link.removeprefix("https://errata.example.com")


def test_a_report_link_works_once_issued_and_every_download_is_audited(slack, bot):
    comms, people = comms_and_people(slack)
    memo = bot.core.send_memo(
        sender_id=comms,
        platform="slack",
        title="Report me",
        body="Body.",
        audience=(
            __import__("bot.domain", fromlist=["Audience"]).Audience(
                people=tuple(people), platform="slack"
            ),
        ),
        ask_ack=False,
        ack_deadline=None,
    )
    wait_for(lambda: bot.store.memo(memo.id).state == "sent", what="the fan-out")
    link = bot.report_link(memo.id, f"slack:{comms}")
    status, headers, body = get(local(bot, slack, link))
    assert status == 200
    assert headers["cache-control"] == "no-store"
    assert body.decode().splitlines()[0].startswith("memo_id,recipient_id")
    downloads = [e for e in bot.store.audit_for_memo(memo.id) if e["action"] == "report downloaded"]
    assert [e["actor"] for e in downloads] == [f"slack:{comms}"]


def altered_links(link: str) -> dict[str, str]:
    path, _, query = link.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))
    sig = params["sig"]
    return {
        "another memo": link.replace("/M-", "/M-9"),
        "another person": link.replace(params["to"], "slack:UOTHER"),
        "later expiry": link.replace(params["expires"], str(int(params["expires"]) + 60)),
        "5,000-digit expiry": link.replace(params["expires"], "9" * 5000),
        "non-ASCII sig": link.replace(sig, "é" * 64),
        "sig one character off": link.replace(sig, ("0" if sig[0] != "0" else "1") + sig[1:]),
        "sig upper case": link.replace(sig, sig.upper()),
        "no sig": link.replace(f"&sig={sig}", ""),
        "sig twice": link + f"&sig={sig}",
        "extra field": link + "&x=1",
        "no query": path,
        "percent garbage": link.replace("sig=", "sig=%ff%fe"),
        "expired": link.replace(params["expires"], "1"),
        "memo id with a leading zero": link.replace("/M-", "/M-0"),
    }


def test_an_altered_report_link_is_403_never_500_and_audits_nothing(slack, bot):
    memo_id = bot.store.recent_memos(1)[0].id if bot.store.recent_memos(1) else 1
    comms, _ = comms_and_people(slack)
    link = local(bot, slack, bot.report_link(memo_id, f"slack:{comms}"))
    head = bot.store.audit_head()
    for name, url in altered_links(link).items():
        status, headers, body = get(url.replace("é", "%C3%A9"))
        assert status == 403, (name, status, body[:200])
        assert headers.get("cache-control") == "no-store", name
    assert bot.store.audit_head() == head  # no download was recorded


def test_control_characters_from_a_request_are_escaped_in_the_log():
    import logging

    from bot import logs

    class Lines(logging.Handler):
        def __init__(self):
            super().__init__()
            self.lines: list[str] = []

        def emit(self, record):
            self.lines.extend(self.format(record).splitlines())

    handler = Lines()
    handler.addFilter(logs.EscapeControlCharacters())
    logger = logging.getLogger("tests.edge")
    logger.addHandler(handler)
    try:
        logger.warning("token refused: kid %s", "abc\n2026-11-30 ERROR bot: FORGED\x1b[31m")
    finally:
        logger.removeHandler(handler)
    assert len(handler.lines) == 1
    assert "\\n2026-11-30 ERROR bot: FORGED\\x1b[31m" in handler.lines[0]
