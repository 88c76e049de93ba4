"""Command line: `python -m bot` runs the bot; `demo`, `report`, `audit`, `backup` too.

This is the only place that reads `.env`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from dotenv import load_dotenv

from bot.config import SettingError, load_settings
from bot.domain import memo_label, parse_memo_ref


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Errata: company-wide memos, and their retraction, for Slack.",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")
    commands.add_parser("run", help="run the bot (the default): Socket Mode or HTTP on PORT")
    demo = commands.add_parser(
        "demo", help="rehearse the whole story on a built-in stand-in Slack, no account needed"
    )
    demo.add_argument("--people", type=int, default=300, help="people in the stand-in workspace")
    demo.add_argument("--seed", type=int, default=7, help="seed for the generated workspace")
    report = commands.add_parser(
        "report", help="one memo's per-recipient report (CSV or JSON) from DATABASE_PATH"
    )
    report.add_argument("memo", help="the memo, e.g. M-7 or 7")
    report.add_argument("--format", choices=("csv", "json"), default="csv", help="default: csv")
    report.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    audit = commands.add_parser("audit", help="check or export the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", metavar="command", required=True)
    audit_commands.add_parser(
        "verify", help="walk the hash chain; print OK with the count, or the first broken entry"
    )
    export = audit_commands.add_parser("export", help="write the audit log as JSON lines")
    export.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    backup = commands.add_parser("backup", help="a consistent copy of the live database")
    backup.add_argument("path", help="where to write the copy")
    return parser


def _store():
    from bot.store import Store

    path = os.environ.get("DATABASE_PATH") or "errata.db"
    if not Path(path).exists():
        print(f"errata: no database at {path} (set DATABASE_PATH)", file=sys.stderr)
        return None
    store = Store(path)
    store.migrate()
    return store


def _open_output(path: str | None):
    return open(path, "w", newline="", encoding="utf-8") if path else sys.stdout


def _report(args) -> int:
    from bot import reports

    memo_id = parse_memo_ref(args.memo)
    if memo_id is None:
        print(f"errata: {args.memo!r} is not a memo ID (M-7 or 7)", file=sys.stderr)
        return 2
    store = _store()
    if store is None:
        return 1
    if store.memo(memo_id) is None:
        print(f"errata: there is no memo {memo_label(memo_id)}", file=sys.stderr)
        return 1
    out = _open_output(args.output)
    try:
        write = reports.write_csv if args.format == "csv" else reports.write_json
        write(reports.rows(store, memo_id), out)
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _audit(args) -> int:
    from bot import audit

    store = _store()
    if store is None:
        return 1
    if args.audit_command == "verify":
        verdict = audit.verify(store.audit_entries(), store.audit_head())
        print(verdict)
        return 0 if verdict.ok else 1
    out = _open_output(args.output)
    try:
        for line in audit.export_lines(store.audit_entries()):
            out.write(line + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _backup(args) -> int:
    store = _store()
    if store is None:
        return 1
    store.backup(args.path)
    print(f"backed up {store.path} to {args.path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "demo":
        from bot.demo import run_demo

        return run_demo(people=args.people, seed=args.seed)
    load_dotenv(override=False)
    if command in ("report", "audit", "backup"):
        return {"report": _report, "audit": _audit, "backup": _backup}[command](args)
    try:
        settings = load_settings(os.environ)
    except SettingError as exc:
        print(f"errata: cannot start: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from bot.app import Bot

    bot = Bot(settings)
    bot.start()
    try:
        bot.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        bot.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
