"""What every benchmark shares: the machine, a stand-in Slack, the bot as its own
process (`python -m bot`, exactly what production runs), and reading the results.

Set BENCH_KEEP=1 to keep each bot's working directory (database, bot.log).

Layout of a run: the stand-in Slack lives in the benchmark's process (so the
benchmark can act as Slack: slash commands, modal submissions, clicks, and read
every recorded call); the bot runs in a separate process, so the two never
share a GIL. The bot's store is read from here (SQLite in WAL mode allows a
concurrent reader); its CPU time and peak memory come from /proc/<pid>.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from standin.slack import StandInSlack, generate_directory  # noqa: E402

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench-token"
COPY_EVENT = "errata_copy"
NOTICE_EVENT = "errata_notice"
# The stand-in workspace's limits (per minute, at time scale 1): chat.postMessage's
# "several hundred a minute" and Tier 3's "50+", as one workspace allows them. The bot is
# never told these: it starts from its own shipped defaults (below) and learns.
CEILING_POST_PER_MINUTE = 600
CEILING_UPDATE_PER_MINUTE = 100
STATUS_UPDATE_SECONDS = 5.0  # STATUS_UPDATE_EVERY's default


# ---------------------------------------------------------------- the machine


_MACHINE: dict = {}


def machine() -> dict:
    """The machine and the bot's version, taken once (at the start of the run)."""
    if not _MACHINE:
        _MACHINE.update(_take_machine())
    return _MACHINE


