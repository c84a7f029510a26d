"""Prometheus metrics of the agent, in a registry of its own.

Labels are bounded: `check`, `kind`, `category`, a measured value's name,
a failure reason from `spec.REASONS`, a status name, or a delivery failure
class. Messages and measured numbers are never labels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from agent import __version__
from agent.spec import REASONS, CheckSpec, Result, Status

log = logging.getLogger(__name__)

CHECK_LABELS = ("check", "kind", "category")

#: Classes of failed posts, the `reason` label of delivery failures.
DELIVERY_FAILURES = (
    "connection",
    "timeout",
    "tls",
    "error",
    "unauthorized",
    "forbidden",
    "throttled",
    "server_error",
    "http_error",
    "rejected",
)


class Metrics:
    """Every metric the agent exports, with helpers that keep them consistent."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._known: dict[str, tuple[str, str, str]] = {}
        self._values: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self._define_check_metrics()
        self._define_agent_metrics()

    def _define_check_metrics(self) -> None:
        r = self.registry
        self.check_status = Gauge(
            "pelihara_check_status",
            "Status of the latest result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
            CHECK_LABELS,
            registry=r,
        )
        self.check_up = Gauge(
            "pelihara_check_up",
            "1 if the latest result of the check is OK, else 0.",
            CHECK_LABELS,
            registry=r,
        )
        self.check_confirmed = Gauge(
            "pelihara_check_confirmed",
            "1 if the latest result is a hard (confirmed) state, 0 while soft.",
            CHECK_LABELS,
            registry=r,
        )
        self.check_suppressed = Gauge(
            "pelihara_check_suppressed",
            "1 if the latest failure is suppressed by maintenance or a dependency.",
            CHECK_LABELS,
            registry=r,
        )
        self.check_duration = Gauge(
            "pelihara_check_duration_seconds",
            "Duration of the latest run of the check.",
            CHECK_LABELS,
            registry=r,
        )
        self.check_last_run = Gauge(
            "pelihara_check_last_run_timestamp_seconds",
            "Unix time at which the latest run of the check finished.",
            CHECK_LABELS,
            registry=r,
        )
        self.check_value = Gauge(
            "pelihara_check_value",
            "Value measured by the latest run, in base units, named by `value`.",
            (*CHECK_LABELS, "value"),
            registry=r,
        )
        self.check_runs = Counter(
            "pelihara_check_runs",
            "Runs of the check, by result status.",
            (*CHECK_LABELS, "status"),
            registry=r,
        )
        self.check_failures = Counter(
            "pelihara_check_failures",
            "Non-OK results of the check, by failure reason.",
            (*CHECK_LABELS, "reason"),
            registry=r,
        )
        self.check_skipped = Counter(
            "pelihara_check_skipped_runs",
            "Runs not started because the previous run was still going.",
            CHECK_LABELS,
            registry=r,
        )

    def _define_agent_metrics(self) -> None:
        r = self.registry
        self.build_info = Gauge(
            "pelihara_agent_build_info",
            "Always 1; the label carries the agent version.",
            ("version",),
            registry=r,
        )
        self.build_info.labels(version=__version__).set(1)
        self.rounds = Counter(
            "pelihara_agent_rounds",
            "Scheduler rounds that started at least one check.",
            registry=r,
        )
        self.check_errors = Counter(
            "pelihara_agent_check_errors",
            "Runs that raised, timed out or returned no Outcome.",
            ("check",),
            registry=r,
        )

        self.scheduler_lag = Gauge(
            "pelihara_agent_scheduler_lag_seconds",
            "How late the latest check was started compared with its due time.",
            registry=r,
        )

        self.spool_pending = Gauge(
            "pelihara_agent_spool_pending_results",
            "Results in the spool waiting for the collector's acknowledgement.",
            registry=r,
        )
        self.spool_bytes = Gauge(
            "pelihara_agent_spool_bytes",
            "Bytes of the results in the spool.",
            registry=r,
        )
        self.spool_oldest_age = Gauge(
            "pelihara_agent_spool_oldest_pending_age_seconds",
            "Age of the oldest result in the spool, 0 when the spool is empty.",
            registry=r,
        )

        self.delivery_attempts = Counter(
            "pelihara_agent_delivery_attempts",
            "POST requests sent to the collector, heartbeats included.",
            registry=r,
        )
        self.delivery_failures = Counter(
            "pelihara_agent_delivery_failures",
            "POST requests that failed, by class of failure.",
            ("reason",),
            registry=r,
        )
        for reason in DELIVERY_FAILURES:
            self.delivery_failures.labels(reason)
        self.delivered_results = Counter(
            "pelihara_agent_delivered_results",
            "Results acknowledged by the collector.",
            registry=r,
        )
        self.rejected_results = Counter(
            "pelihara_agent_rejected_results",
            "Results the collector rejected as invalid, set aside in spool/rejected.",
            registry=r,
        )
        self.dropped_results = Counter(
            "pelihara_agent_dropped_results",
            "Results dropped from a full spool before delivery, by status.",
            ("status",),
            registry=r,
        )
        for status in Status:
            self.dropped_results.labels(status.name)

    def watch_spool(
        self,
        pending: Callable[[], float],
        size_bytes: Callable[[], float],
        oldest_age: Callable[[], float],
    ) -> None:
        """Compute the spool gauges from these callables at each scrape."""
        self.spool_pending.set_function(pending)
        self.spool_bytes.set_function(size_bytes)
        self.spool_oldest_age.set_function(oldest_age)

    def declare_checks(self, checks: tuple[CheckSpec, ...]) -> None:
        """Create label sets for `checks` and remove those of checks now gone."""
        wanted = {c.name: (c.name, c.kind, str(c.category)) for c in checks}
        with self._lock:
            for name, labels in list(self._known.items()):
                if wanted.get(name) != labels:
                    self._forget(name, labels)
            for name, labels in wanted.items():
                if name not in self._known:
                    self._known[name] = labels
                    self.check_skipped.labels(*labels)
                    self.check_errors.labels(name)
                    for reason in sorted(REASONS):
                        self.check_failures.labels(*labels, reason)

    def _forget(self, name: str, labels: tuple[str, str, str]) -> None:
        for metric in (
            self.check_status,
            self.check_up,
            self.check_confirmed,
            self.check_suppressed,
            self.check_duration,
            self.check_last_run,
            self.check_skipped,
        ):
            _remove(metric, labels)
        _remove(self.check_errors, (name,))
        for value in self._values.pop(name, set()):
            _remove(self.check_value, (*labels, value))
        for reason in REASONS:
            _remove(self.check_failures, (*labels, reason))
        for status in Status:
            _remove(self.check_runs, (*labels, status.name))
        del self._known[name]

    def observe_result(self, result: Result) -> None:
        """Update the per-check metrics from one result."""
        labels = (result.check, result.kind, str(result.category))
        self.check_status.labels(*labels).set(int(result.status))
        self.check_up.labels(*labels).set(1 if result.status == Status.OK else 0)
        self.check_confirmed.labels(*labels).set(1 if result.confirmed else 0)
        self.check_suppressed.labels(*labels).set(1 if result.suppressed else 0)
        self.check_duration.labels(*labels).set(result.duration_seconds)
        self.check_last_run.labels(*labels).set(result.observed_at.timestamp())
        self.check_runs.labels(*labels, result.status.name).inc()
        if result.status != Status.OK:
            reason = result.reason if result.reason in REASONS else "error"
            self.check_failures.labels(*labels, reason).inc()

        # A value the latest run did not measure is removed, not left stale.
        with self._lock:
            previous = self._values.get(result.check, set())
            self._values[result.check] = set(result.values)
        for gone in previous - set(result.values):
            _remove(self.check_value, (*labels, gone))
        for value_name, number in result.values.items():
            self.check_value.labels(*labels, value_name).set(float(number))

    def count_skip(self, spec: CheckSpec) -> None:
        """Count a run of `spec` not started because it was still running."""
        self.check_skipped.labels(spec.name, spec.kind, str(spec.category)).inc()


def _remove(metric: Gauge | Counter, labels: tuple[str, ...]) -> None:
    try:
        metric.remove(*labels)
    except KeyError:
        pass


def serve(metrics: Metrics, host: str, port: int) -> WSGIServer:
    """Serve /metrics on host:port in a daemon thread and return the server.

    Call `shutdown()` and then `server_close()` on the server to stop it.
    """
    server, _thread = start_http_server(port, addr=host, registry=metrics.registry)
    log.info("serving metrics on http://%s:%d/metrics", host, server.server_port)
    return server
