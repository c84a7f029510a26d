"""The maintenance procedure as data: steps, who acts, deadlines, fields.

A workflow file lists the steps in order. A case enters the first step and
moves along the ``next`` lists. The fields of a step are recorded when the
step is completed, and a ``when`` condition on a next entry picks the path
from a recorded value (the classification of the analysis, say). A step
marked ``final`` is completed by closing the case, written as a transition
to ``END``.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from collector.calendar import WorkingDuration
from collector.limits import MAX_STAGE_NOTES_CHARS, too_long

logger = logging.getLogger(__name__)

ROLES = ("admin", "head", "technician", "unit", "vendor", "viewer")
PARTIES = ("bureau", "vendor")
FIELD_TYPES = (
    "text",
    "date",
    "datetime",
    "choice",
    "user",
    "bool",
    "list",
    "test_stages",
)
TEST_RESULTS = ("passed", "failed")

# Maximum characters of a text value, and of each entry of a list value,
# unless the field sets max_length in the workflow file.
DEFAULT_MAX_LENGTHS = {"text": 20_000, "list": 255}
# Highest max_length a workflow file may set; the request body limit is 16 MB.
MAX_LENGTH_CEILING = 1_000_000
MAX_LIST_ENTRIES = 100
# A date, datetime, choice or user name this long is invalid anyway, and is
# rejected by its length so that the message does not repeat it.
MAX_OTHER_CHARS = 255

# Target id of the transition that completes a final step and closes the case.
END = "closed"

DEFAULT_SOURCE_KEY = "default"

_TOP_KEYS = ("roles_always_allowed", "steps")
_STEP_KEYS = (
    "id",
    "name",
    "name_en",
    "party",
    "roles",
    "time_standard",
    "fields",
    "next",
    "final",
)
_FIELD_KEYS = (
    "id",
    "type",
    "name",
    "name_en",
    "choices",
    "required",
    "required_when",
    "user_role",
    "stages",
    "planned",
    "choice_names",
    "max_length",
)
_STAGE_KEYS = ("id", "name", "name_en")
_NEXT_KEYS = ("to", "when")


class WorkflowError(ValueError):
    """A workflow file that cannot be used; ``errors`` lists every problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class TestStage:
    """One stage of a staged test, recorded as passed or failed with notes."""

    id: str
    name: str
    name_en: str


@dataclass(frozen=True)
class Field:
    """A typed value a step records when it is completed."""

    id: str
    type: str
    name: str
    name_en: str
    choices: tuple[str, ...] = ()
    required: bool = True
    # Field id -> accepted values; the field is required only when every
    # listed field has one of its values.
    required_when: Mapping[str, tuple[Any, ...]] | None = None
    user_role: str | None = None
    stages: tuple[TestStage, ...] = ()
    # A date or datetime of something planned may lie in the future; any
    # other is a time something happened and cannot.
    planned: bool = False
    # Choice value -> label shown to people, e.g. "ringan (minor)".
    choice_names: Mapping[str, str] | None = None
    # Maximum characters of a text value or of each list entry, if not the
    # default of its type.
    max_length: int | None = None

    @property
    def max_chars(self) -> int:
        """The maximum characters of a text value or of each list entry."""
        if self.max_length is not None:
            return self.max_length
        return DEFAULT_MAX_LENGTHS.get(self.type, MAX_OTHER_CHARS)

    @property
    def label(self) -> str:
        """The field's name for people: Indonesian, then English."""
        return f"{self.name} ({self.name_en})"

    def choice_label(self, value: str) -> str:
        """Return the label of a choice value, else the value itself."""
        if self.choice_names and value in self.choice_names:
            return self.choice_names[value]
        return value

    def is_required(self, fields: Mapping[str, Any]) -> bool:
        """Return whether this field must be given, knowing the other values."""
        if not self.required:
            return False
        if not self.required_when:
            return True
        return all(
            fields.get(other) in accepted
            for other, accepted in self.required_when.items()
        )

    def condition_value(self, value: Any) -> Any:
        """Return the value ``when`` conditions compare: a staged test counts
        as passed only when every stage passed."""
        if self.type != "test_stages":
            return value
        if not isinstance(value, Mapping) or not value:
            return None
        results = [
            stage_value.get("result") if isinstance(stage_value, Mapping) else None
            for stage_value in value.values()
        ]
        return "passed" if all(result == "passed" for result in results) else "failed"

    def check(self, value: Any) -> list[str]:
        """Return the problems of a given (non-empty) value, if any.

        A value over its length limit gets only that problem.
        """
        problems = self.length_problems(value)
        if problems:
            return problems
        checker = _VALUE_CHECKS[self.type]
        return checker(self, value)

    def length_problems(self, value: Any) -> list[str]:
        """Return the problems of texts in ``value`` that are too long."""
        name = f"field {self.id!r}"
        if isinstance(value, str):
            message = too_long(name, value, self.max_chars)
            return [message] if message else []
        if isinstance(value, list):
            if len(value) > MAX_LIST_ENTRIES:
                return [
                    f"{name}: {len(value)} entries are more than the maximum of "
                    f"{MAX_LIST_ENTRIES}; combine or shorten them"
                ]
            messages = [
                too_long(f"{name} entry {number}", item, self.max_chars)
                for number, item in enumerate(value, start=1)
                if isinstance(item, str)
            ]
            return [message for message in messages if message]
        if isinstance(value, Mapping) and self.type == "test_stages":
            messages = [
                too_long(
                    f"field '{self.id}.{stage_id}.notes'",
                    stage_value["notes"],
                    MAX_STAGE_NOTES_CHARS,
                )
                for stage_id, stage_value in value.items()
                if isinstance(stage_value, Mapping)
                and isinstance(stage_value.get("notes"), str)
            ]
            return [message for message in messages if message]
        return []


