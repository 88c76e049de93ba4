"""Live status messages: one per memo and one per retraction, for their issuer.

Changes only mark a memo as dirty; a single thread refreshes dirty status
messages at most every `every` seconds, and only when what they show has
changed, so a fan-out of thousands costs a handful of chat.update calls.
"""

from __future__ import annotations

import logging
import threading
import time

from bot.clock import Clock
from bot.domain import BEFORE_SENDING, Failed, NotFound, Sent, seconds_left
from bot.platform import Platform, StatusReport
from bot.store import Store

log = logging.getLogger(__name__)

RECENT_AT_START = 20
# While a retraction's originals are being edited, status messages and edits share one
# slow budget (chat.update: Tier 3, about 50 a minute). The status messages then take at
# most one call in STATUS_SHARE of that budget (all of a platform's status messages
# together: 2.5%, every 48 s at 50 a minute), and never more often than EDITING_SLOWDOWN
# times `every`: the edits are what the retraction is waiting for.
EDITING_SLOWDOWN = 4
STATUS_SHARE = 40


def editing_gap(platform, every: float) -> float:
    """Seconds between two status refreshes on `platform` while originals are edited."""
    gap = every * EDITING_SLOWDOWN
    per_minute = platform.budget("edit").per_minute if hasattr(platform, "budget") else None
    if per_minute:
        gap = max(gap, STATUS_SHARE * 60.0 / per_minute)
    return gap


def finish_estimate(platform, report: StatusReport, kind: str) -> tuple[float, float] | None:
    """Seconds until what is still to send is sent at the rates the platform's budgets
    have learned, and the rate (a minute) of the stream that takes longest; None when
    nothing is left, or a stream is unpaced (or the platform has no budgets)."""
    if not hasattr(platform, "budget"):
        return None
    post = platform.budget("post").per_minute
    if kind == "memo":
        left = report.counts.pending if report.memo.state == "sending" else 0
        return (left / post * 60.0, post) if left and post else None
    counts = report.retraction_counts
    if counts is None:
        return None
    edit = platform.budget("edit").per_minute
    edits = counts.edits_total - counts.edits_done - counts.edits_failed
    streams = [(counts.pending, post), (edits, edit)]
    times = [(left / rate * 60.0, rate) for left, rate in streams if left > 0 and rate]
    return max(times) if times else None


class StatusBoard:
    def __init__(self, store: Store, platforms: dict[str, Platform], clock: Clock, every: float):
        self.store = store
        self.platforms = platforms
        self.clock = clock
        self.every = every
        self._dirty: set[int] = set()
        self._shown: dict[tuple[int, str], tuple] = {}
        self._edit_share_used: dict[int, float] = {}  # id(platform) -> last refresh while editing
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        # After a restart, bring every recent status message up to date once: the last
        # update before a crash may never have been made.
        for memo in self.store.memos_in_states("sending", "retracting", *BEFORE_SENDING):
            self._dirty.add(memo.id)
        for memo in self.store.recent_memos(RECENT_AT_START):
            self._dirty.add(memo.id)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="status-board", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(10)

    def mark(self, memo_id: int) -> None:
        with self._lock:
            self._dirty.add(memo_id)

    def flush(self) -> None:
        """Refresh now (used when a fan-out finishes, and by tests)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.every)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._lock:
                dirty, self._dirty = self._dirty, set()
            for memo_id in sorted(dirty):
                try:
                    if not self.refresh(memo_id):
                        self.mark(memo_id)
                except Exception:
                    log.exception("status refresh failed for memo %s", memo_id)
                    self.mark(memo_id)

    def refresh(self, memo_id: int) -> bool:
        """Post or update the memo's status messages; False if it should be retried."""
        memo = self.store.memo(memo_id)
        if memo is None:
            return True
        platform = self.platforms.get(memo.sender_platform)
        if platform is None:
            return True
        report = StatusReport(
            memo, self.store.memo_counts(memo_id), seconds_left=seconds_left(memo, self.clock.now())
        )
        ok = self._show(
            platform, memo.sender_id, report, "memo", memo.status_channel, memo.status_ts
        )
        retraction = self.store.retraction(memo_id)
        if retraction is not None:
            report.retraction = retraction
            report.retraction_counts = self.store.retraction_counts(memo_id)
            retractor = self.platforms.get(retraction.retracted_by_platform, platform)
            ok = (
                self._show(
                    retractor,
                    retraction.retracted_by,
                    report,
                    "retraction",
                    retraction.status_channel,
                    retraction.status_ts,
                )
                and ok
            )
        return ok

    def _post(self, platform, user_id, report: StatusReport, kind: str):
        """Post the status message once: if an earlier attempt may have landed (a crash
        between posting and storing where), look for it first."""
        attempted = self.store.status_posting(report.memo.id, kind, None)
        if attempted is not None:
            found = platform.find_sent(f"{kind}_status", report.memo.id, user_id, attempted)
            if isinstance(found, Sent):
                # Found it: bring it up to date. If that fails, say so (an outcome is always
                # truthy, so `update and found` would hide the failure and store a stale message).
                updated = platform.update_status(found.channel, found.ts, report, kind)
                return found if isinstance(updated, Sent) else updated
            if not isinstance(found, NotFound):
                return found
        self.store.status_posting(report.memo.id, kind, self.clock.now())
        return platform.post_status(user_id, report, kind)

    def _show(self, platform, user_id, report: StatusReport, kind: str, channel, ts) -> bool:
        memo = report.memo
        report.finish_in = finish_estimate(platform, report, kind)
        fingerprint = (
            memo.state,
            repr(report.counts),
            repr(report.retraction_counts),
            report.seconds_left,
            memo.decision,
        )
        key = (memo.id, kind)
        if channel and self._shown.get(key) == fingerprint:
            return True
        editing = report.retraction_counts is not None and (
            report.retraction_counts.edits_done + report.retraction_counts.edits_failed
            < report.retraction_counts.edits_total
        )
        if channel and editing:
            if kind == "memo" and self._shown.get(key, (None,))[0] == memo.state:
                # Only the retraction's own message shows its progress; the memo's shows
                # the new state at once and its counts when the edits are done.
                return False
            last = self._edit_share_used.get(id(platform), float("-inf"))
            if time.monotonic() - last < editing_gap(platform, self.every):
                return False  # the originals' edits have the (slow) update budget
            self._edit_share_used[id(platform)] = time.monotonic()
        if channel and ts:
            outcome = platform.update_status(channel, ts, report, kind)
        else:
            outcome = self._post(platform, user_id, report, kind)
            if isinstance(outcome, Sent):
                if kind == "memo":
                    self.store.set_memo_status_message(memo.id, outcome.channel, outcome.ts)
                else:
                    self.store.set_retraction_status_message(memo.id, outcome.channel, outcome.ts)
        if isinstance(outcome, Sent):
            self._shown[key] = fingerprint
            return True
        log.info("status %s for %s not shown: %s", kind, memo.label, outcome)
        if isinstance(outcome, NotFound):
            return False  # checked: the earlier post never landed; post at the next tick
        # A permanent refusal is not retried; anything else is, at the next tick.
        return isinstance(outcome, Failed)
