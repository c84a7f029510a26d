"""Soft and hard state transitions of agent.state."""

from __future__ import annotations

import pytest

from agent.spec import Status
from agent.state import CheckState, advance

OK, WARNING, CRITICAL, UNKNOWN = (
    Status.OK,
    Status.WARNING,
    Status.CRITICAL,
    Status.UNKNOWN,
)


def replay(statuses, retries, recover_after):
    """Return (status, confirmed, retry, hard) after each result of `statuses`."""
    state = CheckState()
    rows = []
    for status in statuses:
        verdict = advance(state, status, retries, recover_after)
        state = verdict.state
        rows.append((status, verdict.confirmed, verdict.retry, state.hard))
    return rows


@pytest.mark.parametrize(
    ("statuses", "retries", "recover_after", "expected"),
    [
        (
            [OK, CRITICAL, OK],
            0,
            1,
            [
                (OK, True, False, OK),
                (CRITICAL, True, False, CRITICAL),
                (OK, True, False, OK),
            ],
        ),
        (
            [CRITICAL, CRITICAL, CRITICAL],
            2,
            1,
            [
                (CRITICAL, False, True, OK),
                (CRITICAL, False, True, OK),
                (CRITICAL, True, False, CRITICAL),
            ],
        ),
        (
            [WARNING, OK, WARNING, WARNING],
            1,
            1,
            [
                (WARNING, False, True, OK),
                (OK, True, False, OK),
                (WARNING, False, True, OK),
                (WARNING, True, False, WARNING),
            ],
        ),
        (
            [CRITICAL, OK, OK, OK],
            0,
            3,
            [
                (CRITICAL, True, False, CRITICAL),
                (OK, False, True, CRITICAL),
                (OK, False, True, CRITICAL),
                (OK, True, False, OK),
            ],
        ),
        (
            [CRITICAL, OK, CRITICAL, OK, OK],
            0,
            2,
            [
                (CRITICAL, True, False, CRITICAL),
                (OK, False, True, CRITICAL),
                (CRITICAL, True, False, CRITICAL),
                (OK, False, True, CRITICAL),
                (OK, True, False, OK),
            ],
        ),
        (
            [WARNING, CRITICAL, UNKNOWN],
            0,
            1,
            [
                (WARNING, True, False, WARNING),
                (CRITICAL, True, False, CRITICAL),
                (UNKNOWN, True, False, UNKNOWN),
            ],
        ),
        (
            [WARNING, CRITICAL],
            1,
            1,
            [(WARNING, False, True, OK), (CRITICAL, True, False, CRITICAL)],
        ),
    ],
    ids=[
        "every-result-confirmed",
        "confirmed-after-retries",
        "soft-failure-clears",
        "recovery-needs-three-oks",
        "failure-resets-recovery",
        "failing-status-change-is-hard",
        "status-change-counts-as-retry",
    ],
)
def test_advance_transitions(statuses, retries, recover_after, expected) -> None:
    assert replay(statuses, retries, recover_after) == expected


def test_advance_counts_failures_while_soft() -> None:
    verdict = advance(CheckState(), CRITICAL, retries=3, recover_after=1)
    assert verdict.state == CheckState(hard=OK, failures=1, oks=0)


def test_advance_counts_oks_while_recovering() -> None:
    verdict = advance(CheckState(hard=CRITICAL), OK, retries=0, recover_after=2)
    assert verdict.state == CheckState(hard=CRITICAL, failures=0, oks=1)
