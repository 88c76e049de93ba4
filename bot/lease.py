"""One sender among several instances: the lease.

Every instance answers Slack and Teams requests (they only write rows). One at a
time holds the lease, a row in the database renewed every third of `LEASE_SECONDS`,
and runs what sends: the outbox, the status board, the sweeps and the scheduler.
When the holder stops renewing (killed, cut off), the lease runs out and another
instance takes it within `LEASE_SECONDS` plus one renewal period; the new holder
first puts whatever the old one left `sending` back in doubt (store.recover_in_flight),
to be checked against the platform before any resend, exactly as after a crash.

An instance that cannot renew (the database is unreachable, or another took the lease)
steps down at once, before its lease could have run out. Even two holders by mistake
would not send one item twice: claims lock their rows (FOR UPDATE SKIP LOCKED) and a
claimed item is no longer pending.

On SQLite (one process owns the file) the lease is always held: `Leadership` calls
`lead` once and nothing else.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable

log = logging.getLogger(__name__)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Leadership:
    """Takes and renews the lease on its own thread; calls `lead` when this instance
    becomes the sender and `step_down` when it stops being one."""

    def __init__(
        self,
        store,
        seconds: float,
        lead: Callable[[], None],
        step_down: Callable[[], None],
        *,
        name: str | None = None,
    ):
        self.store = store
        self.seconds = seconds
        self.name = name or instance_name()
        self._lead = lead
        self._step_down = step_down
        self.leading = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Try once now (a lone instance sends at once), then keep trying."""
        if not self.store.shared:
            self.leading = True
            self._lead()
            return
        self._renew()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="lease", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.seconds / 3):
            self._renew()

    def _renew(self) -> None:
        try:
            held = self.store.take_lease(self.name, self.seconds)
        except Exception:
            log.exception("the lease could not be renewed: not sending until it is")
            held = False
        if held and not self.leading:
            log.warning("%s holds the lease: this instance sends now", self.name)
            self.leading = True
            self._lead()
        elif not held and self.leading:
            log.warning("%s lost the lease: this instance stops sending", self.name)
            self.leading = False
            self._step_down()

    def stop(self) -> None:
        """Stop renewing; the caller stops sending, then `release()` hands the lease on."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def release(self) -> None:
        if self.store.shared and self.leading:
            self.leading = False
            try:
                self.store.release_lease(self.name)
            except Exception:
                log.exception("the lease could not be released: it runs out by itself")
