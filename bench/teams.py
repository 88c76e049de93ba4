"""Teams fan-out rate: a memo to N people with the app, through the stand-in Teams
at Teams' real limits (about 50 requests a second per app per tenant).

    python bench/teams.py [--people 400] [--ceiling 30] [--fixed]

The bot starts at TEAMS_REQUESTS_PER_SECOND (45 by default) and learns the
stand-in's per-tenant ceiling (`--ceiling`, default Teams' 50; the bot is not
told it); `--fixed` runs the old behaviour (LEARN_RATES=false: 45 is a cap).
Printed: the achieved send rate over the fan-out, as a share of the stand-in's
ceiling, 429s as a share of the calls, and the rate the bot learned. The bot
and the stand-in share one process here; at 50 requests a second that costs
little.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import starting_rates

from standin.teams import StandInTeams, generate_teams_directory
from tests.harness import start_teams_bot, wait_for


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--ceiling", type=float, default=50.0, help="stand-in requests/s")
    parser.add_argument("--fixed", action="store_true", help="LEARN_RATES=false")
    parser.add_argument(
        "--retract",
        action="store_true",
        help="then retract it: notices and edits, which share the tenant's budget",
    )
    args = parser.parse_args()
    # Authentication on both ways, as in production (tokens from the stand-in's endpoints).
    teams = StandInTeams(
        generate_teams_directory(people=args.people, seed=3, installed=1.0), app_rps=args.ceiling
    )
    teams.start()
    people = teams.directory.people
    workdir = Path(tempfile.mkdtemp(prefix="errata-bench-teams-"))
    bot = start_teams_bot(
        teams,
        workdir / "errata.db",
        COMMS_STAFF=people[0].aad_object_id,
        # The shipped starting rates, read from bot.config (the harness's tests scale
        # theirs): never the stand-in's ceiling (--ceiling), which the bot learns.
        **{k: v for k, v in starting_rates(1.0).items() if k.startswith("TEAMS_")},
        STATUS_UPDATE_EVERY="5s",
        LEARN_RATES="false" if args.fixed else "true",
    )
    try:
        teams.install_many()
        wait_for(
            lambda: len(bot.store.everyone("teams")) == len(people), timeout=120, what="installs"
        )
        # Each install is followed by a look-up of the member's name (members.get, on the
        # same tenant budget): let those finish, or they are measured as part of the memo.
        wait_for(
            lambda: len(teams.calls("members.get")) >= len(people), timeout=120, what="look-ups"
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
        calls = len(teams.calls())
        print(
            f"{'fixed' if args.fixed else 'learned'}: achieved {rate:.1f} requests/s:"
            f" {rate / ceiling:.3f} of the stand-in's ceiling ({ceiling:.0f}/s);"
            f" 429s {len(throttled)} of {calls} calls ({len(throttled) / max(1, calls):.1%});"
            f" learned {bot.store.learned_rates()}"
        )
        print(f"memo stored to last copy recorded: {elapsed:.1f} s")
        if args.retract:
            retract(bot, teams, people, ceiling, args.fixed)
    finally:
        bot.stop()
        teams.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def retract(bot, teams, people, ceiling: float, fixed: bool) -> None:
    """Retract the memo: a notice to everyone and an edit of every card, on one budget
    (Teams paces per app per tenant, whatever the request). Printed: when the last
    notice went against N / ceiling, and each stream's and the two together's rate."""
    time.sleep(1.0)  # let the stand-in's window empty after the fan-out
    teams.reset_records()
    started = time.time()  # the stand-in records wall times
    comms = people[0].aad_object_id
    bot.core.request_retraction(
        1, by=comms, platform="teams", reason="Sent in error", corrections="Keep the app."
    )
    bot.core.apply_retraction_soon(1)
    wait_for(lambda: bot.store.memo(1).state == "retracted", timeout=600, what="the retraction")
    ok = [c for c in teams.calls() if c.status in (200, 201)]
    notices = [c for c in ok if c.method == "activities.send"]
    edits = [c for c in ok if c.method == "activities.update"]
    limited = sum(1 for c in teams.calls() if c.status == 429)
    last_notice = max(c.finished for c in notices) - started
    ideal = len(notices) / ceiling

    def rate(calls):
        span = max(c.finished for c in calls) - min(c.started for c in calls)
        return len(calls) / span

    during = Counter(c.method for c in teams.calls() if c.finished - started <= last_notice)
    print(f"requests until the last notice: {dict(during)}")
    early = [c for c in edits if c.finished - started < last_notice]
    print(
        f"{len(early)} updates before the last notice, to"
        f" {len({c.conversation_id for c in early})} chats"
    )
    print(
        f"notices {min(c.finished for c in notices) - started:.1f}-{last_notice:.1f} s,"
        f" edits {min(c.finished for c in edits) - started:.1f}-"
        f"{max(c.finished for c in edits) - started:.1f} s after the request"
    )
    print(
        f"{'fixed' if fixed else 'learned'} retraction: {len(notices)} notices, last"
        f" {last_notice:.1f} s after the request ({last_notice / ideal:.2f}x the {ideal:.1f} s"
        f" the ceiling allows); notices {rate(notices):.1f}/s, edits {rate(edits):.1f}/s,"
        f" all requests {rate(ok):.1f}/s = {rate(ok) / ceiling:.3f} of the ceiling;"
        f" 429s {limited} of {len(teams.calls())} ({limited / max(1, len(teams.calls())):.1%})"
    )


if __name__ == "__main__":
    sys.exit(main())
