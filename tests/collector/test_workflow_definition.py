"""Loading and checking workflow files, and the rules of the default one."""

from importlib import resources
from pathlib import Path

import pytest

from collector.calendar import WorkingDuration
from collector.workflow import END, Workflow, WorkflowError, load_workflow

from .procedure_support import workflow_with_approval

# Line numbers in the expected messages below refer to this text.
BASE = """\
steps:
  - id: received
    name: Diterima
    name_en: Received
    party: bureau
    roles: [head]
    time_standard: 1 day
    next: [restored]
  - id: restored
    name: Normal
    name_en: Restored
    party: bureau
    roles: [technician]
    time_standard: 1 hour
    final: true
"""

PASSED = {"result": "passed", "notes": ""}
FAILED = {"result": "failed", "notes": "timeout to unit B"}


@pytest.fixture(scope="module")
def workflow() -> Workflow:
    return load_workflow()


def load_errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "wf.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    prefix = f"{path}:"
    return [error.replace(prefix, "wf.yaml:", 1) for error in caught.value.errors]


def analysis_fields(classification: str) -> dict[str, str]:
    return {
        "findings_software": "report module raises on empty period",
        "findings_database": "no problem",
        "findings_hardware": "no problem",
        "classification": classification,
    }


def test_default_step_ids(workflow: Workflow) -> None:
    assert [step.id for step in workflow.steps] == [
        "received",
        "assignment",
        "analysis",
        "minor_repair",
        "vendor_notice",
        "coordination",
        "vendor_analysis",
        "repair_and_test",
        "report",
        "restored",
    ]


def test_default_first_step(workflow: Workflow) -> None:
    assert workflow.first.id == "received"


def test_default_source_time_standards(workflow: Workflow) -> None:
    received = workflow.step("received")
    assert received.time_standard("agent") == WorkingDuration(minutes=120)
    assert received.time_standard("memorandum") == WorkingDuration(days=1)
    assert received.time_standard(None) == WorkingDuration(days=1)


@pytest.mark.parametrize(
    ("step_id", "text", "party"),
    [
        ("assignment", "1 hour", "bureau"),
        ("analysis", "2 hours", "bureau"),
        ("minor_repair", "3 days", "bureau"),
        ("vendor_notice", "1 day", "bureau"),
        ("coordination", "2 hours", "bureau"),
        ("vendor_analysis", "1 day", "vendor"),
        ("repair_and_test", "3 days", "vendor"),
        ("report", "2 hours", "bureau"),
        ("restored", "1 hour", "bureau"),
    ],
)
def test_default_time_standard_and_party(
    workflow: Workflow, step_id: str, text: str, party: str
) -> None:
    step = workflow.step(step_id)
    assert step.time_standard() == WorkingDuration.parse(text)
    assert step.party == party


def test_default_minor_path(workflow: Workflow) -> None:
    assert workflow.allowed_next("received", {}) == ["assignment"]
    assert workflow.allowed_next("assignment", {}) == ["analysis"]
    assert workflow.allowed_next("analysis", analysis_fields("minor")) == [
        "minor_repair"
    ]
    assert workflow.allowed_next("minor_repair", {"retest_result": "passed"}) == [
        "report"
    ]
    assert workflow.allowed_next("report", {}) == ["restored"]
    assert workflow.allowed_next("restored", {}) == [END]


def test_default_severe_path(workflow: Workflow) -> None:
    assert workflow.allowed_next("analysis", analysis_fields("severe")) == [
        "vendor_notice"
    ]
    assert workflow.allowed_next("vendor_notice", {}) == ["coordination"]
    assert workflow.allowed_next("coordination", {}) == ["vendor_analysis"]
    assert workflow.allowed_next("vendor_analysis", {}) == ["repair_and_test"]
    tests = {"module_and_system": PASSED, "evaluation": PASSED}
    tests["network_and_units"] = PASSED
    assert workflow.allowed_next("repair_and_test", {"tests": tests}) == ["report"]


def test_default_failed_stage_returns_to_repair(workflow: Workflow) -> None:
    tests = {"module_and_system": PASSED, "evaluation": FAILED}
    tests["network_and_units"] = PASSED
    assert workflow.allowed_next("repair_and_test", {"tests": tests}) == [
        "repair_and_test"
    ]


def test_default_failed_retest_stays_in_repair(workflow: Workflow) -> None:
    assert workflow.allowed_next("minor_repair", {"retest_result": "failed"}) == [
        "minor_repair"
    ]


