"""Events API: the App Home, published when opened and after the person acts there."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import blocks

SLACK = "slack"


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)


def home_opened(event, client, context):
    if event.get("tab", "home") != "home":
        return
    publish_home(context["core"], client, event["user"])


def publish_home(core, client, user: str) -> None:
    store = core.store
    role = core.role(SLACK, user)
    view = blocks.home_view(
        role=role,
        awaiting=store.awaiting_acknowledgement(SLACK, user),
        unconfirmed=store.unconfirmed_notices(SLACK, user),
        received=store.memos_received_by(SLACK, user),
        overview=core.overview() if core.may_oversee(SLACK, user) else None,
    )
    client.views_publish(user_id=user, view=view)
