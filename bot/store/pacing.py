"""Learned rates: the pace each rate-limited method was last found to sustain
(bot.pacing), kept so that a restart and the next memo start from it."""

from __future__ import annotations

from datetime import datetime

from bot.clock import from_text, to_text


class PacingMixin:
    """One row per paced method: its learned rate (calls a minute) and when."""

    def learned_rates(self) -> dict[str, tuple[float, datetime]]:
        """Every learned rate by its key (e.g. "slack chat.postMessage"): (per minute, when)."""
        rows = self._rows("SELECT key, per_minute, learned_at FROM learned_rates ORDER BY key")
        return {r["key"]: (float(r["per_minute"]), from_text(r["learned_at"])) for r in rows}

    def remember_rate(self, key: str, per_minute: float, at: datetime) -> None:
        """Keep what a method was last found to sustain (not audited: it is no decision
        about anyone's message, only how fast to send)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO learned_rates (key, per_minute, learned_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET per_minute = excluded.per_minute,"
                " learned_at = excluded.learned_at",
                [key, float(per_minute), to_text(at)],
            )