def test_default_analysis_without_classification(workflow: Workflow) -> None:
    assert workflow.allowed_next("analysis", {}) == []


def test_default_admin_always_allowed(workflow: Workflow) -> None:
    assert workflow.allowed_roles("assignment") == ("head", "admin")


def test_default_packaged_file_is_loaded() -> None:
    text = resources.files("collector.workflow").joinpath("default.yaml")
    assert "minor_repair" in text.read_text("utf-8")


def test_custom_file_used(tmp_path: Path) -> None:
    path = workflow_with_approval(tmp_path / "custom.yaml")

    custom = load_workflow(path)

    assert custom.step("assignment").time_standard() == WorkingDuration(minutes=30)
    assert custom.allowed_next("report", {}) == ["approval"]
    assert custom.allowed_next("approval", {}) == ["restored"]
    assert custom.validate_transition("approval", "restored", "head", {}) == [
        "missing required field 'approved_by' for step 'approval'"
    ]


def test_custom_file_name_in_workflow(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(BASE, encoding="utf-8")
    assert load_workflow(path).source == str(path)


def test_load_unknown_key(tmp_path: Path) -> None:
    text = BASE.replace("    time_standard: 1 hour\n", "    time_standrd: 1 hour\n")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:14: steps[1].time_standrd: unknown key 'time_standrd'; "
        "did you mean 'time_standard'?",
        "wf.yaml:9: steps[1]: missing key 'time_standard'; give a working "
        "duration like '1 day'",
    ]


def test_load_unknown_top_key(tmp_path: Path) -> None:
    text = "version: 2\n" + BASE
    assert load_errors(tmp_path, text) == [
        "wf.yaml:1: version: unknown key 'version'; expected one of "
        "roles_always_allowed, steps"
    ]


def test_load_unknown_next_step(tmp_path: Path) -> None:
    text = BASE.replace("next: [restored]", "next: [restord]")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:8: steps[0].next[0]: unknown step 'restord'; did you mean 'restored'?",
        "wf.yaml:9: steps[1]: step 'restored' cannot be reached from the first "
        "step 'received'; list it in the next of an earlier step",
    ]


def test_load_reserved_next_step(tmp_path: Path) -> None:
    text = BASE.replace("next: [restored]", "next: [restored, closed]")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:8: steps[0].next[1]: unknown step 'closed' ('closed' is "
        "reserved: mark the step final instead)"
    ]


def test_load_unreachable_step(tmp_path: Path) -> None:
    text = BASE.replace("next: [restored]", "next: [received]")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:9: steps[1]: step 'restored' cannot be reached from the first "
        "step 'received'; list it in the next of an earlier step"
    ]


def test_load_duplicate_key(tmp_path: Path) -> None:
    text = BASE.replace(
        "    name_en: Restored\n", "    name_en: Restored\n    name: X\n"
    )
    assert load_errors(tmp_path, text) == [
        "wf.yaml:12: steps[1].name: duplicate key 'name' (first at line 10)"
    ]


def test_load_duplicate_step_id(tmp_path: Path) -> None:
    text = BASE.replace("id: restored", "id: received")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:9: steps[1].id: duplicate step id 'received' (also steps[0])"
    ]


def test_load_unknown_role(tmp_path: Path) -> None:
    text = BASE.replace("roles: [head]", "roles: [hed]")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:6: steps[0].roles[0]: unknown role 'hed'; did you mean 'head'?"
    ]


def test_load_invalid_party(tmp_path: Path) -> None:
    text = BASE.replace("party: bureau", "party: unit", 1)
    assert load_errors(tmp_path, text) == [
        "wf.yaml:5: steps[0].party: invalid party 'unit'; expected bureau or vendor"
    ]


def test_load_invalid_duration(tmp_path: Path) -> None:
    text = BASE.replace("time_standard: 1 day", "time_standard: 1 fortnight")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:7: steps[0].time_standard: invalid working duration "
        "'1 fortnight': unknown unit 'fortnight'; expected days, hours or minutes"
    ]


def test_load_unknown_source(tmp_path: Path) -> None:
    text = BASE.replace(
        "    time_standard: 1 day\n",
        "    time_standard:\n      default: 1 day\n      agnet: 2 hours\n",
    )
    assert load_errors(tmp_path, text) == [
        "wf.yaml:9: steps[0].time_standard.agnet: unknown source 'agnet'; "
        "expected one of default"
    ]


