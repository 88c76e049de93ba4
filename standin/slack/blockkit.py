"""Block Kit as Slack's server sees it: validation errors, generated ids, visible text.

Errors are returned as Slack words them, with a JSON pointer, e.g.
``"must be less than 3001 characters [json-pointer:/blocks/0/text/text]"``.
"""

from __future__ import annotations

import json
import random
import string
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_VIEW_JSON = 250_000
MAX_TEXT = 40_000

BLOCK_TYPES = {
    "section",
    "divider",
    "header",
    "context",
    "actions",
    "image",
    "input",
    "rich_text",
    "video",
    "file",
    "markdown",
    "call",
    "table",
    "context_actions",
}
TEXT_TYPES = {"plain_text", "mrkdwn"}
INTERACTIVE = {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "timepicker",
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "overflow",
    "radio_buttons",
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
    "workflow_button",
    "feedback_buttons",
    "icon_button",
}
_ID_CHARS = string.ascii_letters + string.digits + "=+/"


class IdSource:
    """Random-looking block_id / action_id values like the ones Slack fills in."""

    def __init__(self, seed: int = 1):
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def block_id(self) -> str:
        with self._lock:
            return "".join(self._rng.choices(_ID_CHARS, k=5))

    def action_id(self) -> str:
        with self._lock:
            return "".join(self._rng.choices(_ID_CHARS, k=5))


