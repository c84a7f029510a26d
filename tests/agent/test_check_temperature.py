"""The temperature kind with injected sensors, since this machine has none."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable

from agent.checks import temperature
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]

# The shape of psutil's sensors_temperatures() entries.
Reading = namedtuple("Reading", ["label", "current", "high", "critical"])

SENSORS = {
    "coretemp": [
        Reading("Package id 0", 61.0, 80.0, 100.0),
        Reading("Core 0", 58.0, 80.0, 100.0),
    ],
    "nvme": [Reading("Composite", 45.0, 84.8, 89.8)],
}


def fake(sensors: dict) -> Callable[[], dict]:
    return lambda: sensors


def test_temperature_no_sensors_unsupported(make_check: MakeCheck) -> None:
    check = make_check("temperature")

    outcome = temperature.run(check.options, check.timeout, sensors=fake({}))

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == "no temperature sensor found on this machine"
    assert outcome.reason == "unsupported"


def test_temperature_hottest_reading(make_check: MakeCheck) -> None:
    check = make_check("temperature")

    outcome = temperature.run(check.options, check.timeout, sensors=fake(SENSORS))

    assert outcome.status is Status.OK
    assert outcome.message == "hottest of 3 sensors is coretemp Package id 0 at 61 °C"
    assert outcome.values == {"temperature_celsius": 61.0, "sensors": 3.0}


def test_temperature_sensor_own_marks(make_check: MakeCheck) -> None:
    check = make_check("temperature")
    hot = {"nvme": [Reading("Composite", 86.0, 84.8, 89.8)]}

    outcome = temperature.run(check.options, check.timeout, sensors=fake(hot))

    assert outcome.status is Status.WARNING
    assert outcome.message == (
        "hottest of 1 sensor is nvme Composite at 86 °C (warning at 84.8 °C)"
    )
    assert outcome.reason == "threshold"


def test_temperature_configured_thresholds(make_check: MakeCheck) -> None:
    check = make_check("temperature", warning=50, critical=60)

    outcome = temperature.run(check.options, check.timeout, sensors=fake(SENSORS))

    assert outcome.status is Status.CRITICAL
    assert outcome.message.endswith("at 61 °C (critical at 60 °C)")


def test_temperature_worst_status_wins(make_check: MakeCheck) -> None:
    check = make_check("temperature")
    sensors = {
        "a": [Reading("hot but no marks", 95.0, None, None)],
        "b": [Reading("warm", 70.0, 65.0, 90.0)],
    }

    outcome = temperature.run(check.options, check.timeout, sensors=fake(sensors))

    assert outcome.status is Status.WARNING
    assert outcome.message == (
        "hottest of 2 sensors is b warm at 70 °C (warning at 65 °C)"
    )


def test_temperature_filter_by_sensor_and_label(make_check: MakeCheck) -> None:
    check = make_check("temperature", sensor="coretemp", label="Core 0")

    outcome = temperature.run(check.options, check.timeout, sensors=fake(SENSORS))

    assert outcome.values["temperature_celsius"] == 58.0
    assert outcome.values["sensors"] == 1


def test_temperature_filter_matches_nothing(make_check: MakeCheck) -> None:
    check = make_check("temperature", sensor="acpitz")

    outcome = temperature.run(check.options, check.timeout, sensors=fake(SENSORS))

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == "no temperature sensor found for sensor 'acpitz'"


def test_temperature_real_psutil(make_check: MakeCheck) -> None:
    check = make_check("temperature")

    outcome = temperature.run(check.options, check.timeout)

    if outcome.reason == "unsupported":
        assert outcome.status is Status.UNKNOWN
    else:
        assert "temperature_celsius" in outcome.values


def test_temperature_sensor_read_fails(make_check: MakeCheck) -> None:
    check = make_check("temperature")

    def broken() -> dict:
        raise OSError(5, "Input/output error")

    outcome = temperature.run(check.options, check.timeout, sensors=broken)

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == "reading the sensors failed: [Errno 5] Input/output error"
    assert outcome.reason == "error"
