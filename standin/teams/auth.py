"""Tokens both ways, signed RS256 with the stand-in's own keys.

Bot -> Teams: the bot gets an access token from the stand-in's Entra-like
token endpoint (client credentials) and sends it as ``Authorization: Bearer``;
the connector checks signature, audience, expiry and ``appid``.

Teams -> bot: every request carries a Bot Framework channel token (issuer
``https://api.botframework.com``, audience = the app id, ``serviceurl`` claim),
verifiable against the JWKS the stand-in serves (with ``endorsements``
naming "msteams", as Bot Framework's keys do).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
BOT_FRAMEWORK_AUDIENCE = "https://api.botframework.com"
BOT_FRAMEWORK_LOGIN_TENANT = "botframework.com"
# Entra's tenant id for botframework.com: multi-tenant bot tokens carry it as tid.
BOT_FRAMEWORK_TENANT_ID = "d6d49420-f39b-4df7-a1dc-d59a935871db"
CHANNEL_TOKEN_LIFETIME = 3600
ACCESS_TOKEN_LIFETIME = 3599

_KEYS: dict[str, rsa.RSAPrivateKey] = {}
_KEYS_LOCK = threading.Lock()


def _shared_key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per name per process (generating one takes tens of ms)."""
    with _KEYS_LOCK:
        key = _KEYS.get(name)
        if key is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _KEYS[name] = key
        return key