def test_load_source_without_default(tmp_path: Path) -> None:
    text = BASE.replace(
        "    time_standard: 1 day\n",
        "    time_standard:\n      agent: 2 hours\n"
        "    fields:\n"
        "      - id: source\n"
        "        type: choice\n"
        "        choices: [agent, memorandum]\n"
        "        name: Sumber\n"
        "        name_en: Source\n",
    )
    assert load_errors(tmp_path, text) == [
        "wf.yaml:7: steps[0].time_standard: no time standard for source "
        "memorandum; add a 'default' entry"
    ]


def test_load_unknown_field_type(tmp_path: Path) -> None:
    text = BASE.replace(
        "    next: [restored]\n",
        "    fields:\n"
        "      - id: note\n"
        "        type: txt\n"
        "        name: Catatan\n"
        "        name_en: Note\n"
        "    next: [restored]\n",
    )
    assert load_errors(tmp_path, text) == [
        "wf.yaml:10: steps[0].fields[0].type: unknown field type 'txt'; "
        "did you mean 'text'?"
    ]


def test_load_when_unknown_field(tmp_path: Path) -> None:
    text = BASE.replace(
        "    next: [restored]\n",
        "    fields:\n"
        "      - id: level\n"
        "        type: choice\n"
        "        choices: [minor, severe]\n"
        "        name: Tingkat\n"
        "        name_en: Level\n"
        "    next:\n"
        "      - to: restored\n"
        "        when: {levle: minor}\n",
    )
    assert load_errors(tmp_path, text) == [
        "wf.yaml:16: steps[0].next[0].when.levle: unknown field 'levle' of step "
        "'received'; did you mean 'level'?"
    ]


def test_load_when_invalid_value(tmp_path: Path) -> None:
    text = BASE.replace(
        "    next: [restored]\n",
        "    fields:\n"
        "      - id: level\n"
        "        type: choice\n"
        "        choices: [minor, severe]\n"
        "        name: Tingkat\n"
        "        name_en: Level\n"
        "    next:\n"
        "      - to: restored\n"
        "        when: {level: major}\n",
    )
    assert load_errors(tmp_path, text) == [
        "wf.yaml:16: steps[0].next[0].when.level: invalid value 'major'; field "
        "'level' takes minor, severe"
    ]


def test_load_final_with_next(tmp_path: Path) -> None:
    text = BASE.replace("    final: true\n", "    final: true\n    next: [received]\n")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:16: steps[1].next: a final step has no next steps; remove next "
        "or final"
    ]


def test_load_missing_next(tmp_path: Path) -> None:
    text = BASE.replace("    next: [restored]\n", "")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:2: steps[0]: missing key 'next'; list the next steps or set "
        "final: true",
    ]


def test_load_no_final_step(tmp_path: Path) -> None:
    text = BASE.replace("    final: true\n", "    next: [received]\n")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:1: steps: no step is final; mark the last step final: true"
    ]


def test_load_invalid_yaml(tmp_path: Path) -> None:
    text = BASE.replace("roles: [head]", "roles: [head")
    assert load_errors(tmp_path, text) == [
        "wf.yaml:7: invalid YAML: expected ',' or ']', but got ':'"
    ]


def test_load_no_steps(tmp_path: Path) -> None:
    assert load_errors(tmp_path, "roles_always_allowed: [admin]\n") == [
        "wf.yaml:1: missing key 'steps'; list the steps of the procedure"
    ]


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.yaml"
    with pytest.raises(WorkflowError) as caught:
        load_workflow(path)
    assert caught.value.errors == [
        f"{path}: cannot read workflow file: No such file or directory"
    ]


def test_transition_not_allowed(workflow: Workflow) -> None:
    fields = {"source": "agent", "application": "SIMPEG"}
    assert workflow.validate_transition("received", "report", "head", fields) == [
        "step 'received' cannot go to 'report'; allowed next steps: assignment"
    ]


def test_transition_role_not_allowed(workflow: Workflow) -> None:
    fields = {"technician": "budi"}
    assert workflow.validate_transition("assignment", "analysis", "unit", fields) == [
        "role 'unit' may not complete step 'assignment'; allowed roles: head, admin"
    ]


def test_transition_admin_allowed(workflow: Workflow) -> None:
    fields = {"technician": "budi"}
    assert workflow.validate_transition("assignment", "analysis", "admin", fields) == []


