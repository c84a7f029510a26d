"""The `pelihara-agent` command: `run` the checks or `validate` a checks.yaml."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from prometheus_client import disable_created_metrics

from agent import __version__
from agent.delivery import Delivery, Target
from agent.metrics import Metrics, serve
from agent.scheduler import Scheduler
from agent.spec import Config, Result, Status
from agent.spool import Entry, HardStateFile, Spool
from agent.units import plural

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NOT_OK = 1
EXIT_CONFIG = 2
#: A run stopped by signal N exits with 128 + N, as a shell reports a
#: command killed by that signal: 130 for SIGINT (Ctrl-C), 143 for SIGTERM.
EXIT_SIGNAL_BASE = 128

#: Default seconds `run --once` waits for the collector to acknowledge results.
ONCE_DELIVERY_TIMEOUT = 30.0

#: Seconds `run --once` waits for the delivery thread to end before it exits.
ONCE_STOP_TIMEOUT = 1.0

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pelihara-agent",
        description="Run the checks of checks.yaml and report them to the collector.",
    )
    parser.add_argument(
        "--version", action="version", version=f"pelihara-agent {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="run the checks: forever, or once with --once"
    )
    run.add_argument(
        "--config", required=True, type=Path, help="path of the checks.yaml file"
    )
    run.add_argument(
        "--once",
        action="store_true",
        help="run every check once (with its retries), print and deliver the "
        "results, and exit 0 if all are OK, 1 if not, 2 on a configuration error, "
        "130 if stopped by SIGINT (Ctrl-C) and 143 if stopped by SIGTERM",
    )
    run.add_argument(
        "--delivery-timeout",
        type=float,
        default=ONCE_DELIVERY_TIMEOUT,
        metavar="SECONDS",
        help="with --once, seconds to wait for the collector to acknowledge the "
        "results before leaving them in the spool for the next run "
        f"(default {ONCE_DELIVERY_TIMEOUT:g})",
    )
    run.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.upper,
        help="lowest level logged to stderr (default INFO, WARNING with --once)",
    )

    check = commands.add_parser(
        "validate",
        help="check a checks.yaml file, print every problem with its line, and "
        "exit 1 if there is any, else 0",
    )
    check.add_argument("config", type=Path, help="path of the checks.yaml file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line in `argv` and return the exit status."""
    args = build_parser().parse_args(argv)
    if args.command == "validate":
        return validate_command(args.config)

    level = args.log_level or ("WARNING" if args.once else "INFO")
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # The *_created series double the scrape and no dashboard here uses them.
    disable_created_metrics()
    try:
        config = _load_or_report(args.config)
        if config is None:
            return EXIT_CONFIG
        if args.once:
            return run_once(config, args.delivery_timeout)
        return run_forever(config, args.config)
    except KeyboardInterrupt:
        # Ctrl-C before the signal handlers are installed, while loading.
        print("pelihara-agent: interrupted by SIGINT", file=sys.stderr)
        return EXIT_SIGNAL_BASE + signal.SIGINT


def validate_command(path: Path) -> int:
    """Print every issue of the file at `path`; return 1 if any, else 0."""
    from agent.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as error:
        for issue in error.issues:
            print(issue)
        return EXIT_NOT_OK
    print(f"{path}: {plural(len(config.checks), 'check')} OK")
    return EXIT_OK


def _load_or_report(path: Path) -> Config | None:
    from agent.config import ConfigError, load_config

    try:
        return load_config(path)
    except ConfigError as error:
        for issue in error.issues:
            print(issue, file=sys.stderr)
        return None


def _target_of(config: Config) -> Target | None:
    settings = config.agent
    if not settings.collector:
        return None
    intervals = [check.interval for check in config.checks] or [7200.0]
    return Target(
        collector=settings.collector,
        token=settings.token,
        host=settings.host,
        interval_seconds=min(intervals),
        batch_size=settings.batch_size,
        ca_bundle=settings.ca_bundle,
    )


def _spool_dir(config: Config) -> Path:
    """Return the configured spool folder; the loader fills in the default."""
    from agent.config import default_spool

    return config.agent.spool or default_spool(os.environ, os.geteuid())


