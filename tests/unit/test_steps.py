"""The outbox's state machine, without a database: what each outcome does to an item."""

import pytest

from bot.domain import (
    CANCELLED,
    DELIVERED,
    FAILED,
    ITEM_KINDS,
    MAX_ATTEMPTS,
    PENDING,
    SENDING,
    Failed,
    Item,
    NotFound,
    Retry,
    Sent,
    Unknown,
    backoff,
    step,
)

COPY, NOTICE = ITEM_KINDS["copies"], ITEM_KINDS["notices"]
SENDING_ITEM = Item(SENDING, attempts=2)


def test_an_outcome_for_an_item_no_longer_sending_changes_nothing():
    for state in (PENDING, DELIVERED, FAILED, CANCELLED):
        assert step(COPY, Item(state), Sent("D1", "1.1"), memo_sending=True) is None


def test_sent_delivers_and_clears_doubt_keeping_a_note():
    done = step(
        COPY, Item(SENDING, 3, True, "timeout"), Sent("D1", "1.1", "unconfirmed"), memo_sending=True
    )
    assert (done.state, done.in_doubt, done.error, done.audit) == (
        DELIVERED,
        False,
        "unconfirmed",
        "delivered",
    )
    assert done.sent == Sent("D1", "1.1", "unconfirmed") and done.settled


def test_a_permanent_refusal_fails_at_once_with_its_reason():
    done = step(NOTICE, SENDING_ITEM, Failed("account_inactive"), memo_sending=True)
    assert (done.state, done.error, done.audit, done.attempts) == (
        FAILED,
        "account_inactive",
        "failed",
        2,
    )


def test_a_copy_checked_absent_after_its_memo_stopped_sending_is_cancelled_not_resent():
    doubtful = Item(SENDING, 2, True, "timeout")
    assert step(COPY, doubtful, NotFound(), memo_sending=False).state == CANCELLED
    again = step(COPY, doubtful, NotFound(), memo_sending=True)
    assert (again.state, again.in_doubt, again.retry_after) == (PENDING, False, 0.0)


def test_a_notice_checked_absent_is_sent_again_whatever_the_memo():
    again = step(NOTICE, Item(SENDING, 2, True, "timeout"), NotFound(), memo_sending=False)
    assert (again.state, again.in_doubt) == (PENDING, False)


def test_checked_absent_with_no_tries_left_fails_with_the_last_error():
    done = step(NOTICE, Item(SENDING, MAX_ATTEMPTS, True, "timeout"), NotFound(), memo_sending=True)
    assert (done.state, done.error) == (FAILED, "timeout")


def test_an_unknown_fate_is_put_in_doubt_and_checked_no_sooner_than_it_could_land():
    later = step(COPY, SENDING_ITEM, Unknown("timeout", check_after=45.0), memo_sending=True)
    assert (later.state, later.in_doubt, later.attempts) == (PENDING, True, 3)
    assert later.retry_after == 45.0
    quick = step(COPY, SENDING_ITEM, Unknown("reset", check_after=0.0), memo_sending=True)
    assert quick.retry_after == backoff(3)


def test_an_unknown_fate_is_never_failed_unchecked_even_out_of_tries():
    later = step(COPY, Item(SENDING, MAX_ATTEMPTS + 3), Unknown("timeout"), memo_sending=True)
    assert later.state == PENDING and later.in_doubt


def test_a_rate_limit_uses_up_no_try_and_waits_as_asked():
    later = step(
        COPY, SENDING_ITEM, Retry(7.5, "ratelimited", rate_limited=True), memo_sending=True
    )
    assert (later.state, later.attempts, later.retry_after) == (PENDING, 2, 7.5)


def test_a_failed_check_of_an_in_doubt_send_keeps_the_doubt_and_its_error():
    later = step(COPY, Item(SENDING, 4, True, "timeout"), Retry(0, "http_503"), memo_sending=True)
    assert (later.in_doubt, later.error, later.attempts) == (True, "timeout", 4)
    assert later.retry_after == backoff(3)


@pytest.mark.parametrize("tries", [0, 3, MAX_ATTEMPTS - 2])
def test_a_transient_fault_backs_off_then_fails_after_the_last_try(tries):
    later = step(COPY, Item(SENDING, tries), Retry(0, "http_500"), memo_sending=True)
    assert (later.state, later.attempts, later.retry_after) == (
        PENDING,
        tries + 1,
        backoff(tries + 1),
    )
    done = step(COPY, Item(SENDING, MAX_ATTEMPTS - 1), Retry(0, "http_500"), memo_sending=True)
    assert (done.state, done.error, done.audit) == (FAILED, "http_500", "failed")


def test_a_retry_after_is_honoured_when_given():
    later = step(COPY, SENDING_ITEM, Retry(12.0, "http_503"), memo_sending=True)
    assert later.retry_after == 12.0