def _take_machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    return {
        "nproc": cpus,
        "cpu": model,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "commit": _commit(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _commit() -> str:
    """The bot's version measured: HEAD, and whether bot/ or handlers/ differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "bot", "handlers"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return head + ("+uncommitted" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def stop_on_sigterm() -> None:
    """SIGTERM (e.g. `kill`) unwinds like Ctrl-C, so the bot process and the stand-in stop too."""

    def interrupt(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def print_machine() -> None:
    stop_on_sigterm()
    m = machine()
    print(f"machine: nproc={m['nproc']}  cpu={m['cpu']}  python={m['python']}  {m['os']}")
    print(f"errata: {m['commit']}  load average at start: {m['load_average_at_start']}")


# ---------------------------------------------------------------- waiting


def wait_for(
    condition: Callable[[], object],
    timeout: float,
    what: str,
    interval: float = 0.02,
):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------- the stand-in


def stand_in(people: int, scale: float, *, seed: int = 1, **kwargs) -> StandInSlack:
    """A stand-in Slack with `people` active humans, Slack's limits `scale` times faster."""
    slack = StandInSlack(
        generate_directory(people=people, seed=seed),
        signing_secret=SECRET,
        bot_token=TOKEN,
        time_scale=scale,
        post_per_minute=kwargs.pop("post_per_minute", CEILING_POST_PER_MINUTE),
        seed=seed,
        **{"limits": {"chat.update": CEILING_UPDATE_PER_MINUTE}, **kwargs},
    )
    return slack.start()


# ---------------------------------------------------------------- the bot process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def starting_rates(scale: float) -> dict[str, str]:
    """The bot's shipped starting rates (bot.config's defaults), in the stand-in's time:
    what a deployment starts from, `scale` times faster, as every Slack limit is. Never
    the stand-in's ceiling: the bot learns that (or, with LEARN_RATES=false, the old
    fixed budget, keeps to these)."""
    from bot.config import SETTINGS

    rates = {}
    for setting in SETTINGS:
        if setting.name.endswith("_PER_MINUTE"):
            rates[setting.name] = str(round(float(setting.default) * scale))
        elif setting.name.endswith("_PER_SECOND"):  # Teams' (0.5 a second per chat)
            rates[setting.name] = str(float(setting.default) * scale)
    return rates


class BotProcess:
    """`python -m bot` serving HTTP on loopback against `slack`, its rates scaled by `scale`."""

    def __init__(self, slack: StandInSlack, scale: float, comms: str, **settings: object):
        self.workdir = Path(tempfile.mkdtemp(prefix="errata-bench-"))
        self.db_path = self.workdir / "errata.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        env.update(
            {
                "SLACK_BOT_TOKEN": TOKEN,
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack.api_url,
                "DATABASE_PATH": str(self.db_path),
                "PORT": str(self.port),
                "COMMS_STAFF": comms,
                **starting_rates(scale),
                # Production refreshes a status message at most every 5 s; scaled with the
                # rest, so its chat.update calls take the same share of the budget.
                "STATUS_UPDATE_EVERY": f"{STATUS_UPDATE_SECONDS / scale:.3f}s",
                "LOG_LEVEL": "WARNING",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update({k: str(v) for k, v in settings.items()})
        self._log = open(self.workdir / "bot.log", "w")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=self.workdir,  # no .env from the repository
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._store = None
        # The store: SQLite in the work folder, or PostgreSQL when DATABASE_URL is given.
        self.database = str(settings.get("DATABASE_URL") or self.db_path)
        self._audit_key = str(settings["AUDIT_KEY"]).encode() if settings.get("AUDIT_KEY") else None
        slack.bot_url = self.url

    def wait_ready(self, timeout: float = 60.0) -> None:
        def healthy():
            if self.process.poll() is not None:
                raise RuntimeError(f"the bot exited; see {self.workdir / 'bot.log'}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    return response.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout, "the bot's /healthz", 0.05)

    @property
    def store(self):
        """The bot's store, opened read-side from this process."""
        if self._store is None:
            from bot.store import Store

            self._store = Store(self.database, audit_key=self._audit_key)
        return self._store

    def wait_directory(self, timeout: float) -> None:
        """The bot loads the directory at its first start, in the background."""

        def synced():
            try:
                return self.store.directory_synced_at("slack") is not None
            except Exception:  # tables not created yet
                return False

        wait_for(synced, timeout, "the bot's first directory load", 0.1)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the bot process (all its threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def log_errors(self) -> dict[str, int]:
        """Error lines in the bot's log, by their last line (e.g. the exception)."""
        counts: dict[str, int] = {}
        lines = (self.workdir / "bot.log").read_text(errors="replace").splitlines()
        for i, line in enumerate(lines):
            if " ERROR " not in line:
                continue
            key = line.split(" ERROR ", 1)[1]
            if i + 1 < len(lines) and lines[i + 1].startswith("Traceback"):
                j = i + 2
                while j < len(lines) and lines[j].startswith(" "):
                    j += 1
                if j < len(lines):
                    key = lines[j]  # the exception, e.g. "...OperationalError: database is locked"
            counts[key[:120]] = counts.get(key[:120], 0) + 1
        return counts

    def stop(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------- driving the bot like Slack


def compose(slack: StandInSlack, comms: str, values: dict) -> float:
    """/memo, then submit the compose modal; returns the wall time of the submit."""
    reply = slack.command(comms, "/memo")
    if reply.status != 200:
        raise RuntimeError(f"/memo answered {reply.status}: {reply.body}")
    slack.wait_for(lambda: slack.open_views(comms), timeout=10)
    submitted = time.time()
    reply = slack.submit_view(comms, values)
    if reply.status != 200 or reply.errors:
        raise RuntimeError(f"the compose modal was refused: {reply.status} {reply.errors}")
    return submitted


def retract(slack: StandInSlack, comms: str, memo: int, reason: str) -> float:
    """/retract M-n reason, then submit the modal; returns the wall time of the submit."""
    reply = slack.command(comms, f"/retract M-{memo} {reason}")
    if reply.status != 200:
        raise RuntimeError(f"/retract answered {reply.status}: {reply.body}")
    slack.wait_for(lambda: slack.open_views(comms), timeout=10)
    submitted = time.time()
    reply = slack.submit_view(comms, {"Corrected instructions": "Nothing to do."})
    if reply.status != 200 or reply.errors:
        raise RuntimeError(f"the retract modal was refused: {reply.status} {reply.errors}")
    return submitted


def event_type(call) -> str | None:
    metadata = call.args.get("metadata")
    return metadata.get("event_type") if isinstance(metadata, dict) else None


def accepted(calls: Iterable, kind: str | None = None) -> list:
    """Calls Slack performed and answered ok (optionally only one kind of Errata message)."""
    return [
        c for c in calls if c.status == 200 and c.ok and (kind is None or event_type(c) == kind)
    ]


def rate(calls: list) -> float:
    """Accepted calls per second from the first to the last, as the stand-in's stats count it."""
    if len(calls) < 2:
        return float("nan")
    times = sorted(c.finished for c in calls)
    return (len(times) - 1) / (times[-1] - times[0])


# ---------------------------------------------------------------- output


def table(headers: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join([line, rule, *body])


def _finite(value):
    """NaN (a figure that could not be measured) as null, so the file is strict JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def save_json(path: str | None, results: dict) -> None:
    if path:
        data = _finite({"machine": machine(), **results})
        Path(path).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
        print(f"results written to {path}")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
