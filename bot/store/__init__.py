"""The store: the source of truth for everything that must survive a restart.

All SQL lives here, behind functions named for what they answer or change.
Each change that belongs together runs in one `BEGIN IMMEDIATE` transaction
together with its audit entry, so a crash never leaves half a change, and the
audit chain is appended by one writer at a time.

Connections are per thread (bolt listeners, the outbox workers and the
scheduler all run on their own threads).

`Store` is one object made of a `Database` (database.py: connections, the write
transaction, the audit append, migrations; the one place for what is SQLite's
alone) and a mixin per aggregate, each with its own SQL: directory, memos,
outbox, safety (sending safely), channels (posts in channels), retractions, clicks, reminders, audit_log,
events, and read-only
queries. The mixins reach the database, and each other, through `self`.
"""

from __future__ import annotations

from bot.store.audit_log import AuditLogMixin
from bot.store.channels import ChannelsMixin
from bot.store.clicks import Click, ClicksMixin
from bot.store.database import Database
from bot.store.directory import DirectoryMixin
from bot.store.events import EventsMixin
from bot.store.memos import MemosMixin
from bot.store.outbox import KINDS, LABELS, OutboxMixin
from bot.store.pacing import PacingMixin
from bot.store.queries import QueriesMixin
from bot.store.reminders import ACK_REMINDER, NEVER, RETRACTION_REMINDER, RemindersMixin
from bot.store.retractions import RetractionsMixin
from bot.store.safety import SendingSafelyMixin
from bot.store.schema import MIGRATIONS

__all__ = [
    "ACK_REMINDER",
    "KINDS",
    "LABELS",
    "MIGRATIONS",
    "NEVER",
    "RETRACTION_REMINDER",
    "Click",
    "Database",
    "Store",
]


class Store(
    DirectoryMixin,
    MemosMixin,
    SendingSafelyMixin,
    OutboxMixin,
    ChannelsMixin,
    RetractionsMixin,
    ClicksMixin,
    RemindersMixin,
    AuditLogMixin,
    EventsMixin,
    PacingMixin,
    QueriesMixin,
    Database,
):
    """The whole store: every aggregate's functions over one database."""