# ------------------------------------------------------------------ parsing
def parse_json_arg(value: Any) -> Any:
    """Form fields carry JSON as strings; JSON bodies carry the objects themselves."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        return json.loads(value)
    return value


def text_of(obj: Any) -> str:
    """The text of a text object (or a bare string)."""
    if isinstance(obj, dict):
        t = obj.get("text")
        return t if isinstance(t, str) else ""
    if isinstance(obj, str):
        return obj
    return ""


# ----------------------------------------------------------------- validation
class _Checker:
    def __init__(self, root: str):
        self.root = root
        self.errors: list[str] = []

    def err(self, message: str, *path: Any) -> None:
        pointer = self.root + "".join(f"/{p}" for p in path)
        self.errors.append(f"{message} [json-pointer:{pointer}]")

    def text_obj(
        self, obj: Any, path: tuple, *, max_len: int, plain_only: bool = False, min_len: int = 1
    ) -> None:
        if not isinstance(obj, dict):
            self.err("must be an object", *path)
            return
        kind = obj.get("type")
        if kind not in TEXT_TYPES or (plain_only and kind != "plain_text"):
            self.err(
                "must be a valid enum value" if not plain_only else "must be plain_text",
                *path,
                "type",
            )
        text = obj.get("text")
        if not isinstance(text, str):
            self.err("must be a string", *path, "text")
            return
        if len(text) < min_len:
            self.err(f"must be more than {min_len - 1} characters", *path, "text")
        if len(text) > max_len:
            self.err(f"must be less than {max_len + 1} characters", *path, "text")

    def option(self, opt: Any, path: tuple) -> None:
        if not isinstance(opt, dict):
            self.err("must be an object", *path)
            return
        self.text_obj(opt.get("text"), (*path, "text"), max_len=75)
        value = opt.get("value")
        if value is not None and (not isinstance(value, str) or len(value) > 150):
            self.err("must be less than 151 characters", *path, "value")

    def confirm(self, obj: Any, path: tuple) -> None:
        if obj is None:
            return
        if not isinstance(obj, dict):
            self.err("must be an object", *path)
            return
        self.text_obj(obj.get("title"), (*path, "title"), max_len=100, plain_only=True)
        self.text_obj(obj.get("text"), (*path, "text"), max_len=300)
        self.text_obj(obj.get("confirm"), (*path, "confirm"), max_len=30, plain_only=True)
        self.text_obj(obj.get("deny"), (*path, "deny"), max_len=30, plain_only=True)

    def element(self, el: Any, path: tuple) -> None:
        if not isinstance(el, dict):
            self.err("must be an object", *path)
            return
        kind = el.get("type")
        if not isinstance(kind, str):
            self.err("missing required field: type", *path)
            return
        action_id = el.get("action_id")
        if action_id is not None and (not isinstance(action_id, str) or len(action_id) > 255):
            self.err("must be less than 256 characters", *path, "action_id")
        if kind == "button":
            self.text_obj(el.get("text"), (*path, "text"), max_len=75, plain_only=True)
            value = el.get("value")
            if value is not None and (not isinstance(value, str) or len(value) > 2000):
                self.err("must be less than 2001 characters", *path, "value")
            url = el.get("url")
            if url is not None and (not isinstance(url, str) or len(url) > 3000):
                self.err("must be less than 3001 characters", *path, "url")
            style = el.get("style")
            if style is not None and style not in ("primary", "danger"):
                self.err("must be a valid enum value", *path, "style")
            label = el.get("accessibility_label")
            if label is not None and len(str(label)) > 75:
                self.err("must be less than 76 characters", *path, "accessibility_label")
        elif kind in (
            "static_select",
            "multi_static_select",
            "checkboxes",
            "radio_buttons",
            "overflow",
        ):
            options = el.get("options")
            groups = el.get("option_groups")
            if options is None and groups is None and kind != "external_select":
                self.err("must provide either options or option_groups", *path)
            if options is not None:
                limit = {"checkboxes": 10, "radio_buttons": 10, "overflow": 5}.get(kind, 100)
                if not isinstance(options, list):
                    self.err("must be an array", *path, "options")
                else:
                    if len(options) > limit:
                        self.err(f"must be less than {limit + 1} items", *path, "options")
                    for i, opt in enumerate(options):
                        self.option(opt, (*path, "options", i))
        elif kind in ("image",):
            pass
        elif kind in ("mrkdwn", "plain_text"):
            self.text_obj(el, path, max_len=3000)
        elif kind not in INTERACTIVE:
            self.err(f"unsupported type: {kind}", *path, "type")
        if "placeholder" in el and el["placeholder"] is not None:
            self.text_obj(el["placeholder"], (*path, "placeholder"), max_len=150, plain_only=True)
        self.confirm(el.get("confirm"), (*path, "confirm"))

    def block(self, block: Any, i: int, *, in_view: bool) -> None:
        path = ("blocks", i)
        if not isinstance(block, dict):
            self.err("must be an object", *path)
            return
        kind = block.get("type")
        if not isinstance(kind, str):
            self.err("missing required field: type", *path)
            return
        if kind not in BLOCK_TYPES:
            self.err(f"unsupported type: {kind}", *path, "type")
            return
        block_id = block.get("block_id")
        if block_id is not None and (not isinstance(block_id, str) or len(block_id) > 255):
            self.err("must be less than 256 characters", *path, "block_id")
        if kind == "header":
            self.text_obj(block.get("text"), (*path, "text"), max_len=150, plain_only=True)
        elif kind == "section":
            text = block.get("text")
            fields = block.get("fields")
            if text is None and not fields:
                self.err("must provide either text or fields", *path)
            if text is not None:
                self.text_obj(text, (*path, "text"), max_len=3000)
            if fields is not None:
                if not isinstance(fields, list):
                    self.err("must be an array", *path, "fields")
                else:
                    if len(fields) > 10:
                        self.err("must be less than 11 items", *path, "fields")
                    for j, f in enumerate(fields):
                        self.text_obj(f, (*path, "fields", j), max_len=2000)
            if block.get("accessory") is not None:
                self.element(block["accessory"], (*path, "accessory"))
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                self.err("must provide at least 1 item", *path, "elements")
            else:
                if len(elements) > 10:
                    self.err("must be less than 11 items", *path, "elements")
                for j, el in enumerate(elements):
                    if isinstance(el, dict) and el.get("type") in TEXT_TYPES:
                        self.text_obj(el, (*path, "elements", j), max_len=3000)
                    elif not (isinstance(el, dict) and el.get("type") == "image"):
                        self.err("must be a text object or an image element", *path, "elements", j)
        elif kind in ("actions", "context_actions"):
            elements = block.get("elements")
            limit = 25 if kind == "actions" else 5
            if not isinstance(elements, list) or not elements:
                self.err("must provide at least 1 item", *path, "elements")
            else:
                if len(elements) > limit:
                    self.err(f"must be less than {limit + 1} items", *path, "elements")
                seen: set[str] = set()
                for j, el in enumerate(elements):
                    self.element(el, (*path, "elements", j))
                    aid = el.get("action_id") if isinstance(el, dict) else None
                    if aid is not None:
                        if aid in seen:
                            self.err(
                                "action_id must be unique within the block",
                                *path,
                                "elements",
                                j,
                                "action_id",
                            )
                        seen.add(aid)
        elif kind == "input":
            self.text_obj(block.get("label"), (*path, "label"), max_len=2000, plain_only=True)
            if block.get("hint") is not None:
                self.text_obj(block["hint"], (*path, "hint"), max_len=2000, plain_only=True)
            if block.get("element") is None:
                self.err("missing required field: element", *path)
            else:
                self.element(block["element"], (*path, "element"))
        elif kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str) or not text or len(text) > 12000:
                self.err("must be between 1 and 12000 characters", *path, "text")
        elif kind == "image" and not block.get("image_url") and not block.get("slack_file"):
            self.err("missing required field: image_url", *path)


def _check_blocks(blocks: list, checker: _Checker, *, in_view: bool, max_blocks: int) -> None:
    if len(blocks) > max_blocks:
        checker.err(f"must be less than {max_blocks + 1} items", "blocks")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        checker.block(block, i, in_view=in_view)
        bid = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(bid, str):
            if bid in seen:
                checker.err(f"duplicate block_id: {bid}", "blocks", i, "block_id")
            seen.add(bid)


def validate_message_blocks(blocks: Any) -> tuple[str | None, list[str]]:
    """(error code or None, messages) for chat.postMessage / chat.update blocks."""
    if not isinstance(blocks, list):
        return "invalid_blocks_format", ["must be an array [json-pointer:/blocks]"]
    checker = _Checker("")
    _check_blocks(blocks, checker, in_view=False, max_blocks=MAX_MESSAGE_BLOCKS)
    if checker.errors:
        return "invalid_blocks", checker.errors
    return None, []


def validate_view(view: Any) -> tuple[str | None, list[str]]:
    """(error code or None, messages) for views.open/push/update/publish."""
    if not isinstance(view, dict):
        return "invalid_arguments", ["missing required field: view"]
    checker = _Checker("/view")
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.err("must be a valid enum value", "type")
        return "invalid_arguments", checker.errors
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        checker.err("missing required field: blocks", "blocks")
        return "invalid_arguments", checker.errors
    if kind == "modal":
        if view.get("title") is None:
            checker.err("missing required field: title", "title")
        else:
            checker.text_obj(view.get("title"), ("title",), max_len=24, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                checker.text_obj(view[key], (key,), max_len=24, plain_only=True)
        if view.get("submit") is None and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        ):
            checker.err("must provide submit when the view contains input blocks", "submit")
        if not blocks:
            checker.err("must provide at least 1 item", "blocks")
    pm = view.get("private_metadata")
    if pm is not None and (not isinstance(pm, str) or len(pm) > 3000):
        checker.err("must be less than 3001 characters", "private_metadata")
    for key in ("callback_id", "external_id"):
        value = view.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            checker.err("must be less than 256 characters", key)
    _check_blocks(blocks, checker, in_view=True, max_blocks=MAX_VIEW_BLOCKS)
    if checker.errors:
        return "invalid_arguments", checker.errors
    if len(json.dumps(view)) > MAX_VIEW_JSON:
        return "view_too_large", []
    return None, []


# ------------------------------------------------------------- generated ids
def _walk_elements(block: dict) -> Iterator[dict]:
    kind = block.get("type")
    if kind in ("actions", "context_actions"):
        for el in block.get("elements") or []:
            if isinstance(el, dict):
                yield el
    elif kind == "section":
        acc = block.get("accessory")
        if isinstance(acc, dict):
            yield acc
    elif kind == "input":
        el = block.get("element")
        if isinstance(el, dict):
            yield el


def fill_ids(blocks: list, ids: IdSource) -> list:
    """A deep copy of ``blocks`` with the block_id / action_id Slack would generate."""
    blocks = json.loads(json.dumps(blocks))
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if not block.get("block_id"):
            block["block_id"] = ids.block_id()
        for el in _walk_elements(block):
            if el.get("type") in INTERACTIVE and not el.get("action_id"):
                el["action_id"] = ids.action_id()
    return blocks


# ------------------------------------------------------------ visible content
def _texts_in_rich(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        if obj.get("type") == "text" and isinstance(obj.get("text"), str):
            yield obj["text"]
        elif obj.get("type") == "link":
            yield obj.get("text") or obj.get("url") or ""
        for el in obj.get("elements") or []:
            yield from _texts_in_rich(el)
    elif isinstance(obj, list):
        for el in obj:
            yield from _texts_in_rich(el)


def _element_texts(el: dict) -> Iterator[str]:
    kind = el.get("type")
    if kind == "button":
        yield text_of(el.get("text"))
    elif kind in TEXT_TYPES:
        yield text_of(el)
    elif kind == "image":
        return
    else:
        for key in ("initial_option",):
            if isinstance(el.get(key), dict):
                yield text_of(el[key].get("text"))


def block_texts(blocks: Iterable[Any] | None) -> Iterator[str]:
    """Every piece of visible text in blocks, in reading order."""
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind in ("header", "section"):
            if block.get("text") is not None:
                yield text_of(block.get("text"))
            for f in block.get("fields") or []:
                yield text_of(f)
            acc = block.get("accessory")
            if isinstance(acc, dict):
                yield from _element_texts(acc)
        elif kind in ("context", "actions", "context_actions"):
            for el in block.get("elements") or []:
                if isinstance(el, dict):
                    yield from _element_texts(el)
        elif kind == "input":
            yield text_of(block.get("label"))
            if block.get("hint") is not None:
                yield text_of(block.get("hint"))
        elif kind == "rich_text":
            yield "".join(_texts_in_rich(block.get("elements") or []))
        elif kind == "markdown":
            yield block.get("text") or ""
        elif kind == "image" and block.get("title") is not None:
            yield text_of(block.get("title"))


def flatten(text: str | None, blocks: list | None) -> str:
    parts = [text or ""]
    parts.extend(t for t in block_texts(blocks) if t)
    return "\n".join(p for p in parts if p)


def buttons(blocks: list | None) -> list[dict[str, Any]]:
    """Every button: {text, action_id, value, block_id, style, url}."""
    out = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        for el in _walk_elements(block):
            if el.get("type") == "button":
                out.append(
                    {
                        "text": text_of(el.get("text")),
                        "action_id": el.get("action_id"),
                        "value": el.get("value"),
                        "block_id": block.get("block_id"),
                        "style": el.get("style"),
                        "url": el.get("url"),
                        "element": el,
                    }
                )
    return out


def find_button(blocks: list | None, button_text: str) -> dict[str, Any]:
    found = buttons(blocks)
    for b in found:
        if b["text"] == button_text:
            return b
    for b in found:
        if b["text"].strip().lower() == button_text.strip().lower():
            return b
    names = ", ".join(repr(b["text"]) for b in found) or "none"
    raise LookupError(f"no button {button_text!r} here (buttons: {names})")


# ---------------------------------------------------------------- view state
EMPTY_STATE: dict[str, tuple[str, Any]] = {
    "plain_text_input": ("value", None),
    "email_text_input": ("value", None),
    "url_text_input": ("value", None),
    "number_input": ("value", None),
    "rich_text_input": ("rich_text_value", None),
    "users_select": ("selected_user", None),
    "multi_users_select": ("selected_users", []),
    "conversations_select": ("selected_conversation", None),
    "multi_conversations_select": ("selected_conversations", []),
    "channels_select": ("selected_channel", None),
    "multi_channels_select": ("selected_channels", []),
    "static_select": ("selected_option", None),
    "external_select": ("selected_option", None),
    "multi_static_select": ("selected_options", []),
    "multi_external_select": ("selected_options", []),
    "checkboxes": ("selected_options", []),
    "radio_buttons": ("selected_option", None),
    "datepicker": ("selected_date", None),
    "timepicker": ("selected_time", None),
    "datetimepicker": ("selected_date_time", None),
    "file_input": ("files", []),
}
INITIAL_KEYS: dict[str, str] = {
    "plain_text_input": "initial_value",
    "email_text_input": "initial_value",
    "url_text_input": "initial_value",
    "number_input": "initial_value",
    "rich_text_input": "initial_value",
    "users_select": "initial_user",
    "multi_users_select": "initial_users",
    "conversations_select": "initial_conversation",
    "multi_conversations_select": "initial_conversations",
    "channels_select": "initial_channel",
    "multi_channels_select": "initial_channels",
    "static_select": "initial_option",
    "external_select": "initial_option",
    "multi_static_select": "initial_options",
    "multi_external_select": "initial_options",
    "checkboxes": "initial_options",
    "radio_buttons": "initial_option",
    "datepicker": "initial_date",
    "timepicker": "initial_time",
    "datetimepicker": "initial_date_time",
}


def _all_options(el: dict) -> list[dict]:
    opts = list(el.get("options") or [])
    for g in el.get("option_groups") or []:
        opts.extend(g.get("options") or [])
    return opts


def _match_option(el: dict, wanted: Any, label: str) -> dict:
    if isinstance(wanted, dict):
        return wanted
    wanted_s = str(wanted)
    opts = _all_options(el)
    for opt in opts:
        if text_of(opt.get("text")) == wanted_s or opt.get("value") == wanted_s:
            return opt
    for opt in opts:
        if text_of(opt.get("text")).strip().lower() == wanted_s.strip().lower():
            return opt
    choices = ", ".join(repr(text_of(o.get("text"))) for o in opts)
    raise ValueError(f"{label!r}: no option {wanted_s!r} (options: {choices})")


def _as_id(value: Any) -> str:
    return value if isinstance(value, str) else value.id


def _as_list(value: Any) -> list:
    if value is None or value is False:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


def element_state(el: dict, value: Any, label: str) -> dict[str, Any]:
    """The state.values entry for one input element, filled with ``value``."""
    kind = el.get("type", "")
    if kind not in EMPTY_STATE:
        raise ValueError(f"{label!r}: cannot fill an element of type {kind!r}")
    key, _empty = EMPTY_STATE[kind]
    out: dict[str, Any] = {"type": kind}
    if kind in ("plain_text_input", "email_text_input", "url_text_input", "number_input"):
        out[key] = None if value is None or value == "" else str(value)
    elif kind == "rich_text_input":
        if value is None or value == "":
            out[key] = None
        elif isinstance(value, dict):
            out[key] = value
        else:
            out[key] = {
                "type": "rich_text",
                "elements": [
                    {
                        "type": "rich_text_section",
                        "elements": [{"type": "text", "text": str(value)}],
                    }
                ],
            }
    elif kind in ("users_select", "conversations_select", "channels_select"):
        out[key] = None if value is None or value == "" else _as_id(value)
    elif kind in ("multi_users_select", "multi_conversations_select", "multi_channels_select"):
        out[key] = [_as_id(v) for v in _as_list(value)]
    elif kind in ("static_select", "external_select", "radio_buttons"):
        out[key] = None if value is None or value == "" else _match_option(el, value, label)
    elif kind in ("multi_static_select", "multi_external_select"):
        out[key] = [_match_option(el, v, label) for v in _as_list(value)]
    elif kind == "checkboxes":
        if value is True:
            out[key] = _all_options(el)
        else:
            out[key] = [_match_option(el, v, label) for v in _as_list(value)]
    elif kind == "datepicker":
        if isinstance(value, datetime):
            value = value.date()
        out[key] = value.isoformat() if isinstance(value, date) else (value or None)
    elif kind == "timepicker":
        if isinstance(value, (time, datetime)):
            value = value.strftime("%H:%M")
        out[key] = value or None
        if el.get("timezone"):
            out["timezone"] = el["timezone"]
    elif kind == "datetimepicker":
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            value = int(value.timestamp())
        out[key] = None if value is None or value == "" else int(value)
    elif kind == "file_input":
        out[key] = list(_as_list(value))
    return out


def initial_state(el: dict) -> dict[str, Any]:
    """What Slack sends for an input the user left alone: its initial value, else empty."""
    kind = el.get("type", "")
    key, empty = EMPTY_STATE.get(kind, ("value", None))
    out: dict[str, Any] = {"type": kind}
    initial_key = INITIAL_KEYS.get(kind)
    initial = el.get(initial_key) if initial_key else None
    if initial is None:
        out[key] = list(empty) if isinstance(empty, list) else empty
    else:
        out[key] = initial
    if kind == "timepicker" and el.get("timezone"):
        out["timezone"] = el["timezone"]
    return out


def input_blocks(view: dict) -> list[dict]:
    return [b for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("type") == "input"]


def view_labels(view: dict) -> dict[str, str]:
    """{block_id: label text} for the input blocks of a view."""
    return {b.get("block_id", ""): text_of(b.get("label")) for b in input_blocks(view)}


def build_state(view: dict, values: dict[str, Any]) -> dict[str, Any]:
    """``view.state`` for a submission, filling inputs by label (or block_id)."""
    blocks = input_blocks(view)
    by_label: dict[str, dict] = {}
    for b in blocks:
        by_label.setdefault(text_of(b.get("label")), b)
    chosen: dict[str, Any] = {}
    for label, value in values.items():
        block = by_label.get(label)
        if block is None:
            folded = {k.strip().lower().rstrip("*").strip(): b for k, b in by_label.items()}
            block = folded.get(label.strip().lower())
        if block is None:
            block = next((b for b in blocks if b.get("block_id") == label), None)
        if block is None:
            known = ", ".join(repr(k) for k in by_label) or "none"
            title = text_of(view.get("title")) or view.get("callback_id") or view.get("id")
            raise KeyError(f"view {title!r} has no input labelled {label!r} (labels: {known})")
        chosen[block["block_id"]] = (label, value)
    state: dict[str, Any] = {}
    for b in blocks:
        el = b.get("element") or {}
        action_id = el.get("action_id")
        entry = chosen.get(b.get("block_id"))
        if entry is None:
            state[b["block_id"]] = {action_id: initial_state(el)}
        else:
            state[b["block_id"]] = {action_id: element_state(el, entry[1], entry[0])}
    return {"values": state}