@dataclass(frozen=True)
class NextStep:
    """A step a case may go to, and the recorded values that allow it."""

    to: str
    when: Mapping[str, tuple[Any, ...]] | None = None

    def holds(self, step: Step, fields: Mapping[str, Any]) -> bool:
        """Return whether the recorded ``fields`` of ``step`` allow this move."""
        if not self.when:
            return True
        return all(
            step.field(field_id).condition_value(fields.get(field_id)) in accepted
            for field_id, accepted in self.when.items()
        )


@dataclass(frozen=True)
class Step:
    """One stage of the procedure."""

    id: str
    name: str
    name_en: str
    party: Literal["bureau", "vendor"]
    roles: tuple[str, ...]
    # Case source -> time standard; the key "default" serves other sources.
    time_standards: Mapping[str, WorkingDuration]
    fields: tuple[Field, ...]
    next: tuple[NextStep, ...]
    final: bool = False

    def field(self, field_id: str) -> Field:
        """Return the field with this id, raising KeyError if there is none."""
        for field in self.fields:
            if field.id == field_id:
                return field
        raise KeyError(f"step {self.id!r} has no field {field_id!r}")

    def time_standard(self, source: str | None = None) -> WorkingDuration:
        """Return the working time allowed for this step for a case source."""
        if source in self.time_standards:
            return self.time_standards[source]
        return self.time_standards[DEFAULT_SOURCE_KEY]

    @property
    def targets(self) -> tuple[str, ...]:
        """Ids this step may go to, whatever the recorded values."""
        if self.final:
            return (END,)
        seen: list[str] = []
        for entry in self.next:
            if entry.to not in seen:
                seen.append(entry.to)
        return tuple(seen)


@dataclass(frozen=True)
class Refusal:
    """A reason a transition is not allowed; ``kind`` is role, transition or field."""

    kind: Literal["role", "transition", "field"]
    message: str
    # Id of the field at fault, for refusals of kind "field".
    field: str | None = None


@dataclass(frozen=True)
class Problem:
    """A problem with a recorded value, and the id of the field it concerns."""

    field: str | None
    message: str


