"""The live status message: a failed update is never mistaken for a shown one."""

from bot.domain import Retry, Sent
from bot.platform import StatusReport
from bot.status import StatusBoard
from tests.unit.builders import memo_to


class FoundButNotUpdated:
    """A platform where the status message of an earlier attempt exists, but
    updating it fails (Slack's 5xx, a rate limit)."""

    name = "slack"

    def __init__(self, update):
        self.update = update
        self.posted = 0

    def find_sent(self, kind, item_id, recipient_id, since):
        return Sent("DCOMMS", "111.222")

    def update_status(self, channel, ts, report, kind):
        return self.update

    def post_status(self, user_id, report, kind):
        self.posted += 1
        return Sent("DCOMMS", "333.444")


def report_for(store, clock):
    memo = memo_to(store, clock, ["U1", "U2"])
    store.status_posting(memo.id, "memo", clock.now())  # an earlier attempt, fate unknown
    return memo, StatusReport(memo, store.memo_counts(memo.id))


def test_a_found_status_message_whose_update_fails_is_not_taken_as_shown(store, clock):
    memo, report = report_for(store, clock)
    platform = FoundButNotUpdated(Retry(2.0, "ratelimited"))
    board = StatusBoard(store, {"slack": platform}, clock, 0.5)
    outcome = board._post(platform, "UCOMMS", report, "memo")
    assert outcome == Retry(2.0, "ratelimited")
    assert not board._show(platform, "UCOMMS", report, "memo", None, None)
    assert store.memo(memo.id).status_ts is None  # not stored as shown: tried again later
    assert platform.posted == 0  # and never posted a second message


def test_a_found_status_message_that_updates_is_the_one_kept(store, clock):
    memo, report = report_for(store, clock)
    platform = FoundButNotUpdated(Sent("DCOMMS", "111.222"))
    board = StatusBoard(store, {"slack": platform}, clock, 0.5)
    assert board._show(platform, "UCOMMS", report, "memo", None, None)
    assert store.memo(memo.id).status_ts == "111.222"
    assert platform.posted == 0
