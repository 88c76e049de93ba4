"""Slack listeners, one module per surface; each binds its IDs in `register(app)`."""

from slack_bolt import App

from handlers import actions, channels, commands, events, shortcuts, views


def register(app: App) -> None:
    commands.register(app)
    views.register(app)
    actions.register(app)
    shortcuts.register(app)
    channels.register(app)
    events.register(app)
