"""Hard timeouts and caught errors of agent.runner."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from agent.checks.schema import Secret, SecretURL
from agent.runner import Runner
from agent.spec import Status

from .conftest import make_spec


def test_runner_returns_kind_outcome(runner: Runner) -> None:
    run = runner.run_now(make_spec(options={"status": "WARNING", "message": "high"}))
    assert run.outcome.status == Status.WARNING
    assert run.outcome.message == "high"
    assert run.caught is False


def test_runner_times_out_hanging_kind(runner: Runner) -> None:
    release = threading.Event()
    spec = make_spec(timeout=0.3, options={"release": release})
    started = time.monotonic()
    run = runner.run_now(spec)
    elapsed = time.monotonic() - started
    release.set()
    assert run.outcome.status == Status.UNKNOWN
    assert run.outcome.reason == "timeout"
    assert run.outcome.message == "timed out after 0.3s"
    assert run.caught is True
    # Sanity bound for hang detection only: timeout 0.3 s plus grace 0.2 s.
    assert elapsed < 10


def test_runner_timeout_message_whole_seconds(runner: Runner) -> None:
    release = threading.Event()
    run = runner.run_now(make_spec(timeout=1.0, options={"release": release}))
    release.set()
    assert run.outcome.message == "timed out after 1s"


def test_runner_catches_exception_on_one_line(runner: Runner) -> None:
    run = runner.run_now(make_spec(options={"raise": "disk\n  gone"}))
    assert run.outcome.status == Status.UNKNOWN
    assert run.outcome.reason == "error"
    assert run.outcome.message == "RuntimeError: disk gone"
    assert run.caught is True


SECRET_URL = SecretURL("http://app:Pa55word@127.0.0.1:8080/?token=T0kenSecret")


def test_runner_hides_url_secrets_of_exception(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    options = {"url": SECRET_URL, "raise": f"cannot open {SECRET_URL[:]}"}

    with caplog.at_level(logging.ERROR, logger="agent.runner"):
        run = runner.run_now(make_spec(options=options))

    assert run.outcome.message == (
        "RuntimeError: cannot open http://app:***@127.0.0.1:8080/?token=***"
    )
    assert "T0kenSecret" not in caplog.text
    assert "Pa55word" not in caplog.text


def test_runner_hides_secret_header_of_exception(
    runner: Runner, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Authorization": Secret("Bearer HeaderTok3n"), "Accept": "text/plain"}
    options = {"headers": headers, "raise": "bad header value 'Bearer HeaderTok3n'"}

    with caplog.at_level(logging.ERROR, logger="agent.runner"):
        run = runner.run_now(make_spec(options=options))

    assert run.outcome.message == "RuntimeError: bad header value '***'"
    assert "HeaderTok3n" not in caplog.text


def test_runner_hides_url_secrets_of_message(runner: Runner) -> None:
    options = {"url": SECRET_URL, "message": "token T0kenSecret was refused"}

    run = runner.run_now(make_spec(options=options))

    assert run.outcome.message == "token *** was refused"


def test_runner_rejects_non_outcome() -> None:
    class Kind:
        @staticmethod
        def run(options, timeout):
            return "OK"

    runner = Runner(kind_loader=lambda kind: Kind, grace=0.2)
    run = runner.run_now(make_spec())
    assert run.outcome.status == Status.UNKNOWN
    assert run.outcome.message == "kind fake returned str, not Outcome"


def test_runner_unknown_kind_is_error() -> None:
    run = Runner(grace=0.2).run_now(make_spec(kind="no-such-kind"))
    assert run.outcome.status == Status.UNKNOWN
    assert run.outcome.reason == "error"
    assert run.outcome.message == "KeyError: 'no-such-kind'"


def test_runner_maps_stray_reason_to_error(runner: Runner) -> None:
    spec = make_spec(options={"status": "CRITICAL", "reason": "weird"})
    assert runner.run_now(spec).outcome.reason == "error"


def test_runner_drops_non_finite_values(runner: Runner) -> None:
    values = {"used": 1.5, "huge": float("inf"), "odd": float("nan")}
    spec = make_spec(options={"status": "OK", "values": values})

    outcome = runner.run_now(spec).outcome

    assert outcome.values == {"used": 1.5}
    assert outcome.status == Status.OK


def test_runner_drops_values_that_are_not_numbers(runner: Runner) -> None:
    values = {"used": 2, "text": "lots", "flag": True, "big": 10**400}
    spec = make_spec(options={"status": "OK", "values": values})

    outcome = runner.run_now(spec).outcome

    assert outcome.values == {"used": 2}
    assert outcome.status == Status.OK


def test_runner_unreadable_values_are_unknown(runner: Runner) -> None:
    spec = make_spec(options={"status": "OK", "values": ["not", "a", "mapping"]})

    outcome = runner.run_now(spec).outcome

    assert outcome.status == Status.UNKNOWN
    assert outcome.reason == "error"
    assert outcome.message.startswith("result not readable: AttributeError")


def test_runner_busy_until_abandoned_thread_ends(runner: Runner) -> None:
    release = threading.Event()
    spec = make_spec(timeout=0.1, options={"release": release})
    runner.run_now(spec)
    busy_while_hanging = runner.is_running(spec.name)
    started_again = runner.start(spec, lambda run: None)
    release.set()
    for _ in range(200):
        if not runner.is_running(spec.name):
            break
        time.sleep(0.05)
    assert busy_while_hanging is True
    assert started_again is False
    assert runner.is_running(spec.name) is False


def test_runner_concurrent_starts_run_once(runner: Runner) -> None:
    release = threading.Event()
    starts: list[float] = []
    spec = make_spec(options={"release": release, "starts": starts})
    barrier = threading.Barrier(8)
    started: list[bool] = []

    def start() -> None:
        barrier.wait()
        started.append(runner.start(spec, lambda run: None))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    release.set()

    assert started.count(True) == 1
    assert started.count(False) == 7
