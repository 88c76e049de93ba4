"""Logging that a request cannot forge.

Text that came from a request (a JWT `kid`, a user ID, a command) may carry a
newline: logged as is, it writes a second, forged log line. Every record that
reaches our handlers has control characters in its message escaped (`\\n`,
`\\x1b`, ...); a traceback, which is ours, keeps its lines.
"""

from __future__ import annotations

import logging
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape(text: object) -> str:
    """`text` with every control character written as an escape, on one line."""
    value = str(text)
    if not _CONTROL.search(value):
        return value
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), value)


class EscapeControlCharacters(logging.Filter):
    """Escapes the formatted message of every record (its arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!r} % {record.args!r}"
        record.msg = escape(message)
        record.args = None
        return True


def configure(level: str) -> None:
    """The process's logging: one line per record, control characters escaped."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install()


def install() -> None:
    """Put the escaping filter on every handler of the root logger (idempotent)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, EscapeControlCharacters) for f in handler.filters):
            handler.addFilter(EscapeControlCharacters())
