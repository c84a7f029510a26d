"""Read a workflow file and check it, reporting file, line and key path."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from collector.calendar import WorkingDuration
from collector.workflow.definition import (
    _FIELD_KEYS,
    _NEXT_KEYS,
    _STAGE_KEYS,
    _STEP_KEYS,
    _TOP_KEYS,
    DEFAULT_SOURCE_KEY,
    END,
    FIELD_TYPES,
    MAX_LENGTH_CEILING,
    PARTIES,
    ROLES,
    TEST_RESULTS,
    Field,
    NextStep,
    Step,
    TestStage,
    Workflow,
    WorkflowError,
    _suggestion,
)

logger = logging.getLogger(__name__)

KeyPath = tuple[str | int, ...]


def load_workflow(path: str | Path | None = None) -> Workflow:
    """Load and validate a workflow file; None loads the packaged default.

    Raise WorkflowError listing every problem as ``file:line: key: message``.
    """
    if path is None:
        package = resources.files("collector.workflow")
        text = package.joinpath("default.yaml").read_text("utf-8")
        name = "default.yaml"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise WorkflowError(
                [f"{path}: cannot read workflow file: {error.strerror}"]
            ) from None
        name = str(path)

    workflow = parse_workflow(text, name)
    logger.info("loaded workflow %s with %d steps", name, len(workflow.steps))
    return workflow


def parse_workflow(text: str, name: str) -> Workflow:
    """Build a Workflow from YAML text; ``name`` is the file named in errors."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise WorkflowError([f"{name}{line}: invalid YAML: {problem}"]) from None

    checker = _Checker(name)
    data = checker.convert(node, ()) if node is not None else None
    workflow = checker.workflow(data)
    if checker.errors:
        raise WorkflowError(checker.errors)
    assert workflow is not None
    return workflow