def test_transition_missing_fields(workflow: Workflow) -> None:
    fields = {"source": "memorandum", "application": "SIMPEG"}
    assert workflow.validate_transition("received", "assignment", "head", fields) == [
        "missing required field 'letter_number' for step 'received'",
        "missing required field 'letter_date' for step 'received'",
        "missing required field 'unit' for step 'received'",
    ]


def test_transition_agent_source_needs_no_letter(workflow: Workflow) -> None:
    fields = {"source": "agent", "application": "SIMPEG"}
    assert (
        workflow.validate_transition("received", "assignment", "technician", fields)
        == []
    )


def test_transition_classification_mismatch(workflow: Workflow) -> None:
    assert workflow.validate_transition(
        "analysis", "minor_repair", "technician", analysis_fields("severe")
    ) == [
        "step 'analysis' goes to 'minor_repair' only when classification is minor "
        "(got severe)"
    ]


def test_transition_failed_stage_to_report(workflow: Workflow) -> None:
    tests = {"module_and_system": PASSED, "evaluation": FAILED}
    tests["network_and_units"] = PASSED
    assert workflow.validate_transition(
        "repair_and_test", "report", "vendor", {"tests": tests}
    ) == [
        "step 'repair_and_test' goes to 'report' only when tests is passed (got failed)"
    ]


def test_transition_final_step_closes(workflow: Workflow) -> None:
    fields = {"confirmation": "unit confirmed", "back_at": "2026-12-04T10:00:00+07:00"}
    assert workflow.validate_transition("restored", END, "technician", fields) == []


def test_transition_final_step_elsewhere(workflow: Workflow) -> None:
    fields = {"confirmation": "unit confirmed", "back_at": "2026-12-04T10:00:00+07:00"}
    assert workflow.validate_transition("restored", "report", "head", fields) == [
        "step 'restored' cannot go to 'report'; allowed next steps: closed"
    ]


def test_transition_unknown_field(workflow: Workflow) -> None:
    fields = analysis_fields("minor")
    fields["clasification"] = "minor"
    assert workflow.validate_transition(
        "analysis", "minor_repair", "technician", fields
    ) == [
        "unknown field 'clasification' for step 'analysis'; "
        "did you mean 'classification'?"
    ]


@pytest.mark.parametrize(
    ("step_id", "fields", "message"),
    [
        (
            "analysis",
            {**analysis_fields("minor"), "classification": "big"},
            "field 'classification': invalid value 'big'; expected one of "
            "minor, severe",
        ),
        (
            "received",
            {
                "source": "memorandum",
                "application": "SIMPEG",
                "unit": "Biro Umum",
                "letter_number": "M-12/2026",
                "letter_date": "04/12/2026",
            },
            "field 'letter_date': invalid date '04/12/2026'; expected YYYY-MM-DD, "
            "for example 2026-12-04",
        ),
        (
            "restored",
            {"confirmation": "ok", "back_at": "2026-12-04T10:00:00"},
            "field 'back_at': invalid datetime '2026-12-04T10:00:00'; expected "
            "ISO 8601 with an offset, for example 2026-12-04T09:30:00+07:00",
        ),
        (
            "vendor_notice",
            {
                "vendor": "PT Data",
                "notified_at": "2026-12-04T10:00:00+07:00",
                "channel": "email",
                "unit_copied": "yes",
            },
            "field 'unit_copied': expected true or false, got 'yes'",
        ),
        (
            "report",
            {"report": "done", "documents": "report.pdf"},
            "field 'documents': expected a list of non-empty texts, got 'report.pdf'",
        ),
        (
            "assignment",
            {"technician": 7},
            "field 'technician': expected a user name, got 7",
        ),
        (
            "vendor_analysis",
            {"root_cause": 42},
            "field 'root_cause': expected text, got 42",
        ),
    ],
)
def test_fields_invalid_value(
    workflow: Workflow, step_id: str, fields: dict, message: str
) -> None:
    assert workflow.validate_fields(step_id, fields) == [message]


def test_fields_test_stage_missing(workflow: Workflow) -> None:
    tests = {"module_and_system": PASSED, "evaluation": PASSED}
    assert workflow.validate_fields("repair_and_test", {"tests": tests}) == [
        "field 'tests': missing result of stage 'network_and_units'"
    ]