def _open_spool(config: Config, metrics: Metrics) -> Spool:
    """Open the spool folder; raises OSError if it cannot be created or read."""
    settings = config.agent
    directory = _spool_dir(config)

    def count_drop(entry: Entry) -> None:
        metrics.dropped_results.labels(entry.status).inc()

    spool = Spool(directory, settings.spool_max_bytes, on_drop=count_drop)
    metrics.watch_spool(
        lambda: float(len(spool)),
        lambda: float(spool.size_bytes),
        spool.oldest_age_seconds,
    )
    return spool


def _hard_state_file(config: Config) -> HardStateFile:
    # Not *.json, so that every *.json file in the spool is a result.
    directory = _spool_dir(config)
    return HardStateFile(directory / "checks.state")


def _spool_results(spool: Spool, delivery: Delivery | None) -> Callable[[Result], None]:
    def put(result: Result) -> None:
        spool.put(result.to_payload())
        if delivery is not None:
            delivery.notify()

    return put


class _Signals:
    """Flags set by signal handlers and read by the main loop.

    Handlers only set attributes, because taking a lock (Event.set) inside
    a handler can deadlock with the main thread holding the same lock.
    """

    def __init__(self) -> None:
        self.stop = False
        self.stop_signal: int | None = None
        self.reload = False

    def install(self, reload: bool) -> None:
        signal.signal(signal.SIGTERM, self._on_stop)
        signal.signal(signal.SIGINT, self._on_stop)
        if reload:
            signal.signal(signal.SIGHUP, self._on_reload)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = signum
        self.stop = True

    def _on_reload(self, signum: int, frame: FrameType | None) -> None:
        self.reload = True


def run_once(config: Config, delivery_timeout: float = ONCE_DELIVERY_TIMEOUT) -> int:
    """Run every check once, print and deliver the results; return the exit code.

    The delivery thread sends each result as soon as it is spooled, so a
    confirmed failure reaches the collector while slower checks still
    re-run. After the last check the run waits up to `delivery_timeout`
    seconds for what is still spooled.
    """
    metrics = Metrics()
    target = _target_of(config)
    spool = delivery = None
    if target is not None:
        try:
            spool = _open_spool(config, metrics)
        except OSError as error:
            print(_spool_error(config, error), file=sys.stderr)
            return EXIT_CONFIG
        delivery = Delivery(spool, target, metrics=metrics, heartbeats=False)

    signals = _Signals()
    signals.install(reload=False)
    stop = threading.Event()
    states = _hard_state_file(config)
    scheduler = Scheduler(
        config,
        metrics=metrics,
        splay=False,
        hard_states=states.load(),
        on_hard_change=states.save,
    )
    if spool is not None:
        scheduler.add_listener(_spool_results(spool, delivery))
    if delivery is not None:
        delivery.start()
    finished = threading.Event()
    watcher = threading.Thread(
        target=_watch_stop, args=(signals, stop, finished), daemon=True
    )
    watcher.start()

    results = scheduler.run_once(stop)
    _print_results(results)

    if delivery is not None and spool is not None:
        delivered = _wait_for_delivery(delivery, delivery_timeout, stop)
        if not delivered and not stop.is_set():
            log.warning(
                "left %s in the spool %s for the next run",
                plural(len(spool), "result"),
                spool.directory,
            )
        # A post still in flight must not hold the exit past the timeout. Its
        # results stay spooled and go out with the next run.
        delivery.stop(timeout=ONCE_STOP_TIMEOUT)
    finished.set()
    if stop.is_set():
        return _report_interrupted(config, results, signals.stop_signal, spool)
    if all(result.status == Status.OK for result in results):
        return EXIT_OK
    return EXIT_NOT_OK


def _wait_for_delivery(
    delivery: Delivery, timeout: float, stop: threading.Event
) -> bool:
    """Wait like Delivery.wait_until_empty, but return False once `stop` is set."""
    deadline = time.monotonic() + timeout
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if delivery.wait_until_empty(min(max(remaining, 0.0), 0.2)):
            return True
        if remaining <= 0:
            return False
    return False


def _report_interrupted(
    config: Config, results: list[Result], signum: int | None, spool: Spool | None
) -> int:
    """Log what a stopped `run --once` left undone; return its exit status."""
    number = signum or signal.SIGTERM
    name = signal.Signals(number).name
    done = {result.check for result in results}
    unfinished = [check.name for check in config.checks if check.name not in done]
    if unfinished:
        log.warning(
            "run interrupted by %s; %s did not finish: %s",
            name,
            plural(len(unfinished), "check"),
            ", ".join(unfinished),
        )
    else:
        log.warning("run interrupted by %s while delivering results", name)
    if spool is not None and len(spool):
        log.warning(
            "left %s in the spool %s for the next run",
            plural(len(spool), "result"),
            spool.directory,
        )
    return EXIT_SIGNAL_BASE + number


