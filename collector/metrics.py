"""Prometheus metrics of the collector, computed from the database.

Counters live in the `metric_counters` table and gauges are queried at
scrape time, so every gunicorn worker and every collector host sharing the
database serves the same numbers. Labels take values from closed sets
(statuses, case sources, procedure steps, error kinds), never host or check
names, to keep the number of series bounded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute, Session

from collector.models import Case, Host, MetricCounter, utcnow
from collector.models.procedure import StepRecord, overdue_at

logger = logging.getLogger(__name__)

COUNTERS = {
    "results_received": ("Results stored, by status.", "status"),
    "result_duplicates": ("Results whose id was already stored.", ""),
    "ingest_errors": ("Result posts rejected, by kind of error.", "kind"),
}


def increment_counters(
    session: Session, amounts: Mapping[tuple[str, str], int]
) -> None:
    """Add to counters in the caller's transaction; keys are (name, label)."""
    if not amounts:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Sorted, so concurrent transactions lock the rows in the same order.
    for (name, label), amount in sorted(amounts.items()):
        statement = insert(MetricCounter).values(name=name, label=label, value=amount)
        statement = statement.on_conflict_do_update(
            index_elements=[MetricCounter.name, MetricCounter.label],
            set_={"value": MetricCounter.value + statement.excluded.value},
        )
        session.execute(statement)


def not_reporting_hosts(session: Session, now: datetime) -> list[Host]:
    """Return hosts silent for more than twice their agent's interval."""
    hosts = session.scalars(
        select(Host).where(
            Host.last_seen_at.is_not(None), Host.interval_seconds.is_not(None)
        )
    )
    return [
        host
        for host in hosts
        if now - host.last_seen_at > timedelta(seconds=2 * host.interval_seconds)
    ]


class DatabaseCollector(Collector):
    """Yield the collector's metrics, read with `session` at each scrape."""

    def __init__(self, session: Session, steps_now: datetime) -> None:
        self._session = session
        self._steps_now = steps_now

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        session = self._session
        yield from self._counters(session)
        yield self._open_cases(session)
        yield self._closed_cases(session)
        yield _overdue_steps(session, self._steps_now)
        hosts = GaugeMetricFamily(
            "pelihara_hosts_not_reporting",
            "Hosts whose agent was silent for more than twice its interval.",
        )
        hosts.add_metric([], len(not_reporting_hosts(session, utcnow())))
        yield hosts

    def _counters(self, session: Session) -> Iterator[CounterMetricFamily]:
        rows = session.execute(
            select(MetricCounter.name, MetricCounter.label, MetricCounter.value)
        ).all()
        for name, (documentation, label_name) in COUNTERS.items():
            family = CounterMetricFamily(
                f"pelihara_{name}",
                documentation,
                labels=[label_name] if label_name else [],
            )
            found = False
            for row_name, label, value in rows:
                if row_name == name:
                    family.add_metric([label] if label_name else [], value)
                    found = True
            if not found and not label_name:
                family.add_metric([], 0)
            yield family

    def _open_cases(self, session: Session) -> GaugeMetricFamily:
        return _case_counts(
            session, "open", Case.step, "step", "Open cases, by step and source."
        )

    def _closed_cases(self, session: Session) -> GaugeMetricFamily:
        # False alarms and duplicates are kept as cases, so reports count
        # them apart from the cases that were repaired (resolution restored).
        return _case_counts(
            session,
            "closed",
            Case.resolution,
            "resolution",
            "Closed cases, by resolution and source.",
        )


def _case_counts(
    session: Session,
    status: str,
    column: InstrumentedAttribute[Any],
    label: str,
    documentation: str,
) -> GaugeMetricFamily:
    # Cases of one status counted by `column` and source, as pelihara_cases_<status>.
    family = GaugeMetricFamily(
        f"pelihara_cases_{status}", documentation, labels=[label, "source"]
    )
    rows = session.execute(
        select(column, Case.source, func.count())
        .where(Case.status == status)
        .group_by(column, Case.source)
    )
    for value, source, count in rows:
        family.add_metric([value or "", source], count)
    return family


def _overdue_steps(session: Session, now: datetime) -> GaugeMetricFamily:
    # The step a case is waiting in is its one record without completed_at;
    # the party label keeps the vendor's breaches apart from the bureau's.
    family = GaugeMetricFamily(
        "pelihara_steps_overdue",
        "Open cases whose current step is past its deadline, by step and party.",
        labels=["step", "party"],
    )
    rows = session.execute(
        select(StepRecord.step, StepRecord.party, func.count())
        .join(Case, Case.id == StepRecord.case_id)
        .where(overdue_at(now))
        .group_by(StepRecord.step, StepRecord.party)
    )
    for step, party, count in rows:
        family.add_metric([step, party], count)
    return family


def render_metrics(session: Session, now: datetime | None = None) -> bytes:
    """Return the Prometheus text exposition of the collector's metrics.

    `now` decides which steps are overdue; the procedure's clock passes it.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(session, now or utcnow()))
    return generate_latest(registry)
