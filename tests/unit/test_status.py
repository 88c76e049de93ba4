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


class EditBudget:
    def __init__(self, per_minute):
        self.per_minute = per_minute


class Counting:
    """A platform that shows every status update, and counts them."""

    name = "slack"

    def __init__(self, edits_per_minute):
        self.updates = []
        self._edit = EditBudget(edits_per_minute)

    def budget(self, stream):
        return self._edit if stream == "edit" else EditBudget(600)

    def update_status(self, channel, ts, report, kind):
        self.updates.append(kind)
        return Sent(channel, ts)


def test_while_originals_are_edited_status_messages_take_a_small_share_of_the_edit_budget(
    store, clock, monkeypatch
):
    import bot.status as status
    from bot.domain import Retraction, RetractionCounts

    memo, _ = report_for(store, clock)
    platform = Counting(edits_per_minute=60.0)  # one a second: the share is one every 40 s
    board = StatusBoard(store, {"slack": platform}, clock, 0.1)
    now = [1000.0]
    monkeypatch.setattr(status.time, "monotonic", lambda: now[0])
    retraction = Retraction(memo.id, "UC", "slack", "r", "", clock.now())
    shown = 0
    for second in range(120):  # two minutes of edits, the board asked to refresh every tick
        now[0] = 1000.0 + second
        counts = RetractionCounts(edits_total=100, edits_done=second // 2, pending=50 - second)
        for kind in ("memo", "retraction"):
            report = StatusReport(memo, store.memo_counts(memo.id))
            report.retraction, report.retraction_counts = retraction, counts
            shown += board._show(platform, "UCOMMS", report, kind, "DCOMMS", "1.1")
    # 120 edit slots went by: 2.5% of them is 3 (at 0 s, 40 s and 80 s). The memo's own
    # message showed its new state once; the retraction's shows the progress.
    assert platform.updates == ["memo", "retraction", "retraction"]
    assert shown == 3
    # Once the edits are done, both are brought up to date at once.
    now[0] += 1
    done = RetractionCounts(edits_total=100, edits_done=100)
    for kind in ("memo", "retraction"):
        report = StatusReport(memo, store.memo_counts(memo.id))
        report.retraction, report.retraction_counts = retraction, done
        assert board._show(platform, "UCOMMS", report, kind, "DCOMMS", "1.1")
    assert platform.updates[3:] == ["memo", "retraction"]
