"""The core: what listeners (Slack today, Teams tomorrow) hand their work to.

It owns the store, the outbox, the status board and the scheduler, and
exposes the product's actions: send a memo, acknowledge, retract, confirm a
retraction, and who may do what. It never speaks a platform's language:
platforms are reached only through `bot.platform.Platform`.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from bot.answers import Answers
from bot.audit import Checkpoints
from bot.channels import Channels
from bot.clock import Clock
from bot.config import Settings
from bot.domain import (
    CANCEL,
    MEMO_AWAITING_APPROVAL,
    MEMO_RETRACTED,
    MEMO_RETRACTING,
    NEVER_SENT,
    Audience,
    Memo,
    Refusal,
    Retraction,
    memo_label,
    merge_recipients,
)
from bot.fanout import Outbox
from bot.lease import Leadership
from bot.platform import Interactive, Platform
from bot.reminders import Reminders
from bot.roles import Roles
from bot.safety import SendingSafely
from bot.status import StatusBoard
from bot.store import Click, Store

log = logging.getLogger(__name__)

RETRACTION_SWEEP_SECONDS = 3.0  # a retraction that could not be applied is tried again this soon
DUE_SWEEP_SECONDS = 1.0  # a scheduled or held memo goes out this soon after its time
MAX_PENDING_REPLIES = 2  # per person: more while these wait are dropped (they can ask again)


class Core(Roles, SendingSafely):
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        platforms: dict[str, Platform],
        *,
        idle_wait: float = 0.25,
        checkpoints: Checkpoints | None = None,
    ):
        self.settings = settings
        self.store = store
        self.checkpoints = checkpoints  # posts the audit chain's head (AUDIT_CHECKPOINT_CHANNEL)
        self.clock = clock
        self.platforms = platforms
        self.status = StatusBoard(
            store, platforms, clock, settings.status_update_every.total_seconds()
        )
        self.outbox = Outbox(
            store,
            platforms,
            clock,
            concurrency=settings.send_concurrency,
            on_change=self.status.mark,
            idle_wait=idle_wait,
        )
        self.answers = Answers(self)
        self.channels = Channels(self)  # channel announcements: posts, their clicks, tracking
        self.reminders = Reminders(store, clock, settings, on_queued=self.outbox.kick)
        self._resolver = ThreadPoolExecutor(max_workers=2, thread_name_prefix="audience")
        self._later = ThreadPoolExecutor(max_workers=4, thread_name_prefix="after-answer")
        # Applying a retraction has its own thread: it never waits behind chat replies.
        self._urgent = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retraction")
        self._pending_replies: dict[tuple[str, str], int] = {}
        self._pending_lock = threading.Lock()
        # Memos whose retraction or audience is being worked on now: the sweeps leave them be.
        self._applying: set[int] = set()
        self._resolving: set[int] = set()
        self._busy_lock = threading.Lock()
        self._sweeping = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._group_cache: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}
        self._group_lock = threading.Lock()
        self.scheduler = None

    # ------------------------------------------------------------ lifecycle

    def start(self, *, scheduler: bool = True) -> None:
        """Answer requests from now on; send once this instance holds the lease (at once on
        SQLite; on PostgreSQL when no other instance holds it: bot/lease.py)."""
        self._with_scheduler = scheduler
        self.leadership = Leadership(
            self.store, self.settings.lease_seconds, self._lead, self._step_down
        )
        self.leadership.start()

    def _lead(self) -> None:
        """This instance sends: what a dead sender left in flight is checked first."""
        scheduler = self._with_scheduler
        recovered = self.store.recover_in_flight(self.clock.now())
        if any(recovered.values()):
            log.warning("in doubt after restart, to be checked before any resend: %s", recovered)
        for memo_id in self.store.unapplied_retractions():
            # Asked for (and confirmed to the person) before a crash: carry it out now,
            # before any worker could send another copy of that memo.
            log.warning("carrying out the retraction of M-%s requested before a restart", memo_id)
            self.apply_retraction(memo_id)
        self.outbox.start()
        self.channels.start()
        self.status.start()
        self.resume_audiences()
        self._sweeping.clear()
        self._sweeper = threading.Thread(
            target=self._sweep_retractions_forever, name="retraction-sweep", daemon=True
        )
        self._sweeper.start()
        if scheduler:
            from bot.scheduler import Scheduler

            self.scheduler = Scheduler(self)
            self.scheduler.start()

    def after_answer(self, work) -> None:
        """Run `work` once the platform has had its answer (it must not wait for it)."""
        self._later.submit(work)

    def reply_later(self, person: tuple[str, str], work) -> bool:
        """A chat reply to `person` ((platform, id)), after the platform's answer. At most
        MAX_PENDING_REPLIES wait per person; one more is dropped (logged), so that one
        person's flood cannot hold the reply threads. False when dropped."""
        with self._pending_lock:
            waiting = self._pending_replies.get(person, 0)
            if waiting >= MAX_PENDING_REPLIES:
                log.info("reply to %r dropped: %d already waiting", person, waiting)
                return False
            self._pending_replies[person] = waiting + 1

        def run() -> None:
            try:
                work()
            except Exception:
                log.exception("reply to %r failed", person)
            finally:
                with self._pending_lock:
                    left = self._pending_replies.pop(person, 1) - 1
                    if left > 0:
                        self._pending_replies[person] = left

        self._later.submit(run)
        return True

    def apply_retraction_soon(self, memo_id: int) -> None:
        """Carry out a stored retraction request now, on its own thread (never behind
        replies). A failure is logged and tried again within seconds; the request stays
        stored, so the sweep (and a restart) applies it in the end."""
        if self.store.retraction(memo_id) is None:
            return  # cancelled before its time (nothing to apply), or never asked
        with self._busy_lock:
            if memo_id in self._applying:
                return
            self._applying.add(memo_id)

        def run() -> None:
            try:
                for attempt in range(4):
                    try:
                        self.apply_retraction(memo_id)
                        return
                    except Exception:
                        log.exception("the retraction of M-%s could not be applied yet", memo_id)
                        if self._sweeping.wait(min(0.5 * 2**attempt, 4.0)):
                            return
            finally:
                with self._busy_lock:
                    self._applying.discard(memo_id)

        self._urgent.submit(run)

    def sweep_retractions(self) -> list[int]:
        """Every stored retraction not applied yet (its first try failed, or its thread
        died) is carried out now; returns the memos handed over."""
        waiting = [m for m in self.store.unapplied_retractions() if m not in self._applying]
        for memo_id in waiting:
            log.warning("applying the retraction of M-%s, still waiting", memo_id)
            self.apply_retraction_soon(memo_id)
        return waiting

    def _sweep_retractions_forever(self) -> None:
        last = time.monotonic()
        while not self._sweeping.wait(DUE_SWEEP_SECONDS):
            try:
                self.sweep_due_memos()
            except Exception:
                log.exception("the sweep of memos due to send failed; it runs again shortly")
            if time.monotonic() - last < RETRACTION_SWEEP_SECONDS:
                continue
            last = time.monotonic()
            try:
                self.sweep_retractions()
            except Exception:
                log.exception("the retraction sweep failed; it runs again shortly")

    def _step_down(self) -> None:
        """Another instance sends now (or the lease could not be renewed): stop sending."""
        self._sweeping.set()
        if self._sweeper is not None:
            self._sweeper.join(5)
        if self.scheduler:
            self.scheduler.stop()
            self.scheduler = None
        self.outbox.stop()
        self.channels.stop()
        self.status.stop()

    def stop(self) -> None:
        leadership = getattr(self, "leadership", None)
        if leadership is not None:
            leadership.stop()
        self._sweeping.set()
        if self._sweeper is not None:
            self._sweeper.join(5)
        if self.scheduler:
            self.scheduler.stop()
        self._later.shutdown(wait=True)
        self._urgent.shutdown(wait=True)
        self._resolver.shutdown(wait=True, cancel_futures=True)
        self.outbox.stop()
        self.channels.stop()
        self.status.stop()
        if leadership is not None:
            leadership.release()  # nothing of ours is in flight: the next sender starts now

    # ------------------------------------------------------------ memos

    def send_memo(
        self,
        *,
        sender_id: str,
        platform: str,
        title: str,
        body: str,
        audience: Audience | tuple[Audience, ...],
        ask_ack: bool,
        ack_deadline: datetime | None,
        send_at: datetime | None = None,
    ) -> Memo:
        """Store the memo now; resolve its audience and fan it out in the background.
        With APPROVAL_OVER set it awaits approval while its audience is resolved; with a
        send time it is scheduled; with UNDO_WINDOW it is held first (see domain)."""
        memo = self.store.create_memo(
            title=title.strip(),
            body=body.strip(),
            sender_id=sender_id,
            sender_platform=platform,
            ask_ack=ask_ack or ack_deadline is not None,
            ack_deadline=ack_deadline,
            audience=audience,
            now=self.clock.now(),
            send_at=send_at,
            hold_seconds=self.settings.undo_window.total_seconds(),
            approval_possible=self.settings.approval_over is not None,
        )
        self.status.mark(memo.id)
        self._resolve_soon(memo.id)
        return memo

    def audience_problems(self, audiences: tuple[Audience, ...] | list[Audience]) -> list[str]:
        """Why a compose form's audience cannot be sent to as it stands (each platform says
        for its own part); [] when it can."""
        problems: list[str] = []
        for audience in audiences:
            platform = self.platforms.get(audience.platform)
            if platform is not None and not audience.empty:
                problems.extend(platform.audience_problems(audience))
        return problems

    def resume_audiences(self) -> None:
        """Memos stored but whose recipients were never added (e.g. a crash): finish them."""
        for memo in self.store.memos_awaiting_recipients():
            self._resolve_soon(memo.id)

    def _resolve_soon(self, memo_id: int) -> None:
        """Resolve a memo's audience in the background, once at a time: the sweep does
        not queue a memo again while it is still being resolved."""
        with self._busy_lock:
            if memo_id in self._resolving:
                return
            self._resolving.add(memo_id)

        def run() -> None:
            try:
                self._resolve(memo_id)
            finally:
                with self._busy_lock:
                    self._resolving.discard(memo_id)

        self._resolver.submit(run)

    def _resolve(self, memo_id: int) -> None:
        memo = self.store.memo(memo_id)
        if memo is None:
            return
        found = []
        for audience in memo.audiences:
            platform = self.platforms.get(audience.platform)
            if platform is None:
                log.error(
                    "%s names people on %s, which is not configured", memo.label, audience.platform
                )
                continue
            try:
                found.append(platform.resolve_audience(audience))
            except Exception:
                log.exception("audience of %s could not be resolved yet", memo.label)
                return  # the sweep tries again; nothing was stored
        recipients = merge_recipients(*found)
        if not recipients and not any(a.posts for a in memo.audiences):
            # The form checks what it can; an audience can still empty out before it is
            # resolved (a channel left, a group emptied). Never "sent" to nobody silently.
            log.warning("%s reached nobody: its audience has no one who can receive it", memo.label)
        if not self.channels.store_posts(memo, recipients):
            return  # a channel to post in could not be read: the sweep tries again
        approvers = self.approvers(memo) if memo.state == MEMO_AWAITING_APPROVAL else []
        self.store.add_recipients(
            memo_id,
            recipients,
            self.clock.now(),
            approval_over=self.settings.approval_over,
            approvers=approvers,
        )
        self.outbox.kick()
        self.status.mark(memo_id)
        self.status.flush()

    def acknowledge(self, copy_id: int, user_id: str, platform: str) -> Click:
        click = self.store.acknowledge(copy_id, user_id, platform, self.clock.now())
        if click.outcome == "recorded":
            self.status.mark(click.memo_id)
        return click

    # ------------------------------------------------------------ retraction

    def memo_to_retract(self, ref: int | None) -> Memo | Refusal:
        """The memo a retraction names, or why it cannot be retracted."""
        if ref is None:
            return Refusal("Name the memo to retract, e.g. M-7.")
        memo = self.store.memo(ref)
        if memo is None:
            return Refusal(f"There is no memo {memo_label(ref)}.")
        if memo.never_sent:
            who = memo.stopped_by_name or "someone"
            when = f"{memo.stopped_at:%Y-%m-%d at %H:%M UTC}" if memo.stopped_at else ""
            return Refusal(f"{memo.label} never went out: it was {memo.state} by {who} {when}.")
        retraction = self.store.retraction(memo.id)
        if retraction is not None:
            who = self.display_name(retraction.retracted_by_platform, retraction.retracted_by)
            when = f"{retraction.retracted_at:%Y-%m-%d at %H:%M UTC}"
            if not retraction.applied:
                return Refusal(
                    f"{memo.label} is already being retracted (asked by {who} on {when});"
                    " everyone who got it will be told."
                )
            return Refusal(f"{memo.label} was already retracted on {when} by {who}.")
        return memo

    def display_name(self, platform: str, person_id: str) -> str:
        """A person's name as the directory knows it, for texts any platform can show."""
        person = self.store.person(platform, person_id) or {}
        return person.get("real_name") or person.get("name") or person_id

    def retractable_memos(self, limit: int = 25) -> list[Memo]:
        return [
            memo
            for memo in self.store.recent_memos(limit * 2)
            if memo.state not in (MEMO_RETRACTING, MEMO_RETRACTED, *NEVER_SENT)
        ][:limit]

    def request_retraction(
        self, memo_id: int, *, by: str, platform: str, reason: str, corrections: str
    ) -> Memo | Refusal:
        """Store the retraction before the person is told it is under way, so that a
        crash after that answer cannot lose it. `apply_retraction` carries it out."""
        found = self.memo_to_retract(memo_id)
        if isinstance(found, Refusal):
            return found
        if found.before_sending:
            # Nobody has a copy: cancel it, notify no one. If it started sending in the
            # meantime, the transition does not apply and it is retracted as usual.
            changed, memo = self.store.decide_memo(
                memo_id,
                CANCEL,
                self.clock.now(),
                by=by,
                by_platform=platform,
                by_name=self.display_name(platform, by),
                reason=reason.strip(),
            )
            if changed:
                self._after_decision(memo)
                return memo
        stored = self.store.request_retraction(
            memo_id,
            by=by,
            by_platform=platform,
            reason=reason.strip(),
            corrections=corrections.strip(),
            now=self.clock.now(),
        )
        if not stored:
            found = self.memo_to_retract(memo_id)
            return found if isinstance(found, Refusal) else Refusal("Could not retract.")
        return found

    def apply_retraction(self, memo_id: int) -> Retraction | None:
        """Close the memo to new sends, wait for the ones on their way, then record
        the retraction; the notices and edits start at once."""
        self.outbox.gate.close(memo_id)
        retraction = self.store.apply_retraction(memo_id, self.clock.now())
        self.outbox.kick()
        if retraction is not None and self.checkpoints is not None:
            self.checkpoints.kick()  # on its own thread: never delays or fails the retraction
        self.status.mark(memo_id)
        self.status.flush()
        return retraction

    # ------------------------------------------------------------ overviews

    def extras(self, platform: str) -> Interactive:
        """The platform's interactive extras (permalinks, files, reflecting a click)."""
        return self.platforms[platform]  # type: ignore[return-value]

    def overview(self, limit: int = 15) -> list[tuple]:
        """Recent memos with their counts (for comms staff and auditors)."""
        result = []
        for memo in self.store.recent_memos(limit):
            retraction = self.store.retraction(memo.id)
            result.append(
                (
                    memo,
                    self.store.memo_counts(memo.id),
                    self.store.retraction_counts(memo.id) if retraction else None,
                )
            )
        return result

    def may_see_memo(self, memo_id: int, platform: str, user_id: str) -> bool:
        return self.may_oversee(platform, user_id) or self.store.received(
            memo_id, platform, user_id
        )

    def mark_seen(self, notice_id: int, user_id: str, platform: str) -> Click:
        click = self.store.mark_seen(notice_id, user_id, platform, self.clock.now())
        if click.outcome == "recorded":
            self.status.mark(click.memo_id)
        return click

    # ------------------------------------------------------------ who can be reached (listeners tell)

    def person_seen(
        self, platform: str, person_id: str, *, name: str, tz: str | None, reference: dict
    ) -> bool:
        """Someone wrote or clicked: remember how to reach them, their name and time zone,
        when any of it is new (no write on every click). True when their name is known
        (else it is worth asking their platform)."""
        known = self.answers.person(platform, person_id)
        stored = known.get("reference") or {}
        if not (
            all(stored.get(k) == v for k, v in reference.items())
            and (not name or known.get("name") == name)
            and (not tz or known.get("tz") == tz)
        ):
            self.store.remember_person(
                platform, person_id, name=name, tz=tz, reference=reference, now=self.clock.now()
            )
        return bool(name or known.get("name"))

    def person_installed(
        self,
        platform: str,
        person_id: str,
        *,
        added: bool,
        name: str,
        tz: str | None,
        reference: dict,
    ) -> None:
        """The app was added for a person (they can be written to) or removed."""
        self.store.remember_person(
            platform,
            person_id,
            name=name,
            tz=tz,
            reference=reference,
            installed=added,
            now=self.clock.now(),
        )

    def group_installed(self, platform: str, group_id: str, name: str, reference: dict) -> None:
        """The app was added to a group (a Teams team): it can be offered as an audience."""
        self.store.remember_group(platform, group_id, name, reference, self.clock.now())

    def group_uninstalled(self, platform: str, group_id: str) -> None:
        self.store.forget_group(platform, group_id)

    def group_renamed(self, platform: str, group_id: str, name: str, reference: dict) -> None:
        """A group's new name. Its stored reference stays; `reference` is for a group not
        known yet."""
        stored = self.answers.group(platform, group_id).get("reference") or {}
        self.store.remember_group(platform, group_id, name, stored or reference, self.clock.now())
