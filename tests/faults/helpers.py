"""What the fault and crash stories share: the bot as a real process that can be
SIGKILLed, a hook in the stand-in Slack that kills it at an exact call, database
dumps, and counting what people actually got from the stand-in's own records."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.clock import Clock, from_text
from tests.harness import SCALE, SECRET, TOKEN, copies_in_dm, notices_in_dm, wait_for

ROOT = Path(__file__).resolve().parents[2]
FIGURES = Path("/tmp/errata-faults")

COPY, NOTICE = "errata_copy", "errata_notice"
RETRACTED_HEADER = "RETRACTED: sent in error"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the database, read from outside


def query(db: Path, sql: str, params=()) -> list[tuple]:
    """A short-lived read of the bot's database (never held open across the bot's writes)."""
    conn = sqlite3.connect(str(db), timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def scalar(db: Path, sql: str, params=()):
    rows = query(db, sql, params)
    return rows[0][0] if rows else None


def dump(db: Path) -> list[str]:
    """Every table, row by row (sqlite3 iterdump), as the file stands now."""
    conn = sqlite3.connect(str(db), timeout=30)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def wait_for_directory(db: Path) -> None:
    """A freshly started bot loads the Slack directory in the background: wait for it."""
    wait_for(
        lambda: (
            db.exists()
            and scalar(db, "SELECT value FROM meta WHERE key = 'directory_synced_at:slack'")
        ),
        timeout=30,
        what="the directory load",
    )


def memo_state(db: Path, memo_id: int = 1) -> str | None:
    return scalar(db, "SELECT state FROM memos WHERE id = ?", [memo_id])


# ---------------------------------------------------------------- the bot as a process


class BotProcess:
    """`python -m bot` against the stand-in, restartable on the same database."""

    def __init__(self, slack, db: Path, workdir: Path, **env):
        self.slack = slack
        self.db = db
        self.workdir = workdir
        self.log = workdir / "bot.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_PATH": str(db),
            "SLACK_POST_PER_MINUTE": str(int(300 * SCALE)),
            "SLACK_UPDATE_PER_MINUTE": str(int(50 * SCALE)),
            "STATUS_UPDATE_EVERY": "1s",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
            **{k: str(v) for k, v in env.items()},
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self.kills = 0
        self.start_seconds: list[float] = []

    def start(self) -> None:
        started = time.monotonic()
        port = free_port()
        env = {**self.env, "PORT": str(port)}
        with open(self.log, "a") as log:
            log.write(f"\n---- start {self.starts + 1} ----\n")
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1
        url = f"http://127.0.0.1:{port}"

        def healthy():
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the bot exited with {self.process.returncode}:\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout=30, what="/healthz")
        self.slack.bot_url = url
        self.start_seconds.append(time.monotonic() - started)

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, in-flight calls never hear their answer."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""

    def tracebacks(self) -> int:
        try:
            return self.log.read_text().count("Traceback (most recent call last)")
        except OSError:
            return 0


# ---------------------------------------------------------------- killing at an exact Slack call


@dataclass
class KillPoint:
    """Kill the bot when `trigger(method, args, body)` first holds for a call.

    `when="after"`: Slack has acted (the message is posted) but the bot never
    hears the answer. `when="before"`: the bot dies with the call in flight and
    Slack never acts on it.
    """

    name: str
    method: str
    when: str  # "before" | "after"
    trigger: Callable[[dict, dict | None], bool]
    fired_at: dict = field(default_factory=dict)


class Killer:
    """Wraps the stand-in's Web API so the test can SIGKILL the bot in the middle of
    a given call, and counts what the stand-in actually posted and edited."""

    def __init__(self, slack, bot: BotProcess):
        self.slack = slack
        self.bot = bot
        self.lock = threading.Lock()
        self.point: KillPoint | None = None
        self.fired = threading.Event()
        self.copies: set[str] = set()  # channels that got a copy post (distinct people)
        self.copy_posts = 0
        self.notices: set[str] = set()
        self.notice_posts = 0
        self.edits = 0
        self.history_calls = 0
        self.holds: dict[str, tuple[threading.Event, threading.Event, bool]] = {}
        self._original = slack.api.call
        slack.api.call = self._call

    def arm(self, point: KillPoint) -> None:
        with self.lock:
            self.point = point
            self.fired.clear()

    def disarm(self) -> None:
        with self.lock:
            self.point = None

    def _maybe_fire(self, when: str, method: str, args: dict, body: dict | None) -> bool:
        point = self.point
        if point is None or point.when != when or point.method != method:
            return False
        if not point.trigger(args, body):  # may wait: evaluated outside the lock
            return False
        with self.lock:
            if self.point is not point:
                return False
            self.point = None
            point.fired_at = {
                "copies": len(self.copies),
                "notices": len(self.notices),
                "edits": self.edits,
            }
            self.bot.kill()
            self.fired.set()
            return True

    def hold_next(
        self, method: str, *, every: bool = False, when=None
    ) -> tuple[threading.Event, threading.Event]:
        """The next call of `method` (with `every`, each call until released) waits, as
        when Slack is slow to answer, until released. `when(args)` picks which calls
        count (e.g. not the compose form's own check). Returns (held, release): `held`
        is set once a call is waiting."""
        held, release = threading.Event(), threading.Event()
        with self.lock:
            self.holds[method] = (held, release, every, when)
        return held, release

    def _call(self, method: str, args: dict) -> dict:
        with self.lock:
            hold = self.holds.get(method)
            if hold is not None and hold[3] is not None and not hold[3](args):
                hold = None
            elif hold is not None and (not hold[2] or hold[1].is_set()):
                del self.holds[method]
        if hold is not None and not hold[1].is_set():
            hold[0].set()
            hold[1].wait(30)
        if self._maybe_fire("before", method, args, None):
            return {"ok": False, "error": "fatal_error"}  # nobody is listening any more
        body = self._original(method, args)
        if body.get("ok"):
            self._count(method, args, body)
        self._maybe_fire("after", method, args, body)
        return body

    def _count(self, method: str, args: dict, body: dict) -> None:
        with self.lock:
            if method == "chat.postMessage":
                event = ((args.get("metadata") or {}) or {}).get("event_type")
                if event == COPY:
                    self.copy_posts += 1
                    self.copies.add(body.get("channel"))
                elif event == NOTICE:
                    self.notice_posts += 1
                    self.notices.add(body.get("channel"))
            elif method == "chat.update":
                self.edits += 1
            elif method == "conversations.history":
                self.history_calls += 1

    def restore(self) -> None:
        self.slack.api.call = self._original


def is_copy(args: dict) -> bool:
    return ((args.get("metadata") or {}) or {}).get("event_type") == COPY


def is_status(metadata: dict | None) -> bool:
    """A memo's or a retraction's live status message (for its issuer)."""
    return str((metadata or {}).get("event_type", "")).endswith("_status")


def is_notice(args: dict) -> bool:
    return ((args.get("metadata") or {}) or {}).get("event_type") == NOTICE


# ---------------------------------------------------------------- what people actually got


@dataclass
class Tally:
    people: int = 0
    copies: int = 0
    cancelled: int = 0
    failed_copies: int = 0
    failed_notices: int = 0
    failed_edits: int = 0
    uninformed: int = 0
    notices: int = 0
    edited: int = 0
    duplicate_copies: int = 0
    duplicate_notices: int = 0
    lost_copies: int = 0
    lost_notices: int = 0
    unedited: int = 0
    copy_not_meant_to_be_there: int = 0
    notice_without_copy: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.duplicate_copies + self.duplicate_notices

    @property
    def lost(self) -> int:
        return self.lost_copies + self.lost_notices + self.unedited + self.uninformed

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "problems"}
        out["duplicates"] = self.duplicates
        out["lost"] = self.lost
        out["problems"] = self.problems[:20]
        return out


def tally(slack, db: Path, people: list[str], memo_id: int = 1, *, retracted: bool) -> Tally:
    """What each person has in their DM, from the stand-in's records. The store is read
    only to tell a copy, notice or edit that is missing because it was cancelled or
    finally failed (with a reason) from one that was lost."""
    states = dict(query(db, "SELECT recipient_id, state FROM copies WHERE memo_id = ?", [memo_id]))
    notice_states = dict(
        query(db, "SELECT recipient_id, state FROM notices WHERE memo_id = ?", [memo_id])
    )
    edit_states = dict(
        query(
            db,
            "SELECT c.recipient_id, e.state FROM edits e JOIN copies c ON c.id = e.id"
            " WHERE e.memo_id = ?",
            [memo_id],
        )
    )
    t = Tally(people=len(people))
    for person in people:
        state = states.get(person)
        notice_state = notice_states.get(person)
        copies = [
            m
            for m in copies_in_dm(slack, person)
            if m.metadata["event_payload"]["memo_id"] == memo_id
        ]
        notices = [
            m
            for m in notices_in_dm(slack, person)
            if m.metadata["event_payload"]["memo_id"] == memo_id
        ]
        t.copies += min(1, len(copies))
        t.notices += min(1, len(notices))
        if state in ("cancelled", "failed"):
            t.cancelled += state == "cancelled"
            t.failed_copies += state == "failed"
            if copies:
                t.copy_not_meant_to_be_there += 1
                t.problems.append(
                    f"{person}: store says {state} but the DM has {len(copies)} copies"
                )
        elif len(copies) == 0:
            t.lost_copies += 1
            t.problems.append(f"{person}: no copy (store: {state})")
        if len(copies) > 1:
            t.duplicate_copies += len(copies) - 1
            t.problems.append(f"{person}: {len(copies)} copies")
        if len(notices) > 1:
            t.duplicate_notices += len(notices) - 1
            t.problems.append(f"{person}: {len(notices)} notices")
        if not retracted:
            continue
        if copies:
            if not notices and notice_state == "failed":
                t.failed_notices += 1  # Slack kept failing it: final, with its reason
            elif not notices:
                t.lost_notices += 1
                t.problems.append(
                    f"{person}: delivered copy but no notice (notice: {notice_state})"
                )
            elif notice_state == "failed":
                t.problems.append(f"{person}: the notice is in the DM, the store says failed")
            edited = all(
                RETRACTED_HEADER in original.content() and not original.buttons()
                for original in copies
            )
            if edited:
                t.edited += 1
            elif edit_states.get(person) == "failed":
                t.failed_edits += 1  # Slack kept failing it: final, with its reason
            else:
                t.unedited += 1
                t.problems.append(
                    f"{person}: original not edited (edit: {edit_states.get(person)})"
                )
            if not notices and not edited:
                t.uninformed += 1
                t.problems.append(f"{person}: has the memo, no notice, original not edited")
        elif notices:
            t.notice_without_copy += 1
            t.problems.append(f"{person}: a notice but no copy")
    return t


def save_figures(name: str, figures: dict) -> Path:
    FIGURES.mkdir(parents=True, exist_ok=True)
    path = FIGURES / f"{name}.json"
    path.write_text(json.dumps(figures, indent=2, default=str))
    print(f"\n== {name} ==\n{json.dumps(figures, indent=2, default=str)}\n(figures in {path})")
    return path


# ---------------------------------------------------------------- a clock that skips idle waits


class WarpClock(Clock):
    """Real time plus an offset that only grows. `Warp` moves it forward when the
    outbox has nothing to do but wait for a retry's backoff, so a story with
    four retries in a row takes a second, not fifteen; durations read from the
    store (bot time) still include every backoff in full."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset.total_seconds()

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=max(0.0, seconds))