def _watch_stop(
    signals: _Signals, stop: threading.Event, finished: threading.Event
) -> None:
    """Turn the signal flag into `stop` until the run has `finished`."""
    while not signals.stop:
        if finished.wait(0.2):
            return
    stop.set()


def _print_results(results: list[Result]) -> None:
    width = max((len(result.check) for result in results), default=0)
    for result in results:
        line = f"{result.check:<{width}}  {result.status.name:<8}  {result.message}"
        if result.suppressed:
            line += f"  [{result.suppressed}]"
        print(line.rstrip(), flush=True)


def _spool_error(config: Config, error: OSError) -> str:
    directory = _spool_dir(config)
    return (
        f"{config.source}: agent.spool: cannot use {directory}: {error.strerror}; "
        "give a writable folder"
    )


def run_forever(config: Config, path: Path) -> int:
    """Schedule the checks and serve /metrics until SIGTERM or SIGINT."""
    metrics = Metrics()
    target = _target_of(config)
    spool = delivery = None
    if target is None:
        log.warning("agent.collector is not set; results are exported as metrics only")
    else:
        try:
            spool = _open_spool(config, metrics)
        except OSError as error:
            print(_spool_error(config, error), file=sys.stderr)
            return EXIT_CONFIG
        delivery = Delivery(spool, target, metrics=metrics)

    settings = config.agent
    try:
        server = serve(metrics, settings.listen_host, settings.listen_port)
    except OSError as error:
        print(
            f"{config.source}: agent.listen: cannot listen on "
            f"{settings.listen_host}:{settings.listen_port}: {error.strerror}; "
            "choose a free address",
            file=sys.stderr,
        )
        return EXIT_CONFIG

    states = _hard_state_file(config)
    scheduler = Scheduler(
        config,
        metrics=metrics,
        hard_states=states.load(),
        on_hard_change=states.save,
    )
    if spool is not None:
        scheduler.add_listener(_spool_results(spool, delivery))
    if delivery is not None:
        delivery.start()

    signals = _Signals()
    signals.install(reload=True)
    stop = threading.Event()
    log.info(
        "pelihara-agent %s started on host %s with %s from %s",
        __version__,
        settings.host,
        plural(len(config.checks), "check"),
        path,
    )

    def before_tick() -> None:
        if signals.stop:
            stop.set()
        if signals.reload:
            signals.reload = False
            _reload(path, scheduler, delivery)

    try:
        scheduler.run(
            stop,
            before_tick=before_tick,
            after_round=delivery.notify if delivery else None,
        )
    finally:
        log.info("stopping pelihara-agent")
        if delivery is not None:
            delivery.stop()
        server.shutdown()
        server.server_close()
        log.info("pelihara-agent stopped")
    return EXIT_OK


def _reload(path: Path, scheduler: Scheduler, delivery: Delivery | None) -> None:
    from agent.config import ConfigError, load_config

    log.info("reloading configuration from %s", path)
    try:
        config = load_config(path)
    except ConfigError as error:
        log.error(
            "new configuration in %s is invalid (%s); keeping the running one",
            path,
            plural(len(error.issues), "issue"),
        )
        for issue in error.issues:
            log.error("%s", issue)
        return
    except Exception:
        # A loader bug must not stop an agent that runs a good configuration.
        log.exception("reloading %s failed; keeping the running configuration", path)
        return

    old = scheduler.config.agent
    new = config.agent
    restart_only = [
        key
        for key, before, after in (
            (
                "agent.listen",
                (old.listen_host, old.listen_port),
                (new.listen_host, new.listen_port),
            ),
            ("agent.spool", old.spool, new.spool),
            ("agent.spool_max_size", old.spool_max_bytes, new.spool_max_bytes),
            (
                "agent.collector (set or unset)",
                bool(old.collector),
                bool(new.collector),
            ),
        )
        if before != after
    ]
    if restart_only:
        log.warning(
            "changes to %s take effect only after a restart", ", ".join(restart_only)
        )
    scheduler.reload(config)
    target = _target_of(config)
    if delivery is not None and target is not None:
        delivery.retarget(target)