class Workflow:
    """A loaded, validated procedure."""

    def __init__(
        self,
        steps: list[Step],
        roles_always_allowed: tuple[str, ...],
        source: str,
    ) -> None:
        self.steps = steps
        self.roles_always_allowed = roles_always_allowed
        self.source = source
        self._by_id = {step.id: step for step in steps}

    @property
    def first(self) -> Step:
        """The step every case enters first."""
        return self.steps[0]

    def step(self, step_id: str) -> Step:
        """Return the step with this id, raising KeyError if there is none."""
        try:
            return self._by_id[step_id]
        except KeyError:
            raise KeyError(
                f"unknown step {step_id!r}; expected one of {', '.join(self._by_id)}"
            ) from None

    def has_step(self, step_id: str) -> bool:
        """Return whether the workflow has a step with this id."""
        return step_id in self._by_id

    @property
    def sources(self) -> tuple[str, ...]:
        """Case sources listed as the ``source`` choices of the first step."""
        try:
            return self.first.field("source").choices
        except KeyError:
            return ()

    def allowed_roles(self, step_id: str) -> tuple[str, ...]:
        """Return the roles that may complete a step."""
        step = self.step(step_id)
        extra = tuple(r for r in self.roles_always_allowed if r not in step.roles)
        return step.roles + extra

    def allowed_next(self, step_id: str, fields: Mapping[str, Any]) -> list[str]:
        """Return the ids a case may go to from ``step_id`` with these values."""
        step = self.step(step_id)
        if step.final:
            return [END]
        allowed: list[str] = []
        for entry in step.next:
            if entry.to not in allowed and entry.holds(step, fields):
                allowed.append(entry.to)
        return allowed

    def validate_fields(self, step_id: str, fields: Mapping[str, Any]) -> list[str]:
        """Return the problems of the values recorded for a step (empty if none)."""
        return [problem.message for problem in self.field_problems(step_id, fields)]

    def field_problems(self, step_id: str, fields: Mapping[str, Any]) -> list[Problem]:
        """Return the problems of a step's values, each with its field id."""
        step = self.step(step_id)
        known = {field.id for field in step.fields}
        problems: list[Problem] = []
        for key in fields:
            if key not in known:
                problems.append(
                    Problem(
                        key,
                        f"unknown field {key!r} for step {step.id!r}"
                        + _suggestion(key, known, sorted(known)),
                    )
                )

        for field in step.fields:
            value = fields.get(field.id)
            if _is_empty(value):
                if field.is_required(fields):
                    problems.append(
                        Problem(
                            field.id,
                            f"missing required field {field.id!r} for step {step.id!r}",
                        )
                    )
                continue
            problems.extend(
                Problem(field.id, message) for message in field.check(value)
            )
        return problems

    def check_transition(
        self,
        from_step: str,
        to_step: str,
        role: str,
        fields: Mapping[str, Any],
    ) -> list[Refusal]:
        """Return every reason the move is not allowed (empty if it is)."""
        if not self.has_step(from_step):
            return [Refusal("transition", f"unknown step {from_step!r}")]
        step = self.step(from_step)
        refusals: list[Refusal] = []

        if to_step not in step.targets:
            allowed = ", ".join(step.targets)
            refusals.append(
                Refusal(
                    "transition",
                    f"step {step.id!r} cannot go to {to_step!r}; "
                    f"allowed next steps: {allowed}",
                )
            )

        roles = self.allowed_roles(step.id)
        if role not in roles:
            refusals.append(
                Refusal(
                    "role",
                    f"role {role!r} may not complete step {step.id!r}; "
                    f"allowed roles: {', '.join(roles)}",
                )
            )

        field_problems = self.field_problems(step.id, fields)
        refusals.extend(
            Refusal("field", problem.message, problem.field)
            for problem in field_problems
        )

        if not field_problems and to_step in step.targets and not step.final:
            entries = [entry for entry in step.next if entry.to == to_step]
            if not any(entry.holds(step, fields) for entry in entries):
                refusals.append(
                    Refusal("transition", _condition_message(step, entries, fields))
                )
        return refusals

    def validate_transition(
        self,
        from_step: str,
        to_step: str,
        role: str,
        fields: Mapping[str, Any],
    ) -> list[str]:
        """Return the reasons the move is refused as messages (empty if allowed)."""
        return [
            refusal.message
            for refusal in self.check_transition(from_step, to_step, role, fields)
        ]


