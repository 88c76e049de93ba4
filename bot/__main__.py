"""Command line: `python -m bot` runs the bot; `demo`, `report`, `audit`, `backup`, `limits` too.

This is the only place that reads `.env`.
"""

from __future__ import annotations

import argparse
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
        "verify",
        help="walk the keyed hash chain (AUDIT_KEY or the key file beside DATABASE_PATH) and"
        " compare the checkpoints posted to AUDIT_CHECKPOINT_CHANNEL; print OK with the count,"
        " or the first broken entry",
    )
    export = audit_commands.add_parser("export", help="write the audit log as JSON lines")
    export.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    backup = commands.add_parser("backup", help="a consistent copy of the live database")
    backup.add_argument("path", help="where to write the copy")
    commands.add_parser(
        "limits",
        help="the rate each paced method learned (from DATABASE_PATH), and where it starts now",
    )
    return parser


def _database_path() -> str:
    """The PostgreSQL URL when DATABASE_URL is set, else the SQLite file."""
    return (
        (os.environ.get("DATABASE_URL") or "").strip()
        or os.environ.get("DATABASE_PATH")
        or "errata.db"
    )


def _store(audit_key: bytes | None = None):
    """The database for a CLI command; it only reads, so it never keys the audit chain."""
    from bot.store import Store
    from bot.store.database import postgres_url

    path = _database_path()
    if not postgres_url(path) and not Path(path).exists():
        print(f"errata: no database at {path} (set DATABASE_PATH or DATABASE_URL)", file=sys.stderr)
        return None
    store = Store(path, audit_key=audit_key)
    store.migrate(key_audit_chain=False)
    return store


