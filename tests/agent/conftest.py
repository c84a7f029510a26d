"""Fixtures for the agent's loader and check kinds."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.config import ConfigError, load_config
from agent.spec import CheckSpec

ConfigWriter = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """Return a function that writes dedented YAML to checks.yaml in tmp_path."""

    def write(text: str) -> Path:
        path = tmp_path / "checks.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


def config_messages(path: Path, environ: Mapping[str, str] | None = None) -> list[str]:
    """Return the loader's error lines for `path`, failing if it loads."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ or {})
    return [str(issue) for issue in caught.value.issues]


@pytest.fixture
def make_check(tmp_path: Path) -> Callable[..., CheckSpec]:
    """Return a function that loads one check of `kind` through the real loader."""

    def make(kind: str, **options: Any) -> CheckSpec:
        entry = {"name": options.pop("name", f"test-{kind}"), "kind": kind, **options}
        document = {"agent": {"host": "test-host"}, "checks": [entry]}
        path = tmp_path / f"{entry['name']}.yaml"
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return load_config(path, {}).checks[0]

    return make
