"""Things kept so they happen once: the Events API deliveries already handled, and
secrets made once and kept."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from bot.clock import to_text


class EventsMixin:
    """Event deliveries seen, and secrets kept."""

    def first_delivery_of_event(self, event_id: str, now: datetime) -> bool:
        """True the first time an Events API delivery is seen; False for its retries."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO events (id, received_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [event_id, to_text(now)],
            )
            # Keep a week: Slack retries within minutes.
            db.execute(
                "DELETE FROM events WHERE received_at < ?", [to_text(now - timedelta(days=7))]
            )
            return cursor.rowcount == 1

    def secret(self, name: str) -> bytes:
        """A random key made once and kept (e.g. to sign report links across restarts)."""
        key = f"secret:{name}"
        with self._write() as db:
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING",
                [key, secrets.token_hex(32)],
            )
            return bytes.fromhex(
                db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()[0]
            )
