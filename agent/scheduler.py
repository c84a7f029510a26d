"""Run every check on its own interval and turn its outcomes into results.

Each check has a due time on the monotonic clock. At start the first due
time is spread by a random splay, uniform in [0, min(interval, splay cap)),
so a fleet of agents started together does not hit shared targets at once.
`tick()` starts every due check through the Runner, which never blocks it;
a check whose previous run is still alive is skipped and counted. When a
run finishes, its outcome goes through the soft/hard state machine
(`agent.state`), gets its suppression, and the Result is passed to every
listener (the spool writer in the CLI), then to the metrics.
"""

from __future__ import annotations

import logging
import math
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent.metrics import Metrics
from agent.runner import Run, Runner
from agent.spec import CheckSpec, Config, Outcome, Result, Status
from agent.state import CheckState, advance
from agent.units import plural

log = logging.getLogger(__name__)

#: Upper bound of the start splay in seconds, whatever the interval.
DEFAULT_SPLAY_CAP = 300.0

Listener = Callable[[Result], None]


@dataclass
class _Slot:
    spec: CheckSpec
    next_due: float
    state: CheckState = field(default_factory=CheckState)
    # False until the check has a confirmed result or a saved hard state, so
    # the first confirmed result is not logged as a change from OK.
    known: bool = False


