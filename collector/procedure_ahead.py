"""The steps a case has still ahead, read from the workflow's next lists.

From the case's current step the walk follows every ``next`` entry. A
step with one next step adds it to the current run. A step with several
(the analysis, whose classification picks the minor or the severe path)
ends the run and starts one labelled run per next step. A move back to a
step already on the run, or done in this round, is a retry and not a step
ahead, so the walk always ends. No step id is hard-coded, so a workflow
file with added or renamed steps is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from collector.workflow import END, Step, Workflow
from collector.workflow.definition import Field

# A choice label written as "ringan (minor)": Indonesian, then English.
_BILINGUAL_LABEL = re.compile(r"^(?P<name>.+?) \((?P<name_en>[^()]+)\)$")
# Maximum number of runs listed. Each next step of a branch starts a run,
# so branches inside branches could otherwise list very many.
MAX_RUNS = 32
STAGE_RESULT_LABELS = {"passed": "lulus (passed)", "failed": "gagal (failed)"}


@dataclass(frozen=True)
class StepAhead:
    """A step the case has not reached, with who does it and its time standard."""

    id: str
    name: str
    name_en: str
    party: str
    roles: tuple[str, ...]
    time_standard: str


@dataclass(frozen=True)
class PathLabel:
    """The name of one path from a branching step, and the values that pick it."""

    key: str
    name: str
    name_en: str
    condition: str


@dataclass(frozen=True)
class RunAhead:
    """Steps ahead in order, after the branch choices in ``labels``.

    The run before the first branch has no labels.
    """

    labels: tuple[PathLabel, ...]
    steps: tuple[StepAhead, ...]


def runs_ahead(
    workflow: Workflow,
    step_id: str,
    source: str | None,
    done: Collection[str] = (),
) -> list[RunAhead]:
    """Return the runs of steps still ahead of a case on ``step_id``.

    ``source`` picks each step's time standard, and ``done`` lists the
    steps already completed in the case's current round. A step id the
    workflow does not know has nothing ahead.
    """
    if not workflow.has_step(step_id):
        return []
    runs: list[RunAhead] = []
    _collect(
        workflow,
        workflow.step(step_id),
        None,
        (),
        {step_id, *done},
        source,
        runs,
    )
    return runs


def _collect(
    workflow: Workflow,
    after: Step,
    first: Step | None,
    labels: tuple[PathLabel, ...],
    visited: set[str],
    source: str | None,
    runs: list[RunAhead],
) -> None:
    steps = [first] if first is not None else []
    step = first or after
    targets = _forward_targets(step, visited)
    while len(targets) == 1:
        step = workflow.step(targets[0])
        visited = visited | {step.id}
        steps.append(step)
        targets = _forward_targets(step, visited)
    if steps:
        runs.append(
            RunAhead(labels, tuple(_step_ahead(item, source) for item in steps))
        )
    for target in targets:
        if len(runs) >= MAX_RUNS:
            return
        _collect(
            workflow,
            step,
            workflow.step(target),
            labels + (_path_label(workflow, step, target),),
            visited | {target},
            source,
            runs,
        )


def _forward_targets(step: Step, visited: set[str]) -> list[str]:
    return [
        target for target in step.targets if target != END and target not in visited
    ]


def _step_ahead(step: Step, source: str | None) -> StepAhead:
    return StepAhead(
        id=step.id,
        name=step.name,
        name_en=step.name_en,
        party=step.party,
        roles=step.roles,
        time_standard=str(step.time_standard(source)),
    )


def _value_label(spec: Field, value: Any) -> str:
    if spec.type == "choice" and isinstance(value, str):
        return spec.choice_label(value)
    if spec.type == "test_stages":
        return STAGE_RESULT_LABELS.get(value, str(value))
    if isinstance(value, bool):
        return "Ya (yes)" if value else "Tidak (no)"
    return str(value)


def _path_label(workflow: Workflow, step: Step, target: str) -> PathLabel:
    """Name the path from ``step`` to ``target`` by the value that picks it.

    A single choice value gives "Jalur ringan (Minor path)" from the label
    "ringan (minor)". Any other path is named by the step it leads to.
    """
    entries = [entry for entry in step.next if entry.to == target]
    conditions = [
        (step.field(field_id), accepted)
        for entry in entries
        for field_id, accepted in (entry.when or {}).items()
    ]
    condition = "; ".join(
        f"{spec.label}: {' / '.join(_value_label(spec, value) for value in accepted)}"
        for spec, accepted in conditions
    )
    unconditional = any(not entry.when for entry in entries)
    if not unconditional and len(conditions) == 1:
        spec, accepted = conditions[0]
        if spec.type == "choice" and len(accepted) == 1:
            value = accepted[0]
            label = spec.choice_label(value)
            match = _BILINGUAL_LABEL.match(label)
            name, name_en = (
                (match["name"], match["name_en"]) if match else (label, str(value))
            )
            return PathLabel(
                key=str(value),
                name=f"Jalur {name}",
                name_en=f"{name_en[:1].upper()}{name_en[1:]} path",
                condition=condition,
            )
    target_step = workflow.step(target)
    return PathLabel(
        key=target,
        name=f"Jalur {target_step.name}",
        name_en=f"Path through {target_step.name_en}",
        condition=condition,
    )
