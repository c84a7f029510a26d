"""The maintenance procedure as data, loaded from a YAML workflow file."""

from collector.workflow.definition import (
    END,
    ROLES,
    Field,
    NextStep,
    Refusal,
    Step,
    TestStage,
    Workflow,
    WorkflowError,
)
from collector.workflow.loader import load_workflow, parse_workflow

__all__ = [
    "END",
    "ROLES",
    "Field",
    "NextStep",
    "Refusal",
    "Step",
    "TestStage",
    "Workflow",
    "WorkflowError",
    "load_workflow",
    "parse_workflow",
]
