"""Adaptive Cards as Teams shows them: visible text, actions, inputs, and filling inputs.

Only what the tests and the stand-in need: walking a card's elements, its
actions (in document order, ShowCard cards included), its inputs by label,
and the values Teams sends for them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
INPUT_TYPES = (
    "Input.Text",
    "Input.Number",
    "Input.Date",
    "Input.Time",
    "Input.Toggle",
    "Input.ChoiceSet",
)


def _children(el: dict[str, Any]) -> Iterator[dict[str, Any]]:
    t = el.get("type")
    if t == "AdaptiveCard":
        yield from _dicts(el.get("body"))
    elif t in ("Container", "Column", "TableCell"):
        yield from _dicts(el.get("items"))
    elif t == "ColumnSet":
        yield from _dicts(el.get("columns"))
    elif t == "Table":
        for row in _dicts(el.get("rows")):
            yield from _dicts(row.get("cells"))


def _dicts(items: Any) -> Iterator[dict[str, Any]]:
    if isinstance(items, list):
        for it in items:
            if isinstance(it, dict):
                yield it


def walk(card: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
    """Every body element, depth first, document order (not into ShowCard cards)."""
    if not isinstance(card, dict):
        return
    stack = list(reversed(list(_children(card))))
    while stack:
        el = stack.pop()
        yield el
        stack.extend(reversed(list(_children(el))))


def actions(card: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every action: ActionSets in the body, then the card's actions; a ShowCard's card follows it."""
    out: list[dict[str, Any]] = []
    if not isinstance(card, dict):
        return out

    def add(acts: Any) -> None:
        for a in _dicts(acts):
            out.append(a)
            if a.get("type") == "Action.ShowCard" and isinstance(a.get("card"), dict):
                out.extend(actions(a["card"]))

    for el in walk(card):
        if el.get("type") == "ActionSet":
            add(el.get("actions"))
    add(card.get("actions"))
    return out


def describe(action: dict[str, Any]) -> dict[str, Any]:
    """{title, type, verb, id, data, msteams, url} of an action."""
    data = action.get("data")
    msteams = data.get("msteams") if isinstance(data, dict) else None
    return {
        "title": action.get("title", ""),
        "type": action.get("type", ""),
        "verb": action.get("verb"),
        "id": action.get("id"),
        "data": data,
        "msteams": msteams,
        "url": action.get("url"),
    }


def find_action(card: dict[str, Any] | None, title: str) -> dict[str, Any]:
    acts = actions(card)
    for a in acts:
        if a.get("title") == title:
            return a
    for a in acts:
        if str(a.get("title", "")).casefold() == title.casefold():
            return a
    titles = [a.get("title") for a in acts]
    raise LookupError(f"no button {title!r} in the card (buttons: {titles})")


def has_action(card: dict[str, Any] | None, title: str) -> bool:
    try:
        find_action(card, title)
    except LookupError:
        return False
    return True


def _inline_text(el: dict[str, Any]) -> str:
    parts = []
    for inline in el.get("inlines") or []:
        if isinstance(inline, str):
            parts.append(inline)
        elif isinstance(inline, dict):
            parts.append(str(inline.get("text", "")))
    return "".join(parts)


def flatten_card(card: dict[str, Any] | None) -> list[str]:
    """The visible text of a card, one string per element, then the button titles."""
    lines: list[str] = []
    if not isinstance(card, dict):
        return lines
    for el in walk(card):
        t = el.get("type")
        if t == "TextBlock" and el.get("text"):
            lines.append(str(el["text"]))
        elif t == "RichTextBlock":
            text = _inline_text(el)
            if text:
                lines.append(text)
        elif t == "FactSet":
            for fact in _dicts(el.get("facts")):
                lines.append(f"{fact.get('title', '')} {fact.get('value', '')}".strip())
        elif t in INPUT_TYPES:
            if el.get("label"):
                lines.append(str(el["label"]))
            if t == "Input.Toggle" and el.get("title"):
                lines.append(str(el["title"]))
        elif t == "Image" and el.get("altText"):
            lines.append(str(el["altText"]))
    for a in actions(card):
        if a.get("title"):
            lines.append(str(a["title"]))
    return lines


def flatten(text: str | None, cards: list[dict[str, Any]]) -> str:
    lines = [text] if text else []
    for c in cards:
        lines.extend(flatten_card(c))
    return "\n".join(lines)


