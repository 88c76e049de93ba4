"""The directory: people and groups as each platform lists them, their DM channels
and conversation references (how to reach them on Teams)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import sqlite_utils

from bot.clock import from_text, to_text
from bot.domain import (
    Recipient,
)


class DirectoryMixin:
    """People, groups, DM channels and conversation references."""

    def replace_people(self, platform: str, people: Iterable[dict], at: datetime) -> int:
        """Store a full directory listing, page by page as it arrives (short transactions,
        little memory); at the end, people no longer listed are marked deleted."""
        stamp = to_text(at)
        count = 0
        rows: list[dict] = []
        for person in people:
            rows.append({**person, "platform": platform, "updated_at": stamp})
            count += 1
            if len(rows) >= 1000:
                with self._write() as db:
                    self._upsert_people(db, rows)
                rows = []
        with self._write() as db:
            self._upsert_people(db, rows)
            db.execute(
                "UPDATE people SET deleted = 1 WHERE platform = ? AND updated_at < ?",
                [platform, stamp],
            )
            db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [f"directory_synced_at:{platform}", stamp],
            )
        return count

    def update_person(self, platform: str, person: dict, at: datetime) -> None:
        """One person as the platform shows them now (a look-up between directory refreshes)."""
        with self._write() as db:
            self._upsert_people(db, [{**person, "platform": platform, "updated_at": to_text(at)}])

    def _upsert_people(self, db: sqlite_utils.Database, rows: list[dict]) -> None:
        if not rows:
            return
        db.conn.executemany(
            "INSERT INTO people (platform, id, name, real_name, email, tz, deleted, is_bot, updated_at)"
            " VALUES (:platform, :id, :name, :real_name, :email, :tz, :deleted, :is_bot, :updated_at)"
            " ON CONFLICT(platform, id) DO UPDATE SET name = excluded.name,"
            " real_name = excluded.real_name, email = excluded.email, tz = excluded.tz,"
            " deleted = excluded.deleted, is_bot = excluded.is_bot, updated_at = excluded.updated_at",
            [
                {
                    "name": "",
                    "real_name": "",
                    "email": "",
                    "tz": "",
                    "deleted": 0,
                    "is_bot": 0,
                    **row,
                }
                for row in rows
            ],
        )

    def replace_groups(self, platform: str, groups: Iterable[dict], at: datetime) -> None:
        stamp = to_text(at)
        with self._write() as db:
            db.execute("DELETE FROM groups WHERE platform = ?", [platform])
            for group in groups:
                db.execute(
                    "INSERT INTO groups (platform, id, handle, name, updated_at) VALUES (?, ?, ?, ?, ?)",
                    [platform, group["id"], group.get("handle", ""), group.get("name", ""), stamp],
                )

    def groups(self, platform: str) -> list[dict]:
        return self._rows(
            "SELECT id, handle, name FROM groups WHERE platform = ? ORDER BY name", [platform]
        )

    def directory_synced_at(self, platform: str) -> datetime | None:
        row = self._row("SELECT value FROM meta WHERE key = ?", [f"directory_synced_at:{platform}"])
        return from_text(row["value"]) if row else None

    def everyone(self, platform: str) -> list[Recipient]:
        """Every active human in the directory (bots and deactivated accounts excluded)."""
        return [
            Recipient(platform, row["id"], row["real_name"] or row["name"])
            for row in self.db.query(
                "SELECT id, name, real_name FROM people WHERE platform = ? AND deleted = 0"
                " AND is_bot = 0 ORDER BY id",
                [platform],
            )
        ]

    def people(self, platform: str, ids: Iterable[str]) -> dict[str, dict]:
        wanted = list(dict.fromkeys(ids))
        found: dict[str, dict] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(
                f"SELECT * FROM people WHERE platform = ? AND id IN ({marks})", [platform, *chunk]
            ):
                found[row["id"]] = row
        return found

    def person(self, platform: str, person_id: str) -> dict | None:
        return self._row(
            "SELECT * FROM people WHERE platform = ? AND id = ?", [platform, person_id]
        )

    def remember_person(
        self,
        platform: str,
        person_id: str,
        *,
        name: str = "",
        email: str = "",
        tz: str | None = None,
        reference: dict | None = None,
        installed: bool | None = None,
        now: datetime | None = None,
    ) -> None:
        """Learn of a person as the platform shows them (an install, a roster): keep
        what is known, add what is new. `installed=False` marks an uninstall; the
        person is kept, so reports and past copies still name them."""
        with self._write() as db:
            self._remember(db, platform, person_id, name, email, tz, reference, installed, now)

    def remember_people(self, platform: str, people: Iterable[dict], now: datetime) -> None:
        """Several people at once (a roster page), in one write transaction: each a dict
        with `id` and any of `name`, `email`, `tz`, `reference`."""
        with self._write() as db:
            for person in people:
                self._remember(
                    db,
                    platform,
                    person["id"],
                    person.get("name", ""),
                    person.get("email", ""),
                    person.get("tz"),
                    person.get("reference"),
                    None,
                    now,
                )

    def _remember(
        self, db, platform, person_id, name, email, tz, reference, installed, now
    ) -> None:
        row = db.execute(
            "SELECT name, email, tz, reference FROM people WHERE platform = ? AND id = ?",
            [platform, person_id],
        ).fetchone()
        merged = json.loads(row[3] or "{}") if row else {}
        merged.update(reference or {})
        values = {
            "platform": platform,
            "id": person_id,
            "name": name or (row[0] if row else ""),
            "real_name": name or (row[0] if row else ""),
            "email": email or (row[1] if row else ""),
            "tz": tz or (row[2] if row else ""),
            "reference": json.dumps(merged),
            "conversation_id": merged.get("conversation_id"),
            "updated_at": to_text(now) if now else None,
        }
        db.execute(
            "INSERT INTO people (platform, id, name, real_name, email, tz, deleted, is_bot, reference,"
            " conversation_id, updated_at) VALUES (:platform, :id, :name, :real_name, :email, :tz, 0, 0,"
            " :reference, :conversation_id, :updated_at) ON CONFLICT(platform, id) DO UPDATE SET"
            " name = excluded.name, real_name = excluded.real_name, email = excluded.email,"
            " tz = excluded.tz, reference = excluded.reference,"
            " conversation_id = excluded.conversation_id",
            values,
        )
        if installed is True:
            db.execute(
                "UPDATE people SET deleted = 0, uninstalled_at = NULL WHERE platform = ? AND id = ?",
                [platform, person_id],
            )
        elif installed is False:
            db.execute(
                "UPDATE people SET deleted = 1, uninstalled_at = ? WHERE platform = ? AND id = ?",
                [to_text(now) if now else None, platform, person_id],
            )

    def remember_reference(self, platform: str, person_id: str, reference: dict) -> None:
        self.remember_person(platform, person_id, reference=reference)

    def person_by_conversation(self, platform: str, conversation_id: str) -> dict | None:
        return self._row(
            "SELECT * FROM people WHERE platform = ? AND conversation_id = ?",
            [platform, conversation_id],
        )

    def remember_group(
        self, platform: str, group_id: str, name: str, reference: dict, now: datetime
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO groups (platform, id, handle, name, updated_at, reference) VALUES (?, ?, '', ?, ?, ?)"
                " ON CONFLICT(platform, id) DO UPDATE SET name = excluded.name,"
                " reference = excluded.reference, updated_at = excluded.updated_at",
                [platform, group_id, name, to_text(now), json.dumps(reference)],
            )

    def forget_group(self, platform: str, group_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM groups WHERE platform = ? AND id = ?", [platform, group_id])

    def group(self, platform: str, group_id: str) -> dict | None:
        return self._row("SELECT * FROM groups WHERE platform = ? AND id = ?", [platform, group_id])

    def dm_channel(self, platform: str, person_id: str) -> str | None:
        """A person's DM channel: from any message delivered to them, or learnt on its own."""
        row = self._row(
            "SELECT channel FROM copies WHERE platform = ? AND recipient_id = ? AND channel IS NOT NULL"
            " LIMIT 1",
            [platform, person_id],
        ) or self._row(
            "SELECT dm_channel AS channel FROM people WHERE platform = ? AND id = ?"
            " AND dm_channel IS NOT NULL",
            [platform, person_id],
        )
        return row["channel"] if row else None

    def remember_dm_channel(self, platform: str, person_id: str, channel: str) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO people (platform, id, dm_channel, deleted, is_bot) VALUES (?, ?, ?, 0, 0)"
                " ON CONFLICT(platform, id) DO UPDATE SET dm_channel = excluded.dm_channel",
                [platform, person_id, channel],
            )
