"""Check kinds. Each kind is a module of this package named after the kind.

A kind module is imported only when a check of that kind is configured, so
an agent without `sql` checks never loads a database driver. What a kind
module declares (CATEGORY, OPTIONS, THRESHOLDS, prepare, run) is described
in `agent.checks.schema`; `base` and `schema` are helpers, not kinds.
"""

from __future__ import annotations

import importlib
from types import ModuleType

KINDS = (
    "http",
    "tcp",
    "tls",
    "process",
    "command",
    "sql",
    "disk",
    "memory",
    "swap",
    "cpu",
    "load",
    "temperature",
    "network",
    "uptime",
    "backup",
)


def load_kind(kind: str) -> ModuleType:
    """Import and return the module that implements `kind`.

    Raises KeyError for a kind not in KINDS.
    """
    if kind not in KINDS:
        raise KeyError(kind)
    return importlib.import_module(f"{__name__}.{kind}")
