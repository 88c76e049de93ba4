"""Shortcuts: "Retract memo" on a memo's status message."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    pass
