"""Run the stand-in Teams in its own process.

    python -m standin.teams --people 200 --time-scale 20 --port 0

prints ``TEAMS_SERVICE_URL=http://127.0.0.1:PORT/`` first, then the app id,
password, tenant id, token URL and OpenID metadata URL (one ``NAME=value`` a
line), and serves until killed. Stats: ``GET http://127.0.0.1:PORT/_sandbox/stats``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from standin.teams import StandInTeams, generate_teams_directory
from standin.teams.server import DEFAULT_APP_ID, DEFAULT_APP_PASSWORD


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m standin.teams",
        description="Run the stand-in Microsoft Teams (Bot Connector + Teams) on loopback.",
    )
    p.add_argument("--people", type=int, default=200, help="people in the tenant (default 200)")
    p.add_argument("--teams", type=int, default=3, help="teams in the tenant (default 3)")
    p.add_argument(
        "--installed",
        type=float,
        default=0.9,
        help="share of people with the app installed (default 0.9)",
    )
    p.add_argument("--seed", type=int, default=1, help="seed for the directory and faults")
    p.add_argument(
        "--time-scale", type=float, default=1.0, help="multiply every rate limit (default 1)"
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    p.add_argument("--no-limits", action="store_true", help="disable rate limiting")
    p.add_argument("--bot-url", default=None, help="the bot's root URL, for acting as Teams")
    p.add_argument("--app-id", default=DEFAULT_APP_ID)
    p.add_argument("--app-password", default=DEFAULT_APP_PASSWORD)
    p.add_argument("--tenant-id", default=None)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    directory = generate_teams_directory(
        people=args.people,
        teams=args.teams,
        seed=args.seed,
        installed=args.installed,
        tenant_id=args.tenant_id,
    )
    teams = StandInTeams(
        directory,
        app_id=args.app_id,
        app_password=args.app_password,
        time_scale=args.time_scale,
        seed=args.seed,
        port=args.port,
        keep_calls=False,
    )
    teams.rate_limits.enabled = not args.no_limits
    teams.bot_url = args.bot_url
    stop = threading.Event()

    def _stop(*_):
        stop.set()

    # before announcing the URL: a SIGTERM right after it must still stop cleanly
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    teams.start()
    print(f"TEAMS_SERVICE_URL={teams.service_url}", flush=True)
    print(f"TEAMS_APP_ID={teams.app_id}")
    print(f"TEAMS_APP_PASSWORD={teams.app_password}")
    print(f"TEAMS_TENANT_ID={teams.tenant_id}")
    print(f"TEAMS_TOKEN_URL={teams.token_url}")
    print(f"TEAMS_OPENID_METADATA_URL={teams.openid_metadata_url}", flush=True)
    stop.wait()
    teams.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