class Scheduler:
    """Schedules the checks of one Config and keeps their hard states.

    `clock` is a monotonic clock in seconds, `rng` draws the splay; both are
    parameters so tests can control them. `hard_states` are the confirmed
    statuses saved by an earlier run, and `on_hard_change(states)` is called
    with every check's hard status whenever one of them changes.
    """

    def __init__(
        self,
        config: Config,
        *,
        runner: Runner | None = None,
        metrics: Metrics | None = None,
        splay: bool = True,
        splay_cap: float = DEFAULT_SPLAY_CAP,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
        hard_states: Mapping[str, Status] | None = None,
        on_hard_change: Callable[[Mapping[str, Status]], None] | None = None,
    ) -> None:
        self._runner = runner or Runner()
        self._metrics = metrics
        self._splay = splay
        self._splay_cap = splay_cap
        self._rng = rng or random.Random()
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._config = config
        self._on_hard_change = on_hard_change
        self._persist_lock = threading.Lock()
        saved = hard_states or {}
        now = clock()
        self._slots = {
            spec.name: _Slot(
                spec,
                now + self._draw_splay(spec),
                CheckState(hard=saved.get(spec.name, Status.OK)),
                known=spec.name in saved,
            )
            for spec in config.checks
        }
        if metrics is not None:
            metrics.declare_checks(config.checks)

    @property
    def config(self) -> Config:
        return self._config

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(result)` for every result, from a runner thread."""
        self._listeners.append(listener)

    def hard_state(self, name: str) -> Status:
        """Return the confirmed status of check `name`."""
        with self._lock:
            return self._slots[name].state.hard

    def hard_states(self) -> dict[str, Status]:
        """Return the confirmed status of every check, by name."""
        with self._lock:
            return {name: slot.state.hard for name, slot in self._slots.items()}

    def _draw_splay(self, spec: CheckSpec) -> float:
        if not self._splay:
            return 0.0
        return self._rng.uniform(0.0, min(spec.interval, self._splay_cap))

    def seconds_until_due(self) -> float:
        """Return the seconds until the next check is due, 0 if one is late."""
        with self._lock:
            if not self._slots:
                return float("inf")
            earliest = min(slot.next_due for slot in self._slots.values())
        return max(0.0, earliest - self._clock())

    def tick(self, only: Iterable[str] | None = None) -> int:
        """Start every due check (of `only`, if given) and return how many.

        A due check that is still running is skipped and counted. If its
        last run timed out and the thread still hangs, the skipped turn also
        gives an UNKNOWN timeout result. Without it, a hung check with
        retries would stay soft forever and `--once` would never end.
        """
        now = self._clock()
        selected = None if only is None else set(only)
        with self._lock:
            due = [
                slot
                for slot in self._slots.values()
                if slot.next_due <= now
                and (selected is None or slot.spec.name in selected)
            ]
            for slot in due:
                lag = now - slot.next_due
                if self._metrics is not None:
                    self._metrics.scheduler_lag.set(lag)
                slot.next_due += slot.spec.interval
                if slot.next_due <= now:
                    # Far behind (a suspended machine): restart the cadence now.
                    slot.next_due = now + slot.spec.interval

        started = 0
        for slot in due:
            if self._runner.start(slot.spec, self._finish):
                started += 1
                continue
            self._skip(slot.spec)

        if started and self._metrics is not None:
            self._metrics.rounds.inc()
        return started

    def _skip(self, spec: CheckSpec) -> None:
        log.warning(
            "check %s is still running from its previous turn; not starting it again",
            spec.name,
        )
        if self._metrics is not None:
            self._metrics.count_skip(spec)
        if self._runner.is_abandoned(spec.name):
            outcome = Outcome(
                Status.UNKNOWN,
                "still running after its previous run timed out",
                reason="timeout",
            )
            self._finish(Run(spec, outcome, datetime.now(UTC), 0.0, caught=True))
            return

        # The run has not timed out yet, so its result is on the way; try
        # again after retry_interval rather than a whole interval later.
        with self._lock:
            slot = self._slots.get(spec.name)
            if slot is not None:
                soon = self._clock() + min(spec.retry_interval, spec.interval)
                slot.next_due = min(slot.next_due, soon)

    def _finish(self, run: Run) -> None:
        spec, outcome = run.spec, run.outcome
        with self._lock:
            slot = self._slots.get(spec.name)
            before = slot.state if slot is not None else CheckState()
            first = slot is None or not slot.known
            verdict = advance(before, outcome.status, spec.retries, spec.recover_after)
            if slot is not None:
                slot.state = verdict.state
                slot.known = slot.known or verdict.confirmed
                if verdict.retry:
                    retry_due = self._clock() + spec.retry_interval
                    slot.next_due = min(slot.next_due, retry_due)
            suppressed = self._suppression(spec, outcome.status, run.observed_at)

        result = Result(
            check=spec.name,
            kind=spec.kind,
            category=spec.category,
            status=Status(outcome.status),
            message=outcome.message,
            values=dict(outcome.values),
            reason=outcome.reason,
            observed_at=run.observed_at,
            duration_seconds=run.duration_seconds,
            confirmed=verdict.confirmed,
            suppressed=suppressed,
            open_case_on=spec.open_case_on,
            application=spec.application,
            unit=spec.unit,
        )
        _log_result(result, before, verdict.state, first)
        if verdict.state.hard != before.hard:
            self._persist_hard_states()
        # Listeners first: the spool must get the result even if a kind
        # returned a value the metrics cannot take.
        for listener in self._listeners:
            try:
                listener(result)
            except Exception:
                log.exception(
                    "listener failed on result %s of check %s", result.id, spec.name
                )
        if self._metrics is not None:
            try:
                self._metrics.observe_result(result)
                if run.caught:
                    self._metrics.check_errors.labels(spec.name).inc()
            except (TypeError, ValueError):
                log.exception("metrics of check %s not updated", spec.name)

    def _persist_hard_states(self) -> None:
        if self._on_hard_change is None:
            return
        # The snapshot is taken under the persist lock, so a slower thread
        # can never write an older snapshot over a newer one.
        with self._persist_lock:
            try:
                self._on_hard_change(self.hard_states())
            except Exception:
                log.exception("saving the hard states of the checks failed")

    def _suppression(self, spec: CheckSpec, status: Status, at: datetime) -> str | None:
        if status == Status.OK:
            return None
        for window in self._config.maintenance:
            if window.checks and spec.name not in window.checks:
                continue
            if window.is_active(at):
                return f"maintenance:{window.name}"
        for name in spec.depends_on:
            # NOTE: the forever mode does not order checks, so a dependency
            # failing in the same round suppresses the dependent only once
            # the dependency's failure is confirmed. run_once orders them.
            dependency = self._slots.get(name)
            if dependency is not None and dependency.state.hard != Status.OK:
                return f"depends_on:{name}"
        return None

    def reload(self, config: Config) -> None:
        """Switch to `config`, keeping the state and cadence of kept checks."""
        now = self._clock()
        with self._lock:
            slots: dict[str, _Slot] = {}
            for spec in config.checks:
                old = self._slots.get(spec.name)
                if old is None:
                    slots[spec.name] = _Slot(spec, now + self._draw_splay(spec))
                    continue
                next_due = min(old.next_due, now + spec.interval)
                slots[spec.name] = _Slot(spec, next_due, old.state, old.known)
            added = slots.keys() - self._slots.keys()
            removed = self._slots.keys() - slots.keys()
            self._slots = slots
            self._config = config
        if self._metrics is not None:
            self._metrics.declare_checks(config.checks)
        if removed:
            self._persist_hard_states()
        log.info(
            "configuration %s loaded: %s (%d added, %d removed)",
            config.source,
            plural(len(slots), "check"),
            len(added),
            len(removed),
        )

    def run(
        self,
        stop: threading.Event,
        before_tick: Callable[[], None] | None = None,
        after_round: Callable[[], None] | None = None,
        poll: float = 0.5,
    ) -> None:
        """Tick until `stop` is set, waking at least every `poll` seconds.

        `before_tick` runs in this thread before each tick (the CLI reloads
        the configuration there), `after_round` after a tick that started
        checks (the CLI wakes the delivery thread there).
        """
        while not stop.is_set():
            if before_tick is not None:
                before_tick()
                if stop.is_set():
                    break
            try:
                started = self.tick()
            except Exception:
                # One failing round (no thread could be started, say) must
                # not end the agent; the next tick tries again.
                log.exception("scheduler round failed")
                started = 0
            if started and after_round is not None:
                after_round()
            stop.wait(min(self.seconds_until_due(), poll))

    def run_once(self, stop: threading.Event | None = None) -> list[Result]:
        """Run every check now until its result is confirmed; return those.

        A soft failure is re-run after its retry_interval, as in the forever
        mode, so the returned results are all confirmed unless `stop` is set
        first. A check starts only once the checks it depends on have a
        confirmed result, so its suppression does not depend on which
        thread finishes first. Results come back in the order of the
        configuration.
        """
        finished: queue.Queue[Result] = queue.Queue()
        self.add_listener(finished.put)
        with self._lock:
            order = list(self._slots)
            depends = {
                name: set(slot.spec.depends_on) & set(order)
                for name, slot in self._slots.items()
            }
            for slot in self._slots.values():
                slot.next_due = math.inf

        final: dict[str, Result] = {}
        released: set[str] = set()
        while len(final) < len(order) and not (stop and stop.is_set()):
            self._release_ready(order, depends, final, released)
            self.tick(only=released - final.keys())
            wait = min(self.seconds_until_due(), 0.2)
            try:
                result = finished.get(timeout=wait)
            except queue.Empty:
                continue
            if result.confirmed:
                final[result.check] = result
        return [final[name] for name in order if name in final]

    def _release_ready(
        self,
        order: list[str],
        depends: dict[str, set[str]],
        final: dict[str, Result],
        released: set[str],
    ) -> None:
        """Make due the checks of `run_once` whose dependencies are final."""
        waiting = [name for name in order if name not in released]
        ready = [name for name in waiting if depends[name] <= final.keys()]
        if waiting and not ready and released <= final.keys():
            ready = waiting  # a dependency cycle: nothing else can free them
        now = self._clock()
        with self._lock:
            for name in ready:
                self._slots[name].next_due = now
        released.update(ready)


def _log_result(
    result: Result, before: CheckState, after: CheckState, first: bool
) -> None:
    """Log a hard change at WARNING; `first` means no earlier hard state exists."""
    if after.hard != before.hard and first:
        log.warning(
            "check %s: first result %s: %s",
            result.check,
            after.hard.name,
            result.message,
        )
    elif after.hard != before.hard:
        log.warning(
            "check %s is now %s (was %s): %s",
            result.check,
            after.hard.name,
            before.hard.name,
            result.message,
        )
    elif not result.confirmed:
        log.info(
            "check %s: soft %s, re-running to confirm: %s",
            result.check,
            result.status.name,
            result.message,
        )
    else:
        log.debug("check %s: %s: %s", result.check, result.status.name, result.message)
