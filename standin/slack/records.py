"""What the stand-in records: API calls, messages (with their edit history), files, replies."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from standin.slack import blockkit


@dataclass(slots=True)
class Call:
    """One HTTP request to the Web API, whatever became of it (429s and faults included)."""

    method: str
    args: dict[str, Any]
    status: int = 0  # HTTP status; 0 when the connection was dropped without an answer
    ok: bool | None = None  # the body's "ok" (None when there was no JSON answer)
    error: str | None = None
    started: float = 0.0  # wall time
    finished: float = 0.0
    fault: str | None = (
        None  # "429", "5xx", "drop_before", "drop_after", "fail_user", "ratelimited"
    )


@dataclass(slots=True)
class Version:
    """An earlier state of a message: what it showed from ``since`` until ``until``."""

    text: str
    blocks: list
    metadata: dict | None
    since: float
    until: float

    def content(self) -> str:
        return blockkit.flatten(self.text, self.blocks)

    def buttons(self) -> list[dict[str, Any]]:
        return [_public_button(b) for b in blockkit.buttons(self.blocks)]


def _public_button(b: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in b.items() if k != "element"}


@dataclass(slots=True)
class Message:
    """A message as it stands now, with its earlier versions in ``edits`` (oldest first).

    ``kind`` is "message" for real messages and "ephemeral" for what only
    ``for_user`` sees (chat.postEphemeral, response_url answers, the immediate
    answer to a slash command). ``source`` says how it got there.
    """

    channel: str
    ts: str
    text: str = ""
    blocks: list = field(default_factory=list)
    metadata: dict | None = None
    posted_at: float = 0.0
    user: str = ""
    bot_id: str | None = None
    app_id: str | None = None
    team: str = ""
    thread_ts: str | None = None
    # A thread reply also sent to the channel (chat.postMessage reply_broadcast); Slack shows
    # it with subtype "thread_broadcast" (https://api.slack.com/events/message/thread_broadcast).
    reply_broadcast: bool = False
    edits: list[Version] = field(default_factory=list)
    updated_at: float | None = None
    deleted: bool = False
    deleted_at: float | None = None
    kind: str = "message"
    source: str = "chat.postMessage"
    for_user: str | None = None
    response_type: str | None = None
    files: list[dict] = field(default_factory=list)

    # ------------------------------------------------------------- assertions
    def content(self) -> str:
        """All visible text: the text, then headers, sections, fields, context, buttons."""
        return blockkit.flatten(self.text, self.blocks)

    def buttons(self) -> list[dict[str, Any]]:
        """[{text, action_id, value, block_id, style, url}] in block order."""
        return [_public_button(b) for b in blockkit.buttons(self.blocks)]

    def button(self, text: str) -> dict[str, Any]:
        return _public_button(blockkit.find_button(self.blocks, text))

    @property
    def edited(self) -> bool:
        return bool(self.edits)

    @property
    def is_ephemeral(self) -> bool:
        return self.kind == "ephemeral"

    # ----------------------------------------------------------------- shapes
    def to_slack(self, include_metadata: bool = True) -> dict[str, Any]:
        """The message object as conversations.history / interaction payloads show it."""
        out: dict[str, Any] = {"type": "message"}
        if self.bot_id:
            out["bot_id"] = self.bot_id
        out["text"] = self.text
        out["user"] = self.user
        out["ts"] = self.ts
        if self.app_id:
            out["app_id"] = self.app_id
        if self.blocks:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.team:
            out["team"] = self.team
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
            if self.reply_broadcast:
                out["subtype"] = "thread_broadcast"
        if self.files:
            out["files"] = copy.deepcopy(self.files)
            out["upload"] = False
            out["display_as_bot"] = False
        if self.edits and self.updated_at is not None:
            out["edited"] = {"user": self.user, "ts": _ts_of(self.updated_at)}
        if include_metadata and self.metadata is not None:
            out["metadata"] = copy.deepcopy(self.metadata)
        return out

    def snapshot(self) -> Message:
        """A copy that later edits will not change."""
        return Message(
            channel=self.channel,
            ts=self.ts,
            text=self.text,
            blocks=copy.deepcopy(self.blocks),
            metadata=copy.deepcopy(self.metadata),
            posted_at=self.posted_at,
            user=self.user,
            bot_id=self.bot_id,
            app_id=self.app_id,
            team=self.team,
            thread_ts=self.thread_ts,
            reply_broadcast=self.reply_broadcast,
            edits=list(self.edits),
            updated_at=self.updated_at,
            deleted=self.deleted,
            deleted_at=self.deleted_at,
            kind=self.kind,
            source=self.source,
            for_user=self.for_user,
            response_type=self.response_type,
            files=copy.deepcopy(self.files),
        )

    def replace(self, *, text: str, blocks: list, metadata: dict | None, at: float) -> None:
        """Edit in place, keeping the previous version in ``edits``."""
        since = self.updated_at if self.updated_at is not None else self.posted_at
        self.edits.append(Version(self.text, self.blocks, self.metadata, since, at))
        self.text = text
        self.blocks = blocks
        self.metadata = metadata
        self.updated_at = at


def _ts_of(t: float) -> str:
    return f"{t:.6f}"


@dataclass(slots=True)
class UploadedFile:
    """A file uploaded through files.getUploadURLExternal + completeUploadExternal."""

    id: str
    name: str
    length: int
    title: str | None = None
    content: bytes | None = None
    channel: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    user: str = ""
    created: float = 0.0
    completed: bool = False
    alt_txt: str | None = None
    snippet_type: str | None = None

    @property
    def text(self) -> str:
        return (self.content or b"").decode("utf-8")

    @property
    def mimetype(self) -> str:
        return mimetype_of(self.name)

    @property
    def filetype(self) -> str:
        ext = self.name.rsplit(".", 1)[-1].lower() if "." in self.name else ""
        return {"txt": "text", "": "binary"}.get(ext, ext)


def mimetype_of(name: str) -> str:
    import mimetypes

    return mimetypes.guess_type(name)[0] or "application/octet-stream"


@dataclass(slots=True)
class Reply:
    """The bot's HTTP answer to something the stand-in sent as Slack."""

    status: int
    headers: dict[str, str]
    body: str
    elapsed: float
    errors: dict[str, str] | None = None  # view_submission response_action=errors
    errors_by_label: dict[str, str] | None = None
    request: dict[str, Any] | None = None  # the payload that was sent

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def __repr__(self) -> str:
        body = self.body if len(self.body) < 200 else self.body[:200] + "..."
        return f"Reply(status={self.status}, elapsed={self.elapsed:.3f}, body={body!r})"