class Warp:
    """A thread that, when nothing in the outbox is being sent or is due, moves the
    clock to the next retry's due time and wakes the outbox."""

    def __init__(self, clock: WarpClock, db: Path, kick: Callable[[], None]):
        self.clock = clock
        self.db = db
        self.kick = kick
        self.jumps = 0
        self.skipped = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="warp", daemon=True)

    def __enter__(self) -> Warp:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self._step()
            except sqlite3.Error:
                continue

    def _step(self) -> None:
        if not self.db.exists():
            return
        # An edit waits for its notice to settle: it is not due before the notice is.
        union = (
            "SELECT state, next_attempt_at FROM copies WHERE state IN ('pending', 'sending')"
            " UNION ALL SELECT state, next_attempt_at FROM notices"
            " WHERE state IN ('pending', 'sending')"
            " UNION ALL SELECT e.state, e.next_attempt_at FROM edits e"
            " LEFT JOIN notices n ON n.copy_id = e.id WHERE e.state IN ('pending', 'sending')"
            " AND (n.id IS NULL OR n.state NOT IN ('pending', 'sending'))"
        )
        rows = query(self.db, union)
        if not rows or any(state == "sending" for state, _ in rows):
            return
        now = self.clock.now()
        due = min(from_text(at) for _, at in rows)
        if due <= now:
            return
        # Idle: every open item waits for a retry. Look once more, then jump.
        time.sleep(0.05)
        rows = query(self.db, union)
        if not rows or any(state == "sending" for state, _ in rows):
            return
        due = min(from_text(at) for _, at in rows)
        gap = (due - self.clock.now()).total_seconds()
        if gap > 0:
            self.clock.advance(gap + 0.001)
            self.jumps += 1
            self.skipped += gap
            self.kick()