# ------------------------------------------------------------------- inputs
def inputs(card: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Input elements with an id, document order (ShowCard cards included)."""
    out: list[dict[str, Any]] = []
    if not isinstance(card, dict):
        return out
    prev_text = None
    for el in walk(card):
        t = el.get("type")
        if t == "TextBlock":
            prev_text = el.get("text")
            continue
        if t in INPUT_TYPES and el.get("id"):
            item = dict(el)
            item.setdefault("_label", el.get("label") or prev_text or el.get("placeholder") or "")
            out.append(item)
        prev_text = None
    for a in _dicts(card.get("actions")):
        if a.get("type") == "Action.ShowCard":
            out.extend(inputs(a.get("card")))
    for el in walk(card):
        if el.get("type") == "ActionSet":
            for a in _dicts(el.get("actions")):
                if a.get("type") == "Action.ShowCard":
                    out.extend(inputs(a.get("card")))
    return out


def labels(card: dict[str, Any] | None) -> list[str]:
    return [i["_label"] or i["id"] for i in inputs(card)]


def _choice_value(inp: dict[str, Any], given: Any) -> str:
    choices = list(_dicts(inp.get("choices")))
    g = str(given)
    for c in choices:
        if str(c.get("value")) == g:
            return str(c.get("value"))
    for c in choices:
        if str(c.get("title")) == g:
            return str(c.get("value"))
    for c in choices:
        if str(c.get("title", "")).casefold() == g.casefold():
            return str(c.get("value"))
    if inp.get("choices.data"):  # dynamic typeahead: any value goes
        return g
    titles = [c.get("title") for c in choices]
    raise ValueError(f"{g!r} is not a choice of {inp['_label'] or inp['id']!r} (choices: {titles})")


def input_value(inp: dict[str, Any], given: Any) -> str:
    """The string Teams sends for ``given`` in this input."""
    t = inp.get("type")
    if t == "Input.Toggle":
        on, off = str(inp.get("valueOn", "true")), str(inp.get("valueOff", "false"))
        if isinstance(given, bool):
            return on if given else off
        return on if str(given) in (on, "true", "True", "1") else off
    if given is None:
        return ""
    if t == "Input.ChoiceSet":
        if isinstance(given, (list, tuple, set)):
            values = [_choice_value(inp, g) for g in given]
            if len(values) > 1 and not inp.get("isMultiSelect"):
                raise ValueError(f"{inp['_label'] or inp['id']!r} takes one choice")
            return ",".join(values)
        if given == "":
            return ""
        return _choice_value(inp, given)
    if t == "Input.Date":
        if isinstance(given, dt.datetime):
            given = given.date()
        return given.isoformat() if isinstance(given, dt.date) else str(given)
    if t == "Input.Time":
        if isinstance(given, dt.datetime):
            given = given.time()
        return given.strftime("%H:%M") if isinstance(given, dt.time) else str(given)
    if t == "Input.Number":
        if isinstance(given, float) and given.is_integer():
            return str(int(given))
        return str(given)
    return str(given)


def initial_value(inp: dict[str, Any]) -> str:
    """What an untouched input sends: its ``value``, the toggle's off value, or ""."""
    t = inp.get("type")
    if t == "Input.Toggle":
        v = inp.get("value")
        return input_value(inp, v) if v is not None else str(inp.get("valueOff", "false"))
    v = inp.get("value")
    return "" if v is None else str(v)


def _match(label: str, inp: dict[str, Any]) -> bool:
    names = [inp.get("_label") or "", inp.get("id") or ""]
    return any(label == n for n in names) or any(
        label.casefold() == n.casefold() for n in names if n
    )


def fill(
    card: dict[str, Any] | None, values: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Fill the card's inputs by label (or id): (input values by id, errors by label).

    Errors are Teams' client-side validation (isRequired, regex, min/max,
    maxLength): a card with errors is not sent.
    """
    ins = inputs(card)
    unknown = [k for k in values if not any(_match(k, i) for i in ins)]
    if unknown:
        raise LookupError(f"no input labelled {unknown} (inputs: {[i['_label'] for i in ins]})")
    out: dict[str, str] = {}
    errors: dict[str, str] = {}
    for inp in ins:
        given_key = next((k for k in values if _match(k, inp)), None)
        value = input_value(inp, values[given_key]) if given_key else initial_value(inp)
        out[inp["id"]] = value
        label = inp["_label"] or inp["id"]
        problem = _validate(inp, value)
        if problem:
            errors[label] = inp.get("errorMessage") or problem
    return out, errors


def _validate(inp: dict[str, Any], value: str) -> str | None:
    t = inp.get("type")
    if inp.get("isRequired") and value == "":
        return "This field is required."
    if value == "":
        return None
    if t == "Input.Text":
        if inp.get("regex") and not re.fullmatch(str(inp["regex"]), value):
            return "Invalid format."
        if inp.get("maxLength") and len(value) > int(inp["maxLength"]):
            return "Too long."
    if t == "Input.Number":
        try:
            n = float(value)
        except ValueError:
            return "Enter a number."
        if inp.get("min") is not None and n < float(inp["min"]):
            return "Too small."
        if inp.get("max") is not None and n > float(inp["max"]):
            return "Too large."
    if t == "Input.Date":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return "Enter a date (YYYY-MM-DD)."
    if t == "Input.Time" and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        return "Enter a time (HH:MM)."
    return None


def card_of(attachments: list | None) -> dict[str, Any] | None:
    """The first Adaptive Card among attachments."""
    for a in attachments or []:
        if isinstance(a, dict) and a.get("contentType") == ADAPTIVE_CARD:
            content = a.get("content")
            return content if isinstance(content, dict) else None
    return None


def cards_of(attachments: list | None) -> list[dict[str, Any]]:
    return [
        a["content"]
        for a in attachments or []
        if isinstance(a, dict)
        and a.get("contentType") == ADAPTIVE_CARD
        and isinstance(a.get("content"), dict)
    ]


def problems(card: Any) -> list[str]:
    """What would stop Teams from rendering an Adaptive Card (empty when fine)."""
    if not isinstance(card, dict):
        return ["card content is not a JSON object"]
    out = []
    if card.get("type") != "AdaptiveCard":
        out.append(f"type is {card.get('type')!r}, not 'AdaptiveCard'")
    version = card.get("version")
    if not isinstance(version, str):
        out.append("version is missing")
    elif _version_tuple(version) > (1, 5):
        out.append(f"version {version} is newer than Teams renders (1.5)")
    if "body" in card and not isinstance(card["body"], list):
        out.append("body is not a list")
    for a in actions(card):
        if a.get("type") == "Action.Execute" and _version_tuple(str(version)) < (1, 4):
            out.append("Action.Execute needs card version 1.4 or later")
            break
    return out


def _version_tuple(v: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in v.split("."))
    except ValueError:
        return (0,)
