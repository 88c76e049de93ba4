"""A real bolt App served over HTTP against the stand-in: bolt must accept everything we send
(signatures, payload shapes, auth.test at start) and be happy with what we answer (respond())."""

from __future__ import annotations

import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from tests.standin.conftest import SECRET, TOKEN


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def build_app(slack) -> App:
    app = App(client=WebClient(token=TOKEN, base_url=slack.api_url), signing_secret=SECRET)

    @app.command("/memo")
    def memo(ack, body, client):
        ack()
        client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "compose",
                "title": {"type": "plain_text", "text": "New memo"},
                "submit": {"type": "plain_text", "text": "Send"},
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "title",
                        "label": {"type": "plain_text", "text": "Title"},
                        "element": {"type": "plain_text_input", "action_id": "v"},
                    },
                    {
                        "type": "input",
                        "block_id": "people",
                        "optional": True,
                        "label": {"type": "plain_text", "text": "People"},
                        "element": {"type": "multi_users_select", "action_id": "v"},
                    },
                ],
            },
        )

    @app.view("compose")
    def compose(ack, view, client):
        values = view["state"]["values"]
        people = values["people"]["v"]["selected_users"]
        if not people:
            ack(response_action="errors", errors={"people": "Choose at least one person"})
            return
        ack()
        title = values["title"]["v"]["value"]
        for person in people:
            client.chat_postMessage(
                channel=person,
                text=title,
                blocks=[
                    {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*"}},
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "Acknowledge"},
                                "action_id": "ack",
                                "value": title,
                            }
                        ],
                    },
                ],
            )

    @app.action("ack")
    def acknowledge(ack, respond, body):
        ack()
        respond(replace_original=True, text=f"Acknowledged by <@{body['user']['id']}>")

    @app.command("/hello")
    def hello(ack):
        ack("Hi there")

    @app.event("app_home_opened")
    def home(event, client):
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Welcome home"}}],
            },
        )

    return app


@pytest.fixture
def bolt_bot(slack):
    app = build_app(slack)
    server = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), server_class=_Threading, handler_class=_Quiet
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    slack.bot_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield app
    server.shutdown()
    server.server_close()


def test_a_bolt_app_runs_the_whole_story_against_the_stand_in(slack, bolt_bot, humans):
    comms, alice, bob = humans[:3]
    assert slack.calls("auth.test")  # bolt checked the token at start

    assert slack.command(comms, "/memo").status == 200
    slack.wait_for(lambda: slack.open_views(comms))
    refused = slack.submit_view(comms, {"Title": "Delete the app"})
    assert refused.errors_by_label == {"People": "Choose at least one person"}
    assert (
        slack.submit_view(comms, {"Title": "Delete the app", "People": [alice, bob]}).status == 200
    )
    assert slack.open_views(comms) == []
    slack.wait_for(lambda: slack.dm(alice) and slack.dm(bob))

    copy = slack.dm(alice)[0]
    assert copy.buttons()[0]["text"] == "Acknowledge" and "*Delete the app*" in copy.content()
    assert slack.click(alice, copy, "Acknowledge").status == 200
    slack.wait_for(lambda: slack.dm(alice)[0].edits)
    assert (
        slack.dm(alice)[0].text == f"Acknowledged by <@{alice}>"
        and slack.dm(alice)[0].buttons() == []
    )
    assert slack.dm(bob)[0].buttons()  # bob's copy is untouched

    slack.command(bob, "/hello")
    assert slack.ephemerals(bob)[-1].text == "Hi there"

    slack.open_home(bob)
    slack.wait_for(lambda: slack.home(bob))
    assert slack.home(bob)["blocks"][0]["text"]["text"] == "Welcome home"


def test_bolt_rejects_forged_and_stale_requests_from_the_stand_in(slack, bolt_bot, humans):
    body = f"command=%2Fhello&user_id={humans[0]}&team_id={slack.team_id}&text="
    forged = slack.post_raw(
        body,
        {"Content-Type": "application/x-www-form-urlencoded", **slack.sign(body, secret="wrong")},
    )
    assert forged.status == 401
    stale = slack.post_raw(
        body,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            **slack.sign(body, timestamp=1_000_000_000),
        },
    )
    assert stale.status == 401
    good = slack.post_raw(
        body, {"Content-Type": "application/x-www-form-urlencoded", **slack.sign(body)}
    )
    assert good.status == 200 and good.body == "Hi there"