def test_fields_test_stage_invalid_result(workflow: Workflow) -> None:
    tests = {"module_and_system": PASSED, "evaluation": PASSED}
    tests["network_and_units"] = {"result": "ok"}
    assert workflow.validate_fields("repair_and_test", {"tests": tests}) == [
        "field 'tests.network_and_units.result': invalid value 'ok'; "
        "expected passed or failed"
    ]


def test_fields_test_stage_unknown(workflow: Workflow) -> None:
    tests = {"module_and_system": PASSED, "evaluation": PASSED}
    tests["network_and_units"] = PASSED
    tests["evalution"] = PASSED
    assert workflow.validate_fields("repair_and_test", {"tests": tests}) == [
        "field 'tests': unknown stage 'evalution'; did you mean 'evaluation'?"
    ]


@pytest.mark.parametrize(
    ("tests", "message"),
    [
        (
            "all passed",
            "field 'tests': expected an object with one entry per stage "
            "(module_and_system, evaluation, network_and_units), got 'all passed'",
        ),
        (
            {"module_and_system": PASSED, "evaluation": "passed"}
            | {"network_and_units": PASSED},
            "field 'tests.evaluation': expected an object with result and notes, "
            "got 'passed'",
        ),
        (
            {"module_and_system": PASSED, "evaluation": PASSED}
            | {"network_and_units": {"result": "passed", "notes": 3}},
            "field 'tests.network_and_units.notes': expected text, got 3",
        ),
        (
            {"module_and_system": PASSED, "evaluation": PASSED}
            | {"network_and_units": {"result": "passed", "by": "budi"}},
            "field 'tests.network_and_units': unknown key 'by'; expected result "
            "or notes",
        ),
    ],
)
def test_fields_test_stages_invalid(
    workflow: Workflow, tests: object, message: str
) -> None:
    assert workflow.validate_fields("repair_and_test", {"tests": tests}) == [message]


def test_step_unknown(workflow: Workflow) -> None:
    with pytest.raises(KeyError) as caught:
        workflow.step("approval")
    assert caught.value.args[0] == (
        "unknown step 'approval'; expected one of received, assignment, analysis, "
        "minor_repair, vendor_notice, coordination, vendor_analysis, "
        "repair_and_test, report, restored"
    )


def with_field(field_text: str) -> str:
    return BASE.replace(
        "    next: [restored]\n",
        "    fields:\n" + field_text + "    next: [restored]\n",
    )


def test_load_planned_date(tmp_path: Path) -> None:
    path = tmp_path / "wf.yaml"
    path.write_text(
        with_field(
            "      - id: visit_date\n"
            "        type: date\n"
            "        planned: true\n"
            "        name: Tanggal kunjungan\n"
            "        name_en: Visit date\n"
        ),
        encoding="utf-8",
    )
    assert load_workflow(path).step("received").field("visit_date").planned is True


def test_load_planned_on_text(tmp_path: Path) -> None:
    text = with_field(
        "      - id: note\n"
        "        type: text\n"
        "        planned: true\n"
        "        name: Catatan\n"
        "        name_en: Note\n"
    )
    assert load_errors(tmp_path, text) == [
        "wf.yaml:11: steps[0].fields[0].planned: only a date or datetime field "
        "takes planned"
    ]


def test_load_choice_names_unknown_choice(tmp_path: Path) -> None:
    text = with_field(
        "      - id: level\n"
        "        type: choice\n"
        "        choices: [minor, severe]\n"
        "        choice_names: {minor: ringan (minor), sever: berat (severe)}\n"
        "        name: Tingkat\n"
        "        name_en: Level\n"
    )
    assert load_errors(tmp_path, text) == [
        "wf.yaml:12: steps[0].fields[0].choice_names.sever: unknown choice "
        "'sever'; did you mean 'severe'?"
    ]


def test_default_choice_labels(workflow: Workflow) -> None:
    spec = workflow.step("analysis").field("classification")
    assert [spec.choice_label(choice) for choice in spec.choices] == [
        "ringan (minor)",
        "berat (severe)",
    ]


def test_default_every_choice_labelled(workflow: Workflow) -> None:
    unlabelled = [
        f"{step.id}.{spec.id}={choice}"
        for step in workflow.steps
        for spec in step.fields
        for choice in spec.choices
        if spec.choice_label(choice) == choice
    ]
    assert unlabelled == []


def test_fields_problem_names_field(workflow: Workflow) -> None:
    problems = workflow.field_problems("assignment", {})
    assert [problem.field for problem in problems] == ["technician"]
