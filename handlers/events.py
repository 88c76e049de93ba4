"""Events API: the App Home, published when opened and after the person acts there."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import SLACK, home


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)


def home_opened(event, client, context):
    if event.get("tab", "home") != "home":
        return
    publish_home(context["core"], client, event["user"])


def publish_home(core, client, user: str) -> None:
    mine = core.answers.home(SLACK, user)
    view = home.home_view(
        role=mine.role,
        awaiting=mine.awaiting,
        unconfirmed=mine.unconfirmed,
        received=mine.received,
        overview=mine.overview,
    )
    client.views_publish(user_id=user, view=view)
