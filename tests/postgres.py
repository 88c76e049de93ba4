"""A throwaway PostgreSQL server for tests and benchmarks: `initdb` in a temporary
folder, `postgres` on a free loopback port, one fresh database per `create_database()`.

Root cannot run `postgres`: as root the server runs as the `postgres` system user
(made by Debian's package; made here when missing). When the binaries are absent,
`missing()` says why, and the tests that need the server are skipped with that
reason, except in CI (CI=true), where `.ci/run` installs PostgreSQL and a missing
server is a failure.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SUPERUSER = "errata"


def binaries() -> Path | None:
    """The folder holding initdb and postgres: on PATH, or Debian's versioned folder."""
    found = shutil.which("initdb")
    if found and shutil.which("postgres"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "postgres").exists():
            return Path(folder)
    return None


def missing() -> str | None:
    """Why no server can be started here, or None."""
    if binaries() is None:
        return (
            "PostgreSQL is not installed (no initdb/postgres on PATH or in"
            " /usr/lib/postgresql/*/bin): `apt-get install postgresql` to run these tests"
        )
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres() -> list[str]:
    """The prefix that runs a command as a user postgres accepts (not root)."""
    if os.geteuid() != 0:
        return []
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"],
            check=True,
        )
    return ["runuser", "-u", "postgres", "--"]


class PostgresServer:
    def __init__(self, *, durable: bool = False):
        """`durable`: fsync on (benchmarks); tests run without it."""
        self.durable = durable
        self.folder: Path | None = None
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._names = itertools.count(1)

    def start(self) -> PostgresServer:
        folder = binaries()
        if folder is None:
            raise RuntimeError(missing())
        prefix = _as_postgres()
        self.folder = Path(tempfile.mkdtemp(prefix="errata-pg-"))
        if prefix:
            shutil.chown(self.folder, "postgres")
        data = self.folder / "data"
        subprocess.run(
            [
                *prefix,
                str(folder / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
        )
        self.port = _free_port()
        settings = ["-c", "max_connections=200", "-c", "listen_addresses=127.0.0.1"]
        if not self.durable:
            settings += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        self.process = subprocess.Popen(
            [
                *prefix,
                str(folder / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.folder),
                *settings,
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "server.log", "wb"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.folder / "server.log").read_text(errors="replace")
                    raise RuntimeError(f"PostgreSQL did not start:\n{log}") from None
                time.sleep(0.1)
        self._wait_ready()
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _wait_ready(self) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def create_database(self) -> str:
        """A fresh, empty database; its URL."""
        import psycopg

        name = f"errata_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