def _format_path(path: KeyPath) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class _Checker:
    """Converts the YAML node tree and collects every problem with its line."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.errors: list[str] = []
        self.lines: dict[KeyPath, int] = {(): 1}
        self._constructor = yaml.SafeLoader("")

    def error(self, path: KeyPath, message: str, line: int | None = None) -> None:
        if line is None:
            line_path = path
            while line_path not in self.lines:
                line_path = line_path[:-1]
            line = self.lines[line_path]
        where = _format_path(path)
        prefix = f"{self.name}:{line}: "
        self.errors.append(prefix + (f"{where}: {message}" if where else message))

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        """Turn a node into plain values, recording the line of every key."""
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            result: dict[Any, Any] = {}
            first_lines: dict[Any, int] = {}
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node, deep=True)
                key_line = key_node.start_mark.line + 1
                if not isinstance(key, str):
                    self.lines.setdefault(path + (str(key),), key_line)
                    self.error(path + (str(key),), f"key {key!r} must be a string")
                    continue
                if key in first_lines:
                    self.error(
                        path + (key,),
                        f"duplicate key {key!r} (first at line {first_lines[key]})",
                        line=key_line,
                    )
                    continue
                first_lines[key] = key_line
                self.lines[path + (key,)] = key_line
                result[key] = self.convert(value_node, path + (key,))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [
                self.convert(item, path + (index,))
                for index, item in enumerate(node.value)
            ]
        return self._constructor.construct_object(node, deep=True)

    # Shape checks. Each returns the value or None after recording an error.

    def mapping(self, value: Any, path: KeyPath, keys: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {_kind(value)}")
            return None
        for key in value:
            if key not in keys:
                self.error(
                    path + (key,),
                    f"unknown key {key!r}" + _suggestion(key, keys, list(keys)),
                )
        return value

    def text(self, data: dict, path: KeyPath, key: str, required: bool = True) -> Any:
        if key not in data:
            if required:
                self.error(path, f"missing key {key!r}")
            return None
        value = data[key]
        if not isinstance(value, str) or not value.strip():
            self.error(path + (key,), f"expected a non-empty string, got {value!r}")
            return None
        return value

    def string_list(self, data: dict, path: KeyPath, key: str) -> list[str] | None:
        value = data.get(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.error(path + (key,), f"expected a list of strings, got {value!r}")
            return None
        return value

    def boolean(self, data: dict, path: KeyPath, key: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.error(path + (key,), f"expected true or false, got {value!r}")
            return default
        return value

    def duration(self, value: Any, path: KeyPath) -> WorkingDuration | None:
        try:
            return WorkingDuration.parse(value)
        except ValueError as error:
            self.error(path, str(error))
            return None

    # The workflow itself.

    def workflow(self, data: Any) -> Workflow | None:
        top = self.mapping(data, (), _TOP_KEYS)
        if top is None:
            return None
        always = ("admin",)
        if "roles_always_allowed" in top:
            checked = self.roles(top, (), "roles_always_allowed")
            always = tuple(checked) if checked is not None else always

        steps_data = top.get("steps")
        if not isinstance(steps_data, list) or not steps_data:
            self.error(("steps",) if "steps" in top else (), self._no_steps(top))
            return None

        sources = self.sources(steps_data)
        steps: list[Step] = []
        seen: dict[str, int] = {}
        for index, step_data in enumerate(steps_data):
            step = self.step(step_data, ("steps", index), sources)
            if step is None:
                continue
            if step.id in seen:
                self.error(
                    ("steps", index, "id"),
                    f"duplicate step id {step.id!r} (also steps[{seen[step.id]}])",
                )
                continue
            seen[step.id] = index
            steps.append(step)

        if len(steps) == len(steps_data):
            self.check_graph(steps)
        return Workflow(steps, always, self.name)

    def _no_steps(self, top: dict) -> str:
        if "steps" not in top:
            return "missing key 'steps'; list the steps of the procedure"
        return f"expected a non-empty list of steps, got {_kind(top['steps'])}"

    def roles(self, data: dict, path: KeyPath, key: str) -> list[str] | None:
        roles = self.string_list(data, path, key)
        if roles is None:
            return None
        for index, role in enumerate(roles):
            if role not in ROLES:
                self.error(
                    path + (key, index),
                    f"unknown role {role!r}" + _suggestion(role, ROLES, list(ROLES)),
                )
        return roles

    def sources(self, steps_data: list) -> tuple[str, ...]:
        first = steps_data[0]
        fields = first.get("fields") if isinstance(first, dict) else None
        for field in fields if isinstance(fields, list) else []:
            if isinstance(field, dict) and field.get("id") == "source":
                choices = field.get("choices")
                if isinstance(choices, list):
                    return tuple(str(choice) for choice in choices)
        return ()

    def step(self, data: Any, path: KeyPath, sources: tuple[str, ...]) -> Step | None:
        step_data = self.mapping(data, path, _STEP_KEYS)
        if step_data is None:
            return None
        errors_before = len(self.errors)
        step_id = self.text(step_data, path, "id")
        name = self.text(step_data, path, "name")
        name_en = self.text(step_data, path, "name_en")

        party = step_data.get("party")
        if "party" not in step_data:
            self.error(path, "missing key 'party'; expected bureau or vendor")
        elif party not in PARTIES:
            self.error(
                path + ("party",), f"invalid party {party!r}; expected bureau or vendor"
            )

        roles = None
        if "roles" not in step_data:
            self.error(path, "missing key 'roles'; list the roles that act")
        else:
            roles = self.roles(step_data, path, "roles")

        time_standards = self.time_standards(step_data, path, sources)
        fields = self.fields(step_data, path)
        final = self.boolean(step_data, path, "final", False)
        next_steps = self.next_steps(step_data, path, final, fields or ())

        if len(self.errors) > errors_before:
            return None
        return Step(
            id=step_id,
            name=name,
            name_en=name_en,
            party=party,
            roles=tuple(roles or ()),
            time_standards=time_standards,
            fields=tuple(fields or ()),
            next=tuple(next_steps),
            final=final,
        )

    def time_standards(
        self, data: dict, path: KeyPath, sources: tuple[str, ...]
    ) -> dict[str, WorkingDuration]:
        if "time_standard" not in data:
            self.error(
                path,
                "missing key 'time_standard'; give a working duration like '1 day'",
            )
            return {}
        value = data["time_standard"]
        key_path = path + ("time_standard",)
        if not isinstance(value, dict):
            duration = self.duration(value, key_path)
            return {DEFAULT_SOURCE_KEY: duration} if duration else {}

        allowed = (DEFAULT_SOURCE_KEY,) + sources
        result: dict[str, WorkingDuration] = {}
        for source, text in value.items():
            if source not in allowed:
                self.error(
                    key_path + (source,),
                    f"unknown source {source!r}"
                    + _suggestion(source, allowed, list(allowed)),
                )
                continue
            duration = self.duration(text, key_path + (source,))
            if duration is not None:
                result[source] = duration
        if DEFAULT_SOURCE_KEY not in value:
            missing = [source for source in sources if source not in value]
            if missing or not sources:
                self.error(
                    key_path,
                    f"no time standard for source {', '.join(missing) or 'other'}; "
                    "add a 'default' entry",
                )
        return result

    def fields(self, data: dict, path: KeyPath) -> list[Field] | None:
        value = data.get("fields", [])
        if not isinstance(value, list):
            self.error(path + ("fields",), f"expected a list, got {_kind(value)}")
            return None
        fields: list[Field] = []
        seen: set[str] = set()
        for index, field_data in enumerate(value):
            field_path = path + ("fields", index)
            field = self.field(field_data, field_path)
            if field is None:
                continue
            if field.id in seen:
                self.error(field_path + ("id",), f"duplicate field id {field.id!r}")
                continue
            seen.add(field.id)
            fields.append(field)

        by_id = {field.id: field for field in fields}
        for index, field in enumerate(fields):
            if field.required_when:
                self.conditions(
                    field.required_when,
                    path + ("fields", index, "required_when"),
                    by_id,
                    data.get("id"),
                )
        return fields

    def field(self, data: Any, path: KeyPath) -> Field | None:
        field_data = self.mapping(data, path, _FIELD_KEYS)
        if field_data is None:
            return None
        errors_before = len(self.errors)
        field_id = self.text(field_data, path, "id")
        name = self.text(field_data, path, "name")
        name_en = self.text(field_data, path, "name_en")

        field_type = field_data.get("type")
        if "type" not in field_data:
            self.error(path, f"missing key 'type'; expected one of {_types()}")
        elif field_type not in FIELD_TYPES:
            self.error(
                path + ("type",),
                f"unknown field type {field_type!r}"
                + _suggestion(str(field_type), FIELD_TYPES, list(FIELD_TYPES)),
            )

        choices: tuple[str, ...] = ()
        if field_type == "choice":
            listed = self.string_list(field_data, path, "choices")
            choices = tuple(listed or ())
            if listed is not None and not listed:
                self.error(path + ("choices",), "a choice field needs choices")
        elif "choices" in field_data:
            self.error(path + ("choices",), "only a choice field takes choices")
        choice_names = self.choice_names(field_data, path, field_type, choices)

        planned = self.boolean(field_data, path, "planned", False)
        if "planned" in field_data and field_type not in ("date", "datetime"):
            self.error(
                path + ("planned",), "only a date or datetime field takes planned"
            )

        stages: tuple[TestStage, ...] = ()
        if field_type == "test_stages":
            stages = self.stages(field_data, path)
        elif "stages" in field_data:
            self.error(path + ("stages",), "only a test_stages field takes stages")

        user_role = field_data.get("user_role")
        if user_role is not None:
            if field_type != "user":
                self.error(path + ("user_role",), "only a user field takes user_role")
            elif user_role not in ROLES:
                self.error(
                    path + ("user_role",),
                    f"unknown role {user_role!r}"
                    + _suggestion(str(user_role), ROLES, list(ROLES)),
                )

        max_length = self.max_length(field_data, path, field_type)

        required = self.boolean(field_data, path, "required", True)
        required_when = None
        if "required_when" in field_data:
            required_when = self.condition_map(
                field_data["required_when"], path + ("required_when",)
            )

        if len(self.errors) > errors_before:
            return None
        return Field(
            id=field_id,
            type=field_type,
            name=name,
            name_en=name_en,
            choices=choices,
            required=required,
            required_when=required_when,
            user_role=user_role,
            stages=stages,
            planned=planned,
            choice_names=choice_names,
            max_length=max_length,
        )

    def max_length(self, data: dict, path: KeyPath, field_type: Any) -> int | None:
        if "max_length" not in data:
            return None
        key_path = path + ("max_length",)
        if field_type not in ("text", "list"):
            self.error(key_path, "only a text or list field takes max_length")
            return None
        value = data["max_length"]
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not 1 <= value <= MAX_LENGTH_CEILING
        ):
            self.error(
                key_path,
                f"expected a whole number of characters from 1 to "
                f"{MAX_LENGTH_CEILING}, got {value!r}",
            )
            return None
        return value

    def choice_names(
        self, data: dict, path: KeyPath, field_type: Any, choices: tuple[str, ...]
    ) -> dict[str, str] | None:
        if "choice_names" not in data:
            return None
        key_path = path + ("choice_names",)
        if field_type != "choice":
            self.error(key_path, "only a choice field takes choice_names")
            return None
        value = data["choice_names"]
        if not isinstance(value, dict):
            self.error(
                key_path,
                "expected a mapping from each choice to its label, for example "
                "{minor: ringan (minor)}",
            )
            return None
        names: dict[str, str] = {}
        for choice, label in value.items():
            if str(choice) not in choices:
                self.error(
                    key_path + (str(choice),),
                    f"unknown choice {choice!r}"
                    + _suggestion(str(choice), choices, list(choices)),
                )
            elif not isinstance(label, str) or not label.strip():
                self.error(key_path + (str(choice),), "expected a non-empty label")
            else:
                names[str(choice)] = label.strip()
        return names

    def stages(self, data: dict, path: KeyPath) -> tuple[TestStage, ...]:
        value = data.get("stages")
        if not isinstance(value, list) or not value:
            self.error(
                path + ("stages",) if "stages" in data else path,
                "a test_stages field needs a non-empty stages list",
            )
            return ()
        stages: list[TestStage] = []
        for index, stage_data in enumerate(value):
            stage_path = path + ("stages", index)
            checked = self.mapping(stage_data, stage_path, _STAGE_KEYS)
            if checked is None:
                continue
            stage_id = self.text(checked, stage_path, "id")
            name = self.text(checked, stage_path, "name")
            name_en = self.text(checked, stage_path, "name_en")
            if stage_id and name and name_en:
                if any(stage.id == stage_id for stage in stages):
                    self.error(stage_path + ("id",), f"duplicate stage id {stage_id!r}")
                    continue
                stages.append(TestStage(stage_id, name, name_en))
        return tuple(stages)

    def condition_map(self, value: Any, path: KeyPath) -> dict | None:
        if not isinstance(value, dict) or not value:
            self.error(
                path,
                f"expected a mapping of field id to value(s), got {_kind(value)}",
            )
            return None
        return {
            key: tuple(item if isinstance(item, list) else [item])
            for key, item in value.items()
        }

    def conditions(
        self,
        conditions: Mapping[str, tuple[Any, ...]],
        path: KeyPath,
        fields: dict[str, Field],
        step_id: Any,
    ) -> None:
        for field_id, accepted in conditions.items():
            key_path = path + (field_id,)
            field = fields.get(field_id)
            if field is None:
                self.error(
                    key_path,
                    f"unknown field {field_id!r} of step {step_id!r}"
                    + _suggestion(field_id, tuple(fields), list(fields)),
                )
                continue
            valid = _condition_values(field)
            for value in accepted:
                if valid is not None and value not in valid:
                    self.error(
                        key_path,
                        f"invalid value {value!r}; field {field_id!r} takes "
                        + ", ".join(str(v).lower() for v in valid),
                    )

    def next_steps(
        self, data: dict, path: KeyPath, final: bool, fields: list[Field]
    ) -> list[NextStep]:
        if final:
            if "next" in data:
                self.error(
                    path + ("next",),
                    "a final step has no next steps; remove next or final",
                )
            return []
        value = data.get("next")
        if "next" not in data or value == []:
            self.error(
                path,
                "missing key 'next'; list the next steps or set final: true",
            )
            return []
        if not isinstance(value, list):
            self.error(path + ("next",), f"expected a list, got {_kind(value)}")
            return []

        by_id = {field.id: field for field in fields}
        entries: list[NextStep] = []
        for index, item in enumerate(value):
            item_path = path + ("next", index)
            if isinstance(item, str):
                entries.append(NextStep(item))
                continue
            checked = self.mapping(item, item_path, _NEXT_KEYS)
            if checked is None:
                continue
            target = self.text(checked, item_path, "to")
            when = None
            if "when" in checked:
                when = self.condition_map(checked["when"], item_path + ("when",))
                if when is not None:
                    self.conditions(when, item_path + ("when",), by_id, data.get("id"))
            if target is not None:
                entries.append(NextStep(target, when))
        return entries

    def check_graph(self, steps: list[Step]) -> None:
        ids = [step.id for step in steps]
        for step_index, step in enumerate(steps):
            for next_index, entry in enumerate(step.next):
                if entry.to == END or entry.to not in ids:
                    reserved = (
                        f" ({END!r} is reserved: mark the step final instead)"
                        if entry.to == END
                        else _suggestion(entry.to, tuple(ids), ids)
                    )
                    self.error(
                        ("steps", step_index, "next", next_index),
                        f"unknown step {entry.to!r}{reserved}",
                    )

        reachable = {steps[0].id}
        pending = [steps[0]]
        by_id = {step.id: step for step in steps}
        while pending:
            for entry in pending.pop().next:
                if entry.to in by_id and entry.to not in reachable:
                    reachable.add(entry.to)
                    pending.append(by_id[entry.to])
        for index, step in enumerate(steps):
            if step.id not in reachable:
                self.error(
                    ("steps", index),
                    f"step {step.id!r} cannot be reached from the first step "
                    f"{steps[0].id!r}; list it in the next of an earlier step",
                )
        if not any(step.final for step in steps):
            self.error(("steps",), "no step is final; mark the last step final: true")


def _condition_values(field: Field) -> tuple[Any, ...] | None:
    if field.type == "choice":
        return field.choices
    if field.type == "test_stages":
        return TEST_RESULTS
    if field.type == "bool":
        return (True, False)
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _types() -> str:
    return ", ".join(FIELD_TYPES)
