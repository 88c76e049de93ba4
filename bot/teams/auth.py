"""Bot Framework authentication, both ways, for one single-tenant bot.

Outbound (bot -> Bot Connector): `AppTokens` gets the bot's access token by
client credentials from Entra, `{login_endpoint}/{TEAMS_TENANT_ID}/oauth2/v2.0/token`
(the tenant the Teams SDK itself uses for a single-tenant bot), caches it until
five minutes before it expires, fetches one at a time, and hands it to the
SDK's `ApiClient` as its token provider. Not MSAL (which the SDK's
`TokenManager` uses): MSAL refuses any authority that is not https and
validates an unknown authority host against login.microsoftonline.com, so an
overridden `TEAMS_LOGIN_ENDPOINT` (a sovereign cloud's proxy, the stand-in
Teams in tests, the demo and the benchmarks) could not work through it, and
the tests would have to turn authentication off, which no setting may do.

Inbound (Teams -> bot): `InboundAuth.verify` checks the channel's JWT in the
calling thread (a web server worker), never on the SDK's event loop (the SDK's
validator fetches keys with a blocking call on that loop, which stalled every
Teams send). Cheap checks come first, before any key is fetched: the size,
the algorithm, the issuer (the cloud's Bot Framework issuer only) and the
tenant. Keys come from the cloud's OpenID metadata, cached a day and
refreshed for an unknown key at most once a minute, one fetch at a time.
`InboundAuth.admit` then decides whether a verified activity may be acted on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

import httpx
import jwt
from jwt.algorithms import RSAAlgorithm
from microsoft_teams.api.auth.cloud_environment import (
    CloudEnvironment,
    from_name,
    with_overrides,
)

from bot.logs import escape

log = logging.getLogger(__name__)

CHANNEL = "msteams"
MAX_TOKEN_BYTES = 16 * 1024
LEEWAY_SECONDS = 300
KEYS_TTL_SECONDS = 24 * 3600
KEYS_REFRESH_SECONDS = 60.0  # an unknown kid refetches the keys at most this often
KEYS_RETRY_SECONDS = 5.0  # while no key at all is known (e.g. the first fetch failed)
FETCH_TIMEOUT = 5.0
TOKEN_TIMEOUT = 10.0
TOKEN_MARGIN_SECONDS = 300


def cloud_of(settings) -> CloudEnvironment:
    """The Microsoft endpoints for `TEAMS_CLOUD`, with any single endpoint overridden."""
    return with_overrides(
        from_name(settings.teams_cloud),
        login_endpoint=settings.teams_login_endpoint or None,
        openid_metadata_url=settings.teams_openid_metadata_url or None,
        token_issuer=settings.teams_token_issuer or None,
    )


class TokenError(Exception):
    """The bot could not get its access token (the message says why, never the secret)."""


# ------------------------------------------------------------------ outbound


class AppTokens:
    """The bot's own access token for the Bot Connector (client credentials).

    Fits the SDK's token-provider protocol (`get_app_token`); the scope and
    tenant the SDK passes are ignored: this bot has one scope (the cloud's
    Bot Framework scope) and one tenant.
    """

    def __init__(
        self,
        *,
        cloud: CloudEnvironment,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        timeout: float = TOKEN_TIMEOUT,
        margin: float = TOKEN_MARGIN_SECONDS,
    ):
        self.url = f"{cloud.login_endpoint.rstrip('/')}/{tenant_id}/oauth2/v2.0/token"
        self.scope = cloud.bot_scope
        self._client_id = client_id
        self._client_secret = client_secret
        self.timeout = timeout
        self.margin = margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0
        self.fetches = 0

    def _fresh(self) -> str | None:
        token = self._token
        return token if token is not None and time.monotonic() < self._refresh_at else None

    def token(self) -> str:
        """A valid access token: the cached one, or a new one (one fetch at a time)."""
        token = self._fresh()
        if token is not None:
            return token
        with self._lock:
            token = self._fresh()
            if token is not None:
                return token
            token, lifetime = self._fetch()
            # Renew ~5 minutes before expiry (half-way for a short-lived token).
            ahead = self.margin if lifetime > 2 * self.margin else lifetime / 2
            self._token, self._refresh_at = token, time.monotonic() + max(0.0, lifetime - ahead)
            return token

    def _fetch(self) -> tuple[str, float]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "scope": self.scope,
        }
        self.fetches += 1
        try:
            response = httpx.post(self.url, data=form, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise TokenError(
                f"token endpoint {self.url} unreachable ({type(exc).__name__})"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            codes = body.get("error_codes") if isinstance(body, dict) else None
            raise TokenError(
                f"token endpoint {self.url} answered {response.status_code}"
                + (f": {escape(error)}" if error else "")
                + (f" (AADSTS{escape(codes[0])})" if isinstance(codes, list) and codes else "")
            )
        token = body.get("access_token")
        try:
            lifetime = float(body.get("expires_in", 0))
        except (TypeError, ValueError):
            lifetime = 0.0
        if not isinstance(token, str) or not token or lifetime <= 0:
            raise TokenError(f"token endpoint {self.url} gave no usable token")
        return token, lifetime

    # The SDK's token-provider protocol: never block its event loop on a fetch.
    async def get_app_token(self, scope: str | None = None, tenant_id: str | None = None) -> str:
        token = self._fresh()
        if token is not None:
            return token
        return await asyncio.to_thread(self.token)


# ------------------------------------------------------------------ inbound


class _Refused(Exception):
    """Why a token was refused (for the log; the caller only sees None)."""


class KeySet:
    """The Bot Framework's signing keys (OpenID metadata -> jwks_uri), cached."""

    def __init__(
        self,
        metadata_url: str,
        *,
        timeout: float = FETCH_TIMEOUT,
        ttl: float = KEYS_TTL_SECONDS,
        refresh_every: float = KEYS_REFRESH_SECONDS,
    ):
        self.metadata_url = metadata_url
        self.timeout = timeout
        self.ttl = ttl
        self.refresh_every = refresh_every
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = float("-inf")
        self._tried_at = float("-inf")
        self._lock = threading.Lock()
        self.fetches = 0

    def key(self, kid: str) -> dict[str, Any] | None:
        """The JWK with this kid, or None. A known, fresh key costs no lock."""
        now = time.monotonic()
        found = self._keys.get(kid)
        if found is not None and now - self._fetched_at < self.ttl:
            return found
        with self._lock:  # single flight: one fetch, the others wait for its result
            now = time.monotonic()
            found = self._keys.get(kid)
            if found is not None and now - self._fetched_at < self.ttl:
                return found
            pause = self.refresh_every if self._keys else KEYS_RETRY_SECONDS
            if now - self._tried_at < pause:
                return found  # refreshed a moment ago: an unknown kid stays unknown
            self._tried_at = now
            try:
                self._keys = self._fetch()
                self._fetched_at = time.monotonic()
            except Exception as exc:  # keep the keys we had; refuse what they cannot check
                log.warning(
                    "Bot Framework keys could not be fetched from %s: %s",
                    self.metadata_url,
                    escape(f"{type(exc).__name__}: {exc}")[:300],
                )
            return self._keys.get(kid)

    def _fetch(self) -> dict[str, dict[str, Any]]:
        self.fetches += 1
        metadata = httpx.get(self.metadata_url, timeout=self.timeout)
        metadata.raise_for_status()
        jwks_uri = metadata.json().get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("OpenID metadata has no jwks_uri")
        keys = httpx.get(jwks_uri, timeout=self.timeout)
        keys.raise_for_status()
        found = {}
        for jwk in keys.json().get("keys") or []:
            if (
                isinstance(jwk, dict)
                and jwk.get("kty") == "RSA"
                and isinstance(jwk.get("kid"), str)
            ):
                found[jwk["kid"]] = jwk
        if not found:
            raise ValueError("the JWKS has no RSA key")
        return found


