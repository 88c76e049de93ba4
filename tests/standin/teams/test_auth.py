"""Tokens both ways: the token endpoint, the connector's check, and the JWT Teams sends."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
import pytest

from tests.standin.teams.conftest import APP_ID, APP_PASSWORD


def post_form(url: str, form: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode())
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


GOOD = {
    "grant_type": "client_credentials",
    "client_id": APP_ID,
    "client_secret": APP_PASSWORD,
    "scope": "https://api.botframework.com/.default",
}


def test_token_endpoint_issues_a_bot_framework_token(teams):
    status, body = post_form(teams.token_url, GOOD)
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == "https://api.botframework.com" and claims["appid"] == APP_ID
    # single-tenant apps ask their own tenant
    status, _ = post_form(f"{teams.url}/{teams.tenant_id}/oauth2/v2.0/token", GOOD)
    assert status == 200


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 400, "unauthorized_client"),
        ({"scope": "https://graph.microsoft.com/.default"}, 400, "invalid_scope"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
def test_token_endpoint_refuses_like_entra(teams, change, status, error):
    got_status, body = post_form(teams.token_url, {**GOOD, **change})
    assert (got_status, body["error"]) == (status, error)
    assert body["error_description"].startswith("AADSTS")


def test_connector_requires_a_token_it_issued(teams, connector):
    p = teams.directory.installed()[0]
    body = {"members": [{"id": p.id}], "tenantId": teams.tenant_id}
    assert connector.call("POST", "v3/conversations", body).status == 201
    forged = [
        "",  # none
        "not-a-jwt",
        teams.access_token(foreign=True),
        teams.access_token(expires_in=-60),
        teams.access_token(app_id="another-app"),
        teams.access_token(audience="https://graph.microsoft.com"),
    ]
    for token in forged:
        ans = connector.call("POST", "v3/conversations", body, token=token)
        assert ans.status == 401, token
        assert ans.json()["message"] == "Authorization has been denied for this request."
    assert [c.status for c in teams.calls("conversations.create")] == [201] + [401] * len(forged)


def test_teams_requests_carry_a_jwt_verifiable_against_the_served_jwks(teams, bot):
    meta = get_json(teams.openid_metadata_url)
    assert meta["issuer"] == "https://api.botframework.com"
    assert meta["jwks_uri"] == teams.jwks_url
    keys = get_json(meta["jwks_uri"])["keys"]
    assert "msteams" in keys[0]["endorsements"]
    p = teams.directory.installed()[0]
    teams.install(p)
    req = bot.requests[0]
    scheme, token = req.headers["authorization"].split(" ", 1)
    assert scheme == "Bearer"
    key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=APP_ID,
        issuer="https://api.botframework.com",
    )
    assert claims["serviceurl"] == req.json()["serviceUrl"] == teams.service_url
    assert claims["nbf"] <= time.time() < claims["exp"]
    assert req.headers["x-ms-tenant-id"] == teams.tenant_id
    assert req.headers["x-ms-conversation-id"] == teams.conversation_of(p)


def test_forged_tokens_for_negative_tests(teams, bot):
    p = teams.directory.installed()[0]
    activity = {
        "type": "message",
        "text": "hi",
        "serviceUrl": teams.service_url,
        "channelId": "msteams",
        "from": p.to_account(),
        "conversation": {"id": "a:1x", "conversationType": "personal"},
        "recipient": {"id": teams.bot_id},
    }
    key = jwt.PyJWKClient(teams.jwks_url)
    for token, expect in [
        (teams.channel_token(audience="other-app"), jwt.InvalidAudienceError),
        (teams.channel_token(expires_in=-600), jwt.ExpiredSignatureError),
        (teams.channel_token(issuer="https://evil.example"), jwt.InvalidIssuerError),
    ]:
        teams.send_activity(activity, token=token)
        sent = bot.last().headers["authorization"].split(" ", 1)[1]
        assert sent == token
        with pytest.raises(expect):
            jwt.decode(
                sent,
                key.get_signing_key_from_jwt(sent).key,
                algorithms=["RS256"],
                audience=APP_ID,
                issuer="https://api.botframework.com",
            )
    teams.send_activity(activity, token=teams.channel_token(foreign=True))
    with pytest.raises(jwt.PyJWKClientError):
        key.get_signing_key_from_jwt(bot.last().headers["authorization"].split(" ", 1)[1])
    teams.send_activity(activity, token="")
    assert "authorization" not in bot.last().headers