def _env_setting(name: str):
    """One setting from the environment, parsed as the bot parses it (raises SettingError)."""
    from bot.config import SETTINGS

    setting = next(s for s in SETTINGS if s.name == name)
    raw = (os.environ.get(name) or "").strip() or setting.default
    try:
        return setting.parse(raw) if raw is not None else None
    except ValueError as exc:
        raise SettingError(name, str(exc)) from None


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

    if args.audit_command == "verify":
        return _verify()
    store = _store()
    if store is None:
        return 1
    out = _open_output(args.output)
    try:
        for line in audit.export_lines(store.audit_entries()):
            out.write(line + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _verify() -> int:
    """The chain under the key, then every checkpoint that can be read back from Slack."""
    from bot import audit

    path = _database_path()
    try:
        key = audit.load_key(_env_setting("AUDIT_KEY"), path, create=False)
    except (SettingError, audit.AuditKeyError) as exc:
        print(f"errata: {exc}", file=sys.stderr)
        return 1
    if key is None:
        print(
            f"errata: no audit key: AUDIT_KEY is not set and there is no key file"
            f" {audit.key_file_for(path)}; the chain cannot be verified without its key",
            file=sys.stderr,
        )
        return 1
    store = _store(key)
    if store is None:
        return 1
    checkpoints, notes = _posted_checkpoints(store)
    verdict = store.verify_audit(checkpoints)
    print(verdict)
    if store.audit_scheme() is None and store.audit_head() is not None:
        notes.insert(0, "The chain has not been keyed yet: the bot keys it at its next start.")
    for note in notes:
        print(note)
    return 0 if verdict.ok else 1


def _posted_checkpoints(store) -> tuple[list, list[str]]:
    """Checkpoints read back from each channel they were posted to (the configured one,
    and any the database records), and one line per channel saying what was checked."""
    configured = os.environ.get("AUDIT_CHECKPOINT_CHANNEL", "").strip()
    recorded = store.audit_checkpoints()
    channels = list(
        dict.fromkeys([configured] * bool(configured) + [r["channel"] for r in recorded])
    )
    if not channels:
        return [], ["Checkpoints: none to compare (AUDIT_CHECKPOINT_CHANNEL is not set)."]
    token = (os.environ.get("SLACK_BOT_TOKEN") or "").strip()
    if not token:
        return [], [
            f"Checkpoints NOT checked in {', '.join(channels)}: SLACK_BOT_TOKEN is not set,"
            " so the channel could not be read."
        ]
    from bot.clock import Clock
    from bot.slack.adapter import SlackPlatform

    try:
        api_url = _env_setting("SLACK_API_URL")
    except SettingError as exc:
        return [], [f"Checkpoints NOT checked: {exc}"]
    slack = SlackPlatform(
        token=token,
        api_url=api_url,
        store=store,
        clock=Clock(),
        post_per_minute=60,
        update_per_minute=50,
    )
    found, notes = [], []
    for channel in channels:
        try:
            posted = slack.checkpoints_in(channel)
        except Exception as exc:
            notes.append(
                f"Checkpoints NOT checked in {channel}: the channel could not be read ({exc});"
                " the bot needs channels:history (groups:history for a private channel)."
            )
            continue
        found += posted
        notes.append(f"Checkpoints in {channel}: {len(posted)} read back and compared.")
        missing = {r["ts"] for r in recorded if r["channel"] == channel} - {c.ts for c in posted}
        if missing:
            notes.append(
                f"  {len(missing)} checkpoint(s) the database records in {channel} are not in"
                f" the channel any more (deleted?): {', '.join(sorted(missing)[:5])}"
            )
    return found, notes


def _backup(args) -> int:
    from bot.audit import key_file_for

    store = _store()
    if store is None:
        return 1
    if store.shared:
        print("errata: the store is on PostgreSQL (DATABASE_URL): back it up with pg_dump")
        return 2
    store.backup(args.path)
    print(f"backed up {store.path} to {args.path}")
    print(
        "The audit key is not in the copy: keep AUDIT_KEY, or the key file"
        f" {key_file_for(store.path)}, backed up separately."
    )
    return 0


# What each learned rate is the limit of: its key in the store, its setting, and the
# setting's unit as a multiple of a minute's rate.
_PACED = (
    ("slack chat.postMessage", "SLACK_POST_PER_MINUTE", 1),
    ("slack chat.update", "SLACK_UPDATE_PER_MINUTE", 1),
    ("teams requests (per tenant)", "TEAMS_REQUESTS_PER_SECOND", 60),
    ("teams requests (per chat)", "TEAMS_CONVERSATION_REQUESTS_PER_SECOND", 60),
)


def _limits(args) -> int:
    from bot.clock import Clock
    from bot.pacing import starting_rate

    store = _store()
    if store is None:
        return 1
    learned = store.learned_rates()
    now = Clock().now()
    try:
        learning = _env_setting("LEARN_RATES")
    except SettingError as exc:
        print(f"errata: {exc}", file=sys.stderr)
        return 2
    print(f"{'method':<30} {'setting':>10} {'learned':>10} {'starts at':>10}  learned at (UTC)")
    for key, name, unit in _PACED:
        try:
            setting = float(_env_setting(name)) * unit
        except SettingError as exc:
            print(f"errata: {exc}", file=sys.stderr)
            return 2
        rate, at = learned.get(key, (None, None))
        start = starting_rate(setting, rate, (now - at).total_seconds()) if at else setting
        if not learning:
            start = setting
        print(
            f"{key:<30} {setting:>10.1f} {(f'{rate:.1f}' if rate else '-'):>10}"
            f" {start:>10.1f}  {at.strftime('%Y-%m-%d %H:%M:%S') if at else 'never'}"
        )
    print(
        "Rates are calls a minute. A learned rate is forgotten slowly: half its distance to the"
        " setting per day." + ("" if learning else " LEARN_RATES is false: the settings are caps.")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "demo":
        from bot.demo import run_demo

        return run_demo(people=args.people, seed=args.seed)
    load_dotenv(override=False)
    if command in ("report", "audit", "backup", "limits"):
        commands = {"report": _report, "audit": _audit, "backup": _backup, "limits": _limits}
        return commands[command](args)
    try:
        settings = load_settings(os.environ)
    except SettingError as exc:
        print(f"errata: cannot start: {exc}", file=sys.stderr)
        return 2
    from bot import logs

    logs.configure(settings.log_level)
    from bot.app import Bot
    from bot.audit import AuditKeyError

    try:
        bot = Bot(settings)
    except AuditKeyError as exc:
        print(f"errata: cannot start: {exc}", file=sys.stderr)
        return 2
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
