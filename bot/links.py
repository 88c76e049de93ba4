"""Signed report links: `memo report` in Teams answers with one, valid for an hour.

A link names the memo, the person it was issued to and its expiry, and carries
an HMAC of the three under a key made once and kept in the store (loaded once,
not on every download). Anything altered, malformed or expired is refused the
same way (403), never with a 500, and every download is an audit entry naming
the person the link was issued to.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote

LINK_SECONDS = 3600
_PATH = re.compile(r"^/reports/M-([1-9][0-9]{0,11})\.csv$")
_DIGITS = re.compile(r"^[0-9]{1,12}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_ISSUED_TO = re.compile(r"^[a-z]{1,16}:[A-Za-z0-9:@._-]{1,200}$")


@dataclass(frozen=True)
class Download:
    """A valid link: which memo, and to whom the link was issued."""

    memo_id: int
    issued_to: str
    expires: int


class ReportLinks:
    def __init__(self, key: bytes, public_url: str):
        self._key = key
        self._public_url = public_url

    def issue(self, memo_id: int, issued_to: str, now: float) -> str | None:
        """The link for `issued_to` (a "platform:id" principal), or None without PUBLIC_URL."""
        if not self._public_url or not _ISSUED_TO.match(issued_to):
            return None
        expires = int(now) + LINK_SECONDS
        signature = self._sign(memo_id, issued_to, expires)
        return (
            f"{self._public_url}reports/M-{memo_id}.csv"
            f"?to={quote(issued_to, safe=':@')}&expires={expires}&sig={signature}"
        )

    def check(self, path: str, query: str, now: float) -> Download | None:
        """The download a link allows, or None for anything altered, malformed or expired."""
        match = _PATH.match(path)
        if not match or len(query) > 1024:
            return None
        try:
            params = parse_qs(query, strict_parsing=True, max_num_fields=5)
        except ValueError:
            return None
        values = {name: params.get(name, []) for name in ("to", "expires", "sig")}
        if set(params) != set(values) or any(len(v) != 1 for v in values.values()):
            return None
        issued_to, expires, signature = (values[name][0] for name in ("to", "expires", "sig"))
        if not (_ISSUED_TO.match(issued_to) and _DIGITS.match(expires) and _HEX.match(signature)):
            return None
        memo_id = int(match.group(1))
        expected = self._sign(memo_id, issued_to, int(expires))
        if not hmac.compare_digest(signature, expected) or int(expires) < now:
            return None
        return Download(memo_id, issued_to, int(expires))

    def _sign(self, memo_id: int, issued_to: str, expires: int) -> str:
        message = f"{memo_id}\n{issued_to}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()
