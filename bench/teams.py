"""Teams fan-out rate: a memo to N people with the app, through the stand-in Teams
at Teams' real limits (about 50 requests a second per app per tenant).

    python bench/teams.py [--people 400]

The bot paces itself at TEAMS_REQUESTS_PER_SECOND (45 by default, under
Teams' 50, which Teams asks apps to stay under). Printed: the achieved send
rate over the fan-out, as a share of the stand-in's ceiling and of the bot's
own budget, and how many 429s it met. The bot and the stand-in share one
process here; at 50 requests a second that costs little.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from standin.teams import StandInTeams, generate_teams_directory
from tests.harness import start_teams_bot, wait_for


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=400)
    args = parser.parse_args()
    # Authentication on both ways, as in production (tokens from the stand-in's endpoints).
    teams = StandInTeams(generate_teams_directory(people=args.people, seed=3, installed=1.0))
    teams.start()
    people = teams.directory.people
    workdir = Path(tempfile.mkdtemp(prefix="errata-bench-teams-"))
    bot = start_teams_bot(
        teams,
        workdir / "errata.db",
        COMMS_STAFF=people[0].aad_object_id,
        TEAMS_REQUESTS_PER_SECOND="45",
        TEAMS_CONVERSATION_REQUESTS_PER_SECOND="0.5",
        STATUS_UPDATE_EVERY="5s",
    )
    try:
        teams.install_many()
        wait_for(
            lambda: len(bot.store.everyone("teams")) == len(people), timeout=120, what="installs"
        )
        teams.reset_records()
        from bot.domain import Audience

        started = time.monotonic()
        bot.core.send_memo(
            sender_id=people[0].aad_object_id,
            platform="teams",
            title="Delete the app",
            body="By Friday.",
            audience=Audience(everyone=True, platform="teams"),
            ask_ack=True,
            ack_deadline=None,
        )
        wait_for(
            lambda: bot.store.memo(1) and bot.store.memo(1).state == "sent",
            timeout=600,
            what="the fan-out",
        )
        elapsed = time.monotonic() - started
        sends = [c for c in teams.calls("activities.send") if c.status == 201]
        throttled = [c for c in teams.calls() if c.status == 429]
        every = [c for c in teams.calls() if c.status in (200, 201)]
        span = every[-1].finished - every[0].started
        rate = len(every) / span
        ceiling = teams.ceiling_per_second("app")
        print(
            f"{len(people)} people, {len(sends)} cards sent, {len(every)} Bot Connector requests in {span:.1f} s"
        )
        print(
            f"achieved {rate:.1f} requests/s: {rate / ceiling:.2f} of the stand-in's ceiling ({ceiling:.0f}/s),"
            f" {rate / 45:.2f} of the bot's budget (45/s); 429s met: {len(throttled)}"
        )
        print(f"memo stored to last copy recorded: {elapsed:.1f} s")
    finally:
        bot.stop()
        teams.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
