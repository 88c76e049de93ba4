"""Slack's published Web API rate limits as token buckets, with a time scale.

Limits are per method per workspace; chat.postMessage is special: about one
message per second per channel (with a small burst) and a workspace-wide cap.
Each bucket holds about ``burst_seconds`` worth of its rate (at least one
token) and starts full. ``time_scale`` multiplies every rate: at 20, a Tier 3
method allows 50 * 20 calls per real minute.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

TIER_1 = 1
TIER_2 = 20
TIER_3 = 50
TIER_4 = 100

# Calls per minute, per method, per workspace (SLACK_FACTS §1).
DEFAULT_LIMITS: dict[str, float | None] = {
    "auth.test": 600,
    "chat.getPermalink": 600,
    "users.list": TIER_2,
    "usergroups.list": TIER_2,
    "usergroups.users.list": TIER_2,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "conversations.open": TIER_3,
    "conversations.history": TIER_3,
    "conversations.info": TIER_3,
    "users.info": TIER_4,
    "conversations.members": TIER_4,
    "chat.postEphemeral": TIER_4,
    "views.open": TIER_4,
    "views.update": TIER_4,
    "views.push": TIER_4,
    "views.publish": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    # chat.postMessage: this is the per-channel rate; the workspace cap is post_per_minute.
    "chat.postMessage": 60,
}
POST_PER_CHANNEL_BURST = 3.0
DEFAULT_BURST_SECONDS = 5.0


class TokenBucket:
    """Not locked: the owning RateLimiter holds its lock around every use."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate_per_second: float, capacity: float, now: float):
        self.rate = rate_per_second
        self.capacity = max(1.0, capacity)
        self.tokens = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self) -> float:
        """Seconds until one token is available (0 when one is)."""
        if self.tokens >= 1.0 - 1e-9:
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # real seconds