def _condition_message(
    step: Step, entries: list[NextStep], fields: Mapping[str, Any]
) -> str:
    conditions = []
    for entry in entries:
        for field_id, accepted in (entry.when or {}).items():
            got = step.field(field_id).condition_value(fields.get(field_id))
            values = " or ".join(_show(value) for value in accepted)
            conditions.append(f"{field_id} is {values} (got {_show(got)})")
    return f"step {step.id!r} goes to {entries[0].to!r} only when " + "; ".join(
        conditions
    )


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str) and not value.strip():
        return True
    return isinstance(value, (list, dict)) and not value


def _suggestion(key: str, known: set[str] | tuple[str, ...], ordered: list[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; expected one of {', '.join(ordered)}"


def _check_text(field: Field, value: Any) -> list[str]:
    if isinstance(value, str):
        return []
    return [f"field {field.id!r}: expected text, got {value!r}"]


def _check_choice(field: Field, value: Any) -> list[str]:
    if isinstance(value, str) and value in field.choices:
        return []
    return [
        f"field {field.id!r}: invalid value {value!r}; expected one of "
        f"{', '.join(field.choices)}"
    ]


def _check_date(field: Field, value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if len(value) == 10:
                return []
    return [
        f"field {field.id!r}: invalid date {value!r}; expected YYYY-MM-DD, "
        "for example 2026-12-04"
    ]


def _check_datetime(field: Field, value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if parsed.utcoffset() is not None:
                return []
    return [
        f"field {field.id!r}: invalid datetime {value!r}; expected ISO 8601 "
        "with an offset, for example 2026-12-04T09:30:00+07:00"
    ]


def _check_bool(field: Field, value: Any) -> list[str]:
    if isinstance(value, bool):
        return []
    return [f"field {field.id!r}: expected true or false, got {value!r}"]


def _check_list(field: Field, value: Any) -> list[str]:
    if isinstance(value, list) and all(
        isinstance(item, str) and item.strip() for item in value
    ):
        return []
    return [f"field {field.id!r}: expected a list of non-empty texts, got {value!r}"]


def _check_user(field: Field, value: Any) -> list[str]:
    if isinstance(value, str) and value.strip():
        return []
    return [f"field {field.id!r}: expected a user name, got {value!r}"]


def _check_test_stages(field: Field, value: Any) -> list[str]:
    if not isinstance(value, Mapping):
        return [
            f"field {field.id!r}: expected an object with one entry per stage "
            f"({', '.join(stage.id for stage in field.stages)}), got {value!r}"
        ]
    stage_ids = [stage.id for stage in field.stages]
    problems = [
        f"field {field.id!r}: unknown stage {key!r}"
        + _suggestion(key, tuple(stage_ids), stage_ids)
        for key in value
        if key not in stage_ids
    ]
    for stage_id in stage_ids:
        stage_value = value.get(stage_id)
        if stage_value is None:
            problems.append(f"field {field.id!r}: missing result of stage {stage_id!r}")
            continue
        if not isinstance(stage_value, Mapping):
            problems.append(
                f"field '{field.id}.{stage_id}': expected an object with result "
                f"and notes, got {stage_value!r}"
            )
            continue
        result = stage_value.get("result")
        if result not in TEST_RESULTS:
            problems.append(
                f"field '{field.id}.{stage_id}.result': invalid value {result!r}; "
                "expected passed or failed"
            )
        notes = stage_value.get("notes", "")
        if not isinstance(notes, str):
            problems.append(
                f"field '{field.id}.{stage_id}.notes': expected text, got {notes!r}"
            )
        for key in stage_value:
            if key not in ("result", "notes"):
                problems.append(
                    f"field '{field.id}.{stage_id}': unknown key {key!r}; "
                    "expected result or notes"
                )
    return problems


_VALUE_CHECKS = {
    "text": _check_text,
    "choice": _check_choice,
    "date": _check_date,
    "datetime": _check_datetime,
    "bool": _check_bool,
    "list": _check_list,
    "user": _check_user,
    "test_stages": _check_test_stages,
}
