"""Soft and hard state of a check, in the manner of Nagios.

A failure on a check whose hard state is OK is first *soft*: the check is
re-run after its `retry_interval` up to `retries` times, and only a failure
that persists through every re-run becomes the hard state (is *confirmed*).
A recovery is confirmed after `recover_after` consecutive OK results. A
change between two failing statuses (WARNING to CRITICAL) is confirmed at
once, as Nagios does for hard state changes.

This module is pure: no clock, no I/O, so every transition is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.spec import Status


@dataclass(frozen=True)
class CheckState:
    """Hard state of one check plus the counters that lead to the next one.

    `failures` counts consecutive non-OK results while the hard state is OK.
    `oks` counts consecutive OK results while the hard state is not OK.
    """

    hard: Status = Status.OK
    failures: int = 0
    oks: int = 0


@dataclass(frozen=True)
class Verdict:
    """How one result changes a check's state.

    `confirmed` is the result's hard flag. `retry` means the scheduler runs
    the check again after its retry_interval, not its interval, because a
    soft failure or soft recovery waits for confirmation.
    """

    state: CheckState
    confirmed: bool
    retry: bool


def advance(
    state: CheckState, status: Status, retries: int, recover_after: int
) -> Verdict:
    """Return the verdict for a new result `status` on a check in `state`.

    `retries` is the number of re-runs before a failure is confirmed (0
    confirms the first failure) and `recover_after` the number of
    consecutive OK results that confirm a recovery (1 confirms the first).
    """
    if state.hard == Status.OK:
        return _advance_from_ok(state, status, retries)
    return _advance_from_failing(state, status, recover_after)


def _advance_from_ok(state: CheckState, status: Status, retries: int) -> Verdict:
    if status == Status.OK:
        return Verdict(CheckState(), confirmed=True, retry=False)

    failures = state.failures + 1
    if failures > retries:
        return Verdict(CheckState(hard=status), confirmed=True, retry=False)
    return Verdict(CheckState(failures=failures), confirmed=False, retry=True)


def _advance_from_failing(
    state: CheckState, status: Status, recover_after: int
) -> Verdict:
    if status != Status.OK:
        return Verdict(CheckState(hard=status), confirmed=True, retry=False)

    oks = state.oks + 1
    if oks >= recover_after:
        return Verdict(CheckState(), confirmed=True, retry=False)
    return Verdict(CheckState(hard=state.hard, oks=oks), confirmed=False, retry=True)
