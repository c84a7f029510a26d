"""The memory, swap, cpu and load kinds on this machine."""

from __future__ import annotations

from collections.abc import Callable

import psutil

from agent.checks import cpu, load, memory, swap
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]


def test_memory_measures(make_check: MakeCheck) -> None:
    check = make_check("memory", warning="99.9%", critical="100%")

    outcome = memory.run(check.options, check.timeout)

    assert outcome.status is Status.OK
    assert 0 < outcome.values["used_percent"] < 100
    assert outcome.values["total_bytes"] == psutil.virtual_memory().total


def test_memory_critical(make_check: MakeCheck) -> None:
    check = make_check("memory", warning="0%", critical="0.01%")

    outcome = memory.run(check.options, check.timeout)

    assert outcome.status is Status.CRITICAL
    assert outcome.message.endswith("available (critical at 0.01%)")
    assert outcome.reason == "threshold"


def test_swap_measures(make_check: MakeCheck) -> None:
    check = make_check("swap", warning="99.9%", critical="100%")

    outcome = swap.run(check.options, check.timeout)

    assert outcome.status is Status.OK
    if psutil.swap_memory().total == 0:
        assert outcome.message == "no swap configured"
    else:
        assert outcome.message.startswith("swap is ")


def test_cpu_samples_window(make_check: MakeCheck) -> None:
    check = make_check("cpu", sample="200ms", warning="99.9%", critical="100%")

    outcome = cpu.run(check.options, check.timeout)

    assert 0 <= outcome.values["used_percent"] <= 100
    assert outcome.message.startswith("CPU is ")
    assert " busy over 0.200s on " in outcome.message


def test_cpu_threshold(make_check: MakeCheck) -> None:
    check = make_check("cpu", sample="200ms", warning="0%", critical="100%")

    outcome = cpu.run(check.options, check.timeout)

    # A fully busy machine reaches the critical 100% as well.
    busy = outcome.values["used_percent"] >= 100
    assert outcome.status is (Status.CRITICAL if busy else Status.WARNING)
    assert outcome.reason == "threshold"


def test_load_per_cpu(make_check: MakeCheck) -> None:
    check = make_check("load", minutes=1, warning=1000, critical=2000)

    outcome = load.run(check.options, check.timeout)

    assert outcome.status is Status.OK
    assert outcome.values["cpus"] == psutil.cpu_count()
    assert (
        outcome.values["load_per_cpu"]
        == round(outcome.values["load"] / outcome.values["cpus"], 3)
        or abs(
            outcome.values["load_per_cpu"] * outcome.values["cpus"]
            - outcome.values["load"]
        )
        < 0.01
    )
    assert outcome.message.startswith("1-minute load is ")


def test_load_threshold(make_check: MakeCheck) -> None:
    check = make_check("load", warning=0, critical=0.0001)

    outcome = load.run(check.options, check.timeout)

    assert outcome.status is Status.CRITICAL
    assert outcome.message.endswith("(critical at 0.0001 per CPU)")
