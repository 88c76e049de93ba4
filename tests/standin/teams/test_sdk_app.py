"""A real microsoft_teams.apps.App (FastAPI + uvicorn, auth on) against the stand-in: the
stand-in's JWT passes the App's inbound check, the App's token provider gets tokens from the
stand-in, the App's replies and card answers land where Teams would put them."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import pytest
import uvicorn
from microsoft_teams.api.models import AdaptiveCardActionCardResponse
from microsoft_teams.apps import App
from microsoft_teams.apps.http import FastAPIAdapter
from microsoft_teams.cards import AdaptiveCard, ExecuteAction, TextBlock

from standin.teams import StandInTeams, generate_teams_directory


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sdk_app():
    logging.getLogger("microsoft_teams").setLevel(logging.ERROR)
    teams = StandInTeams(generate_teams_directory(people=8, teams=1, seed=4)).start()
    port = free_port()
    teams.bot_url = f"http://127.0.0.1:{port}"

    def server(fastapi):
        return uvicorn.Server(
            uvicorn.Config(app=fastapi, host="127.0.0.1", port=port, log_level="warning")
        )

    app = App(
        client_id=teams.app_id,
        token=teams.token_provider(),  # outbound: TokenCredentials with the stand-in's endpoint
        cloud=teams.cloud_environment(),  # inbound: JWKS at the stand-in's /v1/.well-known/keys
        service_url=teams.service_url,
        http_server_adapter=FastAPIAdapter(server_factory=server),
    )

    @app.on_message
    async def on_message(ctx):
        await ctx.send(
            AdaptiveCard(
                version="1.5",
                body=[TextBlock(text=f"You said {ctx.activity.text}")],
                actions=[ExecuteAction(title="Acknowledge", verb="ack", data={"memo": "M-1"})],
            )
        )

    @app.on_card_action
    async def on_card_action(ctx):
        verb = ctx.activity.value.action.verb
        return AdaptiveCardActionCardResponse(
            value=AdaptiveCard(version="1.5", body=[TextBlock(text=f"Done: {verb}")])
        )

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(app.start(port)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while True:  # poll until uvicorn listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    yield teams, app, loop
    asyncio.run_coroutine_threadsafe(app.stop(), loop).result(5)
    thread.join(timeout=5)
    teams.stop()


def test_a_teams_sdk_app_runs_against_the_stand_in_with_auth_on(sdk_app):
    teams, app, loop = sdk_app
    person = teams.directory.installed()[0]
    assert teams.install(person).ok
    assert teams.message(person, "hello").ok
    [card] = teams.chat(person)
    assert card.content() == "You said hello\nAcknowledge"
    reply = teams.invoke_action(person, card, "Acknowledge")
    assert reply.outcome == "card_replaced"
    assert teams.chat(person)[0].card_on_device(person.id)["body"][0]["text"] == "Done: ack"
    sent = asyncio.run_coroutine_threadsafe(
        app.send(teams.conversation_of(person), "A proactive notice"), loop
    ).result(5)
    assert teams.chat(person)[-1].id == sent.id
    forged = dict(reply.request, id="forged-1")
    assert teams.send_activity(forged, token=teams.channel_token(foreign=True)).status == 401
    assert teams.send_activity(forged, token="").status == 401
    assert {c.method for c in teams.calls()} == {"token", "activities.send"}
    assert all(c.status in (200, 201) for c in teams.calls())
