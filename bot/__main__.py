"""Command line: `python -m bot` runs the bot; `demo`, `report`, `audit`, `backup` too.

This is the only place that reads `.env`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from dotenv import load_dotenv

from bot.config import SettingError, load_settings


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = args.command or "run"
    if command == "demo":
        from bot.demo import run_demo

        return run_demo(people=args.people, seed=args.seed)
    load_dotenv(override=False)
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
