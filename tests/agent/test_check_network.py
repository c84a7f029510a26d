"""The network kind on this machine's loopback interface."""

from __future__ import annotations

from collections.abc import Callable

import psutil

from agent.checks import network
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]


def test_network_loopback_up(make_check: MakeCheck) -> None:
    check = make_check("network", name="lo-total", interface="lo", counters="total")

    outcome = network.run(check.options, check.timeout)

    assert outcome.status is Status.OK
    assert outcome.message.startswith("interface lo is up; ")
    assert outcome.message.endswith(" since boot")


def test_network_missing_interface(make_check: MakeCheck) -> None:
    check = make_check("network", interface="nosuch0")

    outcome = network.run(check.options, check.timeout)

    known = ", ".join(sorted(psutil.net_if_stats()))
    assert outcome.status is Status.CRITICAL
    assert outcome.message == f"interface nosuch0 not found; this machine has {known}"
    assert outcome.reason == "not_found"


def test_network_delta_needs_baseline(make_check: MakeCheck) -> None:
    check = make_check("network", name="lo-delta", interface="lo")

    first = network.run(check.options, check.timeout)
    second = network.run(check.options, check.timeout)

    assert first.status is Status.OK
    assert first.message == (
        "interface lo is up; counters recorded, compared from the next run"
    )
    assert second.status is Status.OK
    assert second.message.endswith(" since the previous run")
    assert second.values["errors"] >= 0


def test_network_total_threshold(make_check: MakeCheck) -> None:
    check = make_check(
        "network",
        name="lo-threshold",
        interface="lo",
        counters="total",
        errors_warning=0,
        errors_critical=1_000_000_000,
    )

    outcome = network.run(check.options, check.timeout)

    assert outcome.status is Status.WARNING
    assert outcome.reason == "threshold"


def test_network_rate_per_second(make_check: MakeCheck) -> None:
    check = make_check(
        "network",
        name="lo-rate",
        interface="lo",
        counters="rate",
        errors_warning=0.5,
        errors_critical=100,
    )

    network.run(check.options, check.timeout)
    outcome = network.run(check.options, check.timeout)

    assert outcome.message.endswith(" per second since the previous run")
    assert outcome.values["errors_per_second"] >= 0