def _b64u_int(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(slots=True)
class SigningKey:
    key: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def shared(cls, name: str) -> SigningKey:
        key = _shared_key(name)
        n = key.public_key().public_numbers().n
        digest = hashlib.sha1(n.to_bytes((n.bit_length() + 7) // 8, "big")).digest()
        return cls(key, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("="))

    def jwk(self, endorsements: list[str] | None = None) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        out: dict[str, Any] = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _b64u_int(numbers.n),
            "e": _b64u_int(numbers.e),
        }
        if endorsements is not None:
            out["endorsements"] = list(endorsements)
        return out

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            self.key,
            algorithm="RS256",
            headers={"kid": self.kid, "x5t": self.kid, "typ": "JWT"},
        )


class TokenError(Exception):
    """A token the connector refuses (answered 401)."""


class Authority:
    """Issues and checks the tokens of one stand-in."""

    def __init__(self, *, app_id: str, app_password: str, tenant_id: str, key_name: str = "teams"):
        self.app_id = app_id
        self.app_password = app_password
        self.tenant_id = tenant_id
        self.key = SigningKey.shared(key_name)
        self.foreign_key = None  # lazily: a key that is not in the JWKS
        self.access_token_lifetime = ACCESS_TOKEN_LIFETIME
        self.channel_token_lifetime = CHANNEL_TOKEN_LIFETIME
        self._verified: dict[str, float] = {}  # access token -> exp (cache of good tokens)
        self._channel_cache: dict[tuple[str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.issued = 0

    # --------------------------------------------------------------- JWKS
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.jwk(endorsements=["msteams", "webchat", "emulator"])]}

    # --------------------------------------------------------- bot -> Teams
    def token_request(self, tenant: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST /{tenant}/oauth2/v2.0/token (client credentials), Entra's answers."""
        grant = form.get("grant_type")
        client_id = form.get("client_id", "")
        secret = form.get("client_secret")
        scope = form.get("scope", "")
        trace = secrets.token_hex(16)
        if tenant not in (BOT_FRAMEWORK_LOGIN_TENANT, self.tenant_id, "common", "organizations"):
            return 400, _aad_error(
                "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.", 90002, trace
            )
        if grant != "client_credentials":
            return 400, _aad_error(
                "unsupported_grant_type",
                "AADSTS70003: The app requested an unsupported grant type "
                f"'{grant}'. Supported here: client_credentials.",
                70003,
                trace,
            )
        if client_id != self.app_id:
            return 400, _aad_error(
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found "
                f"in the directory '{tenant}'.",
                700016,
                trace,
            )
        if secret != self.app_password:
            return 401, _aad_error(
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
                f"in the request is the client secret value, not the client secret ID, for a "
                f"secret added to app '{self.app_id}'.",
                7000215,
                trace,
            )
        if scope.split() != [BOT_FRAMEWORK_SCOPE]:
            return 400, _aad_error(
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope {scope} is not valid. Client "
                "credential flows must have a scope value with /.default suffixed to the "
                f"resource identifier (here: {BOT_FRAMEWORK_SCOPE}).",
                1002012,
                trace,
            )
        token = self.access_token(tenant=tenant)
        return 200, {
            "token_type": "Bearer",
            "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime,
            "access_token": token,
        }

    def access_token(
        self,
        *,
        tenant: str | None = None,
        app_id: str | None = None,
        audience: str = BOT_FRAMEWORK_AUDIENCE,
        expires_in: float | None = None,
        foreign: bool = False,
        **extra: Any,
    ) -> str:
        """An Entra-style app token for the Bot Connector (what the token endpoint issues)."""
        now = int(time.time())
        tid = BOT_FRAMEWORK_TENANT_ID if tenant in (None, BOT_FRAMEWORK_LOGIN_TENANT) else tenant
        if tenant in ("common", "organizations"):
            tid = self.tenant_id
        life = self.access_token_lifetime if expires_in is None else expires_in
        claims = {
            "aud": audience,
            "iss": f"https://sts.windows.net/{tid}/",
            "iat": now - 300,
            "nbf": now - 300,
            "exp": int(now + life),
            "aio": secrets.token_urlsafe(24),
            "appid": app_id if app_id is not None else self.app_id,
            "appidacr": "1",
            "idp": f"https://sts.windows.net/{tid}/",
            "idtyp": "app",
            "oid": self.app_id,
            "sub": self.app_id,
            "tid": tid,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
            **extra,
        }
        with self._lock:
            self.issued += 1
        return self._foreign().sign(claims) if foreign else self.key.sign(claims)

    def check_access_token(self, header: str | None) -> None:
        """Raise TokenError unless ``header`` is 'Bearer <a valid token we issued>'."""
        if not header:
            raise TokenError("Authorization header is missing")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise TokenError("Authorization is not a Bearer token")
        now = time.time()
        exp = self._verified.get(token)
        if exp is not None:
            if exp > now:
                return
            raise TokenError("token expired")
        try:
            claims = jwt.decode(
                token,
                self.key.key.public_key(),
                algorithms=["RS256"],
                audience=BOT_FRAMEWORK_AUDIENCE,
                options={"require": ["exp", "aud", "iss"]},
            )
        except jwt.PyJWTError as e:
            raise TokenError(f"invalid token: {e}") from None
        if claims.get("appid") != self.app_id:
            raise TokenError(f"token is for app {claims.get('appid')!r}")
        if not str(claims.get("iss", "")).startswith("https://sts.windows.net/"):
            raise TokenError("token issuer is not Entra")
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[token] = float(claims["exp"])

    # --------------------------------------------------------- Teams -> bot
    def channel_token(
        self,
        service_url: str,
        *,
        audience: str | None = None,
        issuer: str = BOT_FRAMEWORK_ISSUER,
        expires_in: float | None = None,
        not_before: float | None = None,
        foreign: bool = False,
        omit: tuple[str, ...] = (),
        **extra: Any,
    ) -> str:
        """A Bot Framework channel token. Defaults give what Teams sends; override to forge."""
        default = (
            audience is None
            and issuer == BOT_FRAMEWORK_ISSUER
            and expires_in is None
            and not_before is None
            and not foreign
            and not omit
            and not extra
        )
        now = time.time()
        aud = self.app_id if audience is None else audience
        if default:
            with self._lock:
                cached = self._channel_cache.get((aud, service_url))
            if cached is not None and cached[1] - now > 300:
                return cached[0]
        life = self.channel_token_lifetime if expires_in is None else expires_in
        claims: dict[str, Any] = {
            "serviceurl": service_url,
            "nbf": int(now - 5 if not_before is None else not_before),
            "exp": int(now + life),
            "iss": issuer,
            "aud": aud,
            **extra,
        }
        for name in omit:
            claims.pop(name, None)
        token = self._foreign().sign(claims) if foreign else self.key.sign(claims)
        if default:
            with self._lock:
                self._channel_cache[(aud, service_url)] = (token, now + life)
        return token

    def _foreign(self) -> SigningKey:
        if self.foreign_key is None:
            self.foreign_key = SigningKey.shared("teams-foreign")
        return self.foreign_key


def _aad_error(error: str, description: str, code: int, trace: str) -> dict[str, Any]:
    ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return {
        "error": error,
        "error_description": f"{description} Trace ID: {trace} Correlation ID: "
        f"{secrets.token_hex(16)} Timestamp: {ts}",
        "error_codes": [code],
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": secrets.token_hex(16),
    }