class RateLimiter:
    """Thread-safe token buckets per method (and per channel for chat.postMessage)."""

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        post_per_minute: float | None = 300,
        limits: dict[str, float | None] | None = None,
        burst_seconds: float = DEFAULT_BURST_SECONDS,
        post_channel_burst: float = POST_PER_CHANNEL_BURST,
        clock=time.monotonic,
    ):
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.time_scale = float(time_scale)
        self.burst_seconds = float(burst_seconds)
        self.post_channel_burst = float(post_channel_burst)
        self.clock = clock
        self.enabled = True
        # None: integer Retry-After at time_scale 1, decimal otherwise (see format_retry_after).
        self.integer_retry_after: bool | None = None
        self._lock = threading.Lock()
        self._limits: dict[str, float | None] = dict(DEFAULT_LIMITS)
        self._post_per_minute = post_per_minute
        self._default: float | None = None  # methods not in the table: unlimited
        if limits:
            for method, per_minute in limits.items():
                if method == "*":
                    self._default = per_minute
                    for m in list(self._limits):
                        self._limits[m] = per_minute
                else:
                    self._limits[method] = per_minute
        self._buckets: dict[str, TokenBucket] = {}
        self._channel_buckets: dict[str, TokenBucket] = {}
        self._workspace_post: TokenBucket | None = None

    # ------------------------------------------------------------ configuration
    def per_minute(self, method: str) -> float | None:
        return self._limits.get(method, self._default)

    def set(self, method: str, per_minute: float | None) -> None:
        """Change one method's limit (None = unlimited); resets its buckets."""
        with self._lock:
            if method == "chat.postMessage.workspace":
                self._post_per_minute = per_minute
                self._workspace_post = None
                return
            self._limits[method] = per_minute
            self._buckets.pop(method, None)
            if method == "chat.postMessage":
                self._channel_buckets.clear()

    def set_post_per_minute(self, per_minute: float | None) -> None:
        self.set("chat.postMessage.workspace", per_minute)

    @property
    def post_per_minute(self) -> float | None:
        return self._post_per_minute

    def reset(self) -> None:
        """Refill every bucket."""
        with self._lock:
            self._buckets.clear()
            self._channel_buckets.clear()
            self._workspace_post = None

    def ceiling_per_second(self, method: str, *, per_channel: bool = False) -> float:
        """Steady-state calls per real second allowed for ``method`` (inf if unlimited).

        For chat.postMessage this is the workspace-wide cap (what a fan-out to
        many DMs runs into); ``per_channel=True`` gives the one-channel rate.
        """
        if not self.enabled:
            return math.inf
        if method == "chat.postMessage" and not per_channel:
            ppm = self._post_per_minute
            if ppm is None:
                return math.inf
            return ppm / 60.0 * self.time_scale
        per_minute = self.per_minute(method)
        if per_minute is None:
            return math.inf
        return per_minute / 60.0 * self.time_scale

    def burst(self, method: str, *, per_channel: bool = False) -> float:
        """How many calls a full bucket lets through at once (inf if unlimited).

        For chat.postMessage: the workspace bucket (``per_channel=True``: one
        channel's bucket). A client hammering for T seconds gets about
        ``burst + ceiling_per_second * T`` calls accepted.
        """
        if not self.enabled:
            return math.inf
        if method == "chat.postMessage":
            if per_channel:
                return (
                    math.inf
                    if self.per_minute(method) is None
                    else max(1.0, self.post_channel_burst)
                )
            ppm = self._post_per_minute
            return math.inf if ppm is None else self._capacity(ppm)
        per_minute = self.per_minute(method)
        return math.inf if per_minute is None else self._capacity(per_minute)

    def _capacity(self, per_minute: float) -> float:
        return max(1.0, per_minute / 60.0 * self.burst_seconds)

    def _bucket(
        self,
        table: dict[str, TokenBucket],
        key: str,
        per_minute: float,
        capacity: float,
        now: float,
    ) -> TokenBucket:
        b = table.get(key)
        if b is None:
            b = TokenBucket(per_minute / 60.0 * self.time_scale, capacity, now)
            table[key] = b
        else:
            b.refill(now)
        return b

    # ------------------------------------------------------------------- checks
    def check(self, method: str, channel: str | None = None) -> Decision:
        """Take a token for one call of ``method`` or say how long to wait."""
        if not self.enabled:
            return Decision(True)
        now = self.clock()
        with self._lock:
            if method == "chat.postMessage":
                buckets: list[TokenBucket] = []
                per_channel = self.per_minute("chat.postMessage")
                if per_channel is not None and channel is not None:
                    buckets.append(
                        self._bucket(
                            self._channel_buckets,
                            channel,
                            per_channel,
                            max(1.0, self.post_channel_burst),
                            now,
                        )
                    )
                ppm = self._post_per_minute
                if ppm is not None:
                    if self._workspace_post is None:
                        self._workspace_post = TokenBucket(
                            ppm / 60.0 * self.time_scale, self._capacity(ppm), now
                        )
                    else:
                        self._workspace_post.refill(now)
                    buckets.append(self._workspace_post)
            else:
                per_minute = self.per_minute(method)
                if per_minute is None:
                    return Decision(True)
                buckets = [
                    self._bucket(self._buckets, method, per_minute, self._capacity(per_minute), now)
                ]
            wait = max((b.wait() for b in buckets), default=0.0)
            if wait > 0:
                return Decision(False, wait)
            for b in buckets:
                b.tokens = max(0.0, b.tokens - 1.0)
            return Decision(True)

    def format_retry_after(self, seconds: float) -> str:
        """Slack's header at real speed; the real (scaled) wait otherwise.

        With ``time_scale == 1`` this is a whole number of seconds (ceil, >= 1),
        as Slack sends it. With any other scale it is the real number of seconds
        to wait as a decimal ("0.05"), so a client does not over-wait by 20x.
        """
        return format_retry_after(seconds, self.time_scale, self.integer_retry_after)


def format_retry_after(seconds: float, time_scale: float, integer: bool | None = None) -> str:
    if integer is None:
        integer = time_scale == 1.0
    if integer:
        return str(max(1, math.ceil(seconds - 1e-9)))
    seconds = max(seconds, 0.001)
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return text or "0.001"
