"""docs/checks.md documents every key the loader accepts; README shows each kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.checks import KINDS, load_kind
from agent.config import AGENT_OPTIONS, CHECK_OPTIONS, load_config
from agent.maintenance import OPTIONS as MAINTENANCE_OPTIONS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "checks.md"
README = DOCS.parents[1] / "README.md"


def section(title: str) -> str:
    text = DOCS.read_text()
    match = re.search(rf"^#+ `{re.escape(title)}`\n(.*?)(?=^#+ |\Z)", text, re.M | re.S)
    assert match, f"no section for {title} in {DOCS}"
    return match.group(1)


def table_keys(text: str) -> list[str]:
    return re.findall(r"^\| `([a-z_]+)` \|", text, re.M)


@pytest.mark.parametrize("kind", KINDS)
def test_docs_kind_keys_match_schema(kind: str) -> None:
    declared = [option.key for option in load_kind(kind).OPTIONS]

    assert table_keys(section(kind)) == declared


def test_docs_common_keys_match_schema() -> None:
    declared = [option.key for option in CHECK_OPTIONS]

    assert table_keys(section("checks:")) == declared


def test_docs_agent_keys_match_schema() -> None:
    declared = [option.key for option in AGENT_OPTIONS]

    assert table_keys(section("agent:")) == declared


def test_docs_maintenance_keys_match_schema() -> None:
    declared = [option.key for option in MAINTENANCE_OPTIONS]

    assert table_keys(section("maintenance:")) == declared


def test_docs_check_examples_load(tmp_path: Path) -> None:
    ca_file = tmp_path / "bureau-ca.pem"
    ca_file.write_text("placeholder; the loader only checks that the file exists\n")
    blocks = re.findall(r"```yaml\n(- name:.*?)```", DOCS.read_text(), re.S)
    entries = "".join(
        "\n".join("  " + line if line else line for line in block.splitlines()) + "\n"
        for block in blocks
    )
    path = tmp_path / "checks.yaml"
    path.write_text(
        "checks:\n" + entries.replace("/etc/pelihara/bureau-ca.pem", str(ca_file))
    )

    config = load_config(path, {"APP_DB_PASSWORD": "secret"})

    assert sorted({check.kind for check in config.checks}) == sorted(KINDS)


def test_docs_agent_and_maintenance_examples_load(tmp_path: Path) -> None:
    text = DOCS.read_text()
    agent = re.search(r"```yaml\n(agent:.*?)```", text, re.S).group(1)
    maintenance = re.search(r"```yaml\n(maintenance:.*?)```", text, re.S).group(1)
    token_file = tmp_path / "agent.token"
    token_file.write_text("token\n")
    path = tmp_path / "checks.yaml"
    path.write_text(
        agent.replace("/etc/pelihara/agent.token", str(token_file))
        + "checks:\n  - name: app-db\n    kind: memory\n"
        + maintenance
    )

    config = load_config(path, {})

    assert config.agent.host == "app-01"
    assert [window.name for window in config.maintenance] == [
        "nightly-backup",
        "server-move",
    ]


def test_readme_examples_cover_every_kind(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(checks:\n.*?)```", README.read_text(), re.S)
    ca_file = tmp_path / "bureau-ca.pem"
    ca_file.write_text("placeholder; the loader only checks that the file exists\n")
    path = tmp_path / "checks.yaml"
    path.write_text(blocks[0].replace("/etc/pelihara/bureau-ca.pem", str(ca_file)))

    config = load_config(path, {"APP_DB_PASSWORD": "secret"})

    assert len(blocks) == 1
    assert sorted(check.kind for check in config.checks) == sorted(KINDS)
