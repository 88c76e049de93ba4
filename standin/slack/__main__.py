"""Run the stand-in Slack in its own process.

    python -m standin.slack --people 1000 --time-scale 20 --port 0

prints one line ``SLACK_API_URL=http://127.0.0.1:PORT/api/`` and serves until
killed. Stats: ``GET http://127.0.0.1:PORT/_sandbox/stats``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from standin.slack import StandInSlack, generate_directory


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m standin.slack", description="Run the stand-in Slack on loopback."
    )
    p.add_argument(
        "--people",
        type=int,
        default=500,
        help="active humans in the generated workspace (default 500)",
    )
    p.add_argument(
        "--seed", type=int, default=1, help="seed for the directory and the fault RNG (default 1)"
    )
    p.add_argument(
        "--time-scale", type=float, default=1.0, help="multiply every rate limit (default 1)"
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    p.add_argument(
        "--post-per-minute",
        type=float,
        default=300,
        help="workspace-wide chat.postMessage cap (default 300)",
    )
    p.add_argument("--no-limits", action="store_true", help="disable rate limiting")
    p.add_argument(
        "--bot-url", default=None, help="the bot's root URL, for acting as Slack toward it"
    )
    p.add_argument("--signing-secret", default="sandbox-signing-secret")
    p.add_argument("--bot-token", default="xoxb-sandbox")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    directory = generate_directory(people=args.people, seed=args.seed)
    slack = StandInSlack(
        directory,
        signing_secret=args.signing_secret,
        bot_token=args.bot_token,
        time_scale=args.time_scale,
        post_per_minute=args.post_per_minute,
        seed=args.seed,
        port=args.port,
        keep_calls=False,
    )
    slack.rate_limits.enabled = not args.no_limits
    slack.bot_url = args.bot_url
    slack.start()
    print(f"SLACK_API_URL={slack.api_url}", flush=True)
    stop = threading.Event()

    def _stop(*_):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stop.wait()
    slack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