class InboundAuth:
    """Checks the Bot Framework JWT on each request from Teams, and the activity it carries."""

    def __init__(
        self,
        *,
        app_id: str,
        tenant_id: str,
        cloud: CloudEnvironment,
        channel: str = CHANNEL,
        keys: KeySet | None = None,
    ):
        self.app_id = app_id
        self.tenant_id = tenant_id.lower()
        self.issuer = cloud.token_issuer
        self.channel = channel
        self.audiences = [app_id, f"api://{app_id}", f"api://botid-{app_id}"]
        self.keys = keys or KeySet(cloud.openid_metadata_url)

    def verify(self, authorization_header: str) -> dict | None:
        """The token's claims when it is a valid Bot Framework token for this bot; else None.
        Never raises."""
        try:
            return self._verify(authorization_header)
        except _Refused as exc:
            log.warning("Teams request refused: %s", escape(exc)[:300])
        except jwt.PyJWTError as exc:
            log.warning("Teams request refused: %s", escape(f"{type(exc).__name__}: {exc}")[:300])
        except Exception:
            log.warning("Teams request refused: the token could not be checked", exc_info=True)
        return None

    def _verify(self, header: str) -> dict:
        if not isinstance(header, str) or not header:
            raise _Refused("no Authorization header")
        if len(header) > MAX_TOKEN_BYTES + 16:
            raise _Refused("token too large")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise _Refused("not a Bearer token")
        head = jwt.get_unverified_header(token)
        if head.get("alg") != "RS256":
            raise _Refused(f"algorithm {head.get('alg')!r} is not RS256")
        kid = head.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 200:
            raise _Refused(f"unusable key id {kid!r}")
        unverified = jwt.decode(token, options={"verify_signature": False})
        # Only the Bot Framework's own issuer. Entra tokens (sts.windows.net/{tid}/,
        # login.microsoftonline.com/{tid}/v2.0) and Agent 365 tokens are refused here,
        # before any key is fetched: honouring them would make the bot fetch keys for
        # whatever tenant a stranger names, and this bot is not an agent.
        if unverified.get("iss") != self.issuer:
            raise _Refused(f"issuer {unverified.get('iss')!r} is not {self.issuer}")
        tid = unverified.get("tid")
        if tid is not None and str(tid).lower() != self.tenant_id:
            raise _Refused(f"token for tenant {tid!r}")
        jwk = self.keys.key(kid)
        if jwk is None:
            raise _Refused(f"unknown signing key {kid!r}")
        endorsements = jwk.get("endorsements")
        if endorsements is not None and self.channel not in endorsements:
            raise _Refused(f"key {kid!r} is not endorsed for {self.channel}")
        public = RSAAlgorithm.from_jwk(json.dumps(jwk))
        return jwt.decode(
            token,
            public,
            algorithms=["RS256"],
            audience=self.audiences,
            issuer=self.issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"]},
        )

    def admit(self, claims: dict, activity: dict) -> str | None:
        """None when this verified activity may be acted on, else a short reason."""
        claimed = claims.get("serviceurl")
        service_url = activity.get("serviceUrl")
        if (
            not isinstance(claimed, str)
            or not isinstance(service_url, str)
            or claimed.rstrip("/") != service_url.rstrip("/")
        ):
            return "serviceUrl does not match the token's serviceurl claim"
        if activity.get("channelId") != self.channel:
            return f"channel {activity.get('channelId')!r} is not {self.channel}"
        channel_data = activity.get("channelData")
        tenant = channel_data.get("tenant") if isinstance(channel_data, dict) else None
        conversation = activity.get("conversation")
        named = [
            tenant.get("id") if isinstance(tenant, dict) else None,
            conversation.get("tenantId") if isinstance(conversation, dict) else None,
        ]
        named = [t for t in named if t is not None]
        if not named or any(not isinstance(t, str) or t.lower() != self.tenant_id for t in named):
            return f"tenant {named!r} is not ours"
        if activity.get("type") in ("message", "invoke"):
            sender = activity.get("from")
            aad = sender.get("aadObjectId") if isinstance(sender, dict) else None
            if not isinstance(aad, str) or not aad:
                return "the sender has no aadObjectId"
        return None
