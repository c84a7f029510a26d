"""Load and validate checks.yaml into a `spec.Config`.

The file is composed into a YAML node tree, not constructed into Python
values, so every error can name its line, and a value where text is
expected is read as the text the user typed: YAML 1.1 would otherwise turn
`no` into false, `010` into 8 and `12:30` into 750. All errors of a file
are collected and raised together in one `ConfigError`.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import shlex
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from agent import units
from agent.checks import KINDS, load_kind
from agent.checks.schema import Option, OptionContext, resolve_path
from agent.maintenance import (
    DAY_NAMES,
    OneOffWindow,
    WeeklyWindow,
    parse_time_of_day,
    parse_timestamp,
)
from agent.spec import (
    AgentSettings,
    Category,
    CheckSpec,
    Config,
    MaintenanceWindow,
    Status,
    redact_url,
)

logger = logging.getLogger(__name__)

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TRUE = {"true", "yes", "on"}
_FALSE = {"false", "no", "off"}
_VARIABLE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{")
_CHECK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

AGENT_OPTIONS = (
    Option("host", "str"),
    Option("collector", "str"),
    Option("token", "str", secret=True),
    Option("token_file", "path"),
    Option("listen", "str", default="127.0.0.1:9531"),
    Option("spool", "path"),
    Option("spool_max_size", "size", default=64 * 1024 * 1024, minimum=1024 * 1024),
    Option("ca_bundle", "path"),
    Option("batch_size", "int", default=500, minimum=1, maximum=10000),
)

CHECK_OPTIONS = (
    Option("name", "str", required=True),
    Option("kind", "str", required=True),
    Option("category", "str"),
    Option("interval", "duration", default=7200.0, minimum=1.0),
    Option("timeout", "duration", default=30.0, minimum=0.001),
    Option("retries", "int", default=0, minimum=0, maximum=100),
    Option("retry_interval", "duration", default=60.0, minimum=0.001),
    Option("recover_after", "int", default=1, minimum=1, maximum=100),
    Option("open_case_on", "str_list", default=("critical",)),
    Option("depends_on", "str_list", default=()),
)

_COMMON_KEYS = [option.key for option in CHECK_OPTIONS]

MAINTENANCE_OPTIONS = (
    Option("name", "str", required=True),
    Option("checks", "str_list", default=()),
    Option("timezone", "str", default="UTC"),
    Option("start", "str"),
    Option("end", "str"),
    Option("days", "str_list", default=DAY_NAMES),
    Option("from", "str"),
    Option("to", "str"),
)

_CASE_STATUSES = {
    "warning": Status.WARNING,
    "critical": Status.CRITICAL,
    "unknown": Status.UNKNOWN,
}


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in a configuration file."""

    file: str
    line: int
    key: str  # dotted path like checks[2].critical; "" for the whole file
    message: str

    def __str__(self) -> str:
        if self.key:
            return f"{self.file}:{self.line}: {self.key}: {self.message}"
        return f"{self.file}:{self.line}: {self.message}"


class ConfigError(Exception):
    """A configuration file with one or more problems, all in `issues`."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


class _Invalid(Exception):
    """A value that failed its type; the message names the value and the fix."""


class _Loader(yaml.SafeLoader):
    """A SafeLoader used only to compose nodes, which carry their line."""


def load_config(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> Config:
    """Read, validate and return the configuration in `path`.

    `environ` supplies `${VAR}` values (default: os.environ). Raises
    ConfigError listing every problem in the file.
    """
    config, issues = _read(Path(path), os.environ if environ is None else environ)
    if issues or config is None:
        raise ConfigError(issues)
    return config


def validate(
    path: str | os.PathLike[str], environ: Mapping[str, str] | None = None
) -> list[ConfigIssue]:
    """Return every problem in the configuration at `path`; empty when valid."""
    return _read(Path(path), os.environ if environ is None else environ)[1]


def _read(
    path: Path, environ: Mapping[str, str]
) -> tuple[Config | None, list[ConfigIssue]]:
    reader = _Reader(str(path), path.resolve().parent, environ)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reader.issue(0, "", f"cannot read the file: {error}; check the path")
        return None, reader.issues

    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 0
        reader.issue(
            line, "", f"invalid YAML: {error.problem or error}; fix the syntax"
        )
        return None, reader.issues
    except yaml.YAMLError as error:
        reader.issue(0, "", f"invalid YAML: {error}; fix the syntax")
        return None, reader.issues

    config = reader.read_config(root)
    return config, reader.issues


class _Reader:
    """Walks the node tree, collecting issues and converting values."""

    def __init__(self, file: str, base_dir: Path, environ: Mapping[str, str]) -> None:
        self.file = file
        self.base_dir = base_dir
        self.environ = environ
        self.issues: list[ConfigIssue] = []

    def issue(self, where: yaml.Node | int, key: str, message: str) -> None:
        line = where if isinstance(where, int) else where.start_mark.line + 1
        self.issues.append(ConfigIssue(self.file, line, key, message))

    # -- whole file ------------------------------------------------------

    def read_config(self, root: yaml.Node | None) -> Config | None:
        if root is None or _is_null(root):
            self.issue(
                1, "", "the file is empty; add an agent: section and a checks: list"
            )
            return None
        entries = self.mapping(root, "", "the top level")
        if entries is None:
            return None
        self.reject_unknown(entries, "", ("agent", "checks", "maintenance"))

        agent = self.read_agent(entries.get("agent", (None, None))[1])

        checks: list[CheckSpec] = []
        if "checks" not in entries or _is_null(entries["checks"][1]):
            self.issue(root, "checks", "missing; add a list with at least one check")
        else:
            checks = self.read_checks(entries["checks"][1])

        windows: list[MaintenanceWindow] = []
        if "maintenance" in entries and not _is_null(entries["maintenance"][1]):
            names = {check.name for check in checks}
            windows = self.read_maintenance(entries["maintenance"][1], names)

        if agent is None:
            return None
        return Config(
            source=Path(self.file).resolve(),
            agent=agent,
            checks=tuple(checks),
            maintenance=tuple(windows),
        )

    # -- agent: ----------------------------------------------------------

    def read_agent(self, node: yaml.Node | None) -> AgentSettings | None:
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        if node is not None and not _is_null(node):
            found = self.mapping(node, "agent", "the agent section")
            if found is None:
                return None
            entries = found
        self.reject_unknown(entries, "agent", [option.key for option in AGENT_OPTIONS])
        values = self.read_options(entries, "agent", AGENT_OPTIONS, node)
        if values is None:
            return None

        host = values["host"] or socket.gethostname()
        collector = self.read_collector(entries, values["collector"])
        token = self.read_token(entries, values)
        if collector is not None and not {"token", "token_file"} & entries.keys():
            self.issue(
                entries["collector"][1],
                "agent.token",
                "missing; a collector needs token or token_file",
            )

        listen = self.read_listen(entries, values["listen"])
        spool = values["spool"] or self.default_spool()
        ca_bundle = values["ca_bundle"]
        if ca_bundle is not None and not ca_bundle.is_file():
            self.issue(
                entries["ca_bundle"][1],
                "agent.ca_bundle",
                f"file not found: {ca_bundle}; give the path of a PEM file",
            )
        if listen is None:
            return None
        return AgentSettings(
            host=host,
            collector=collector,
            token=token,
            listen_host=listen[0],
            listen_port=listen[1],
            spool=spool,
            spool_max_bytes=values["spool_max_size"],
            ca_bundle=ca_bundle,
            batch_size=values["batch_size"],
        )

    def read_collector(self, entries: dict, url: str | None) -> str | None:
        if url is None:
            return None
        node = entries["collector"][1]
        try:
            parts = urlsplit(url)
            port_ok = parts.port is None or parts.port > 0
        except ValueError:
            parts, port_ok = None, False
        shown = redact_url(url)
        if (
            parts is None
            or not port_ok
            or parts.scheme not in ("http", "https")
            or not parts.hostname
        ):
            self.issue(
                node,
                "agent.collector",
                f"invalid URL '{shown}'; write it like http://127.0.0.1:8080",
            )
            return None
        if parts.username or parts.password:
            self.issue(
                node,
                "agent.collector",
                f"the URL '{shown}' contains credentials; put the token in "
                "token or token_file instead",
            )
            return None
        if parts.query or parts.fragment:
            self.issue(
                node,
                "agent.collector",
                f"the URL '{shown}' has a query or fragment; give only the base URL",
            )
            return None
        return url.rstrip("/")

    def read_token(self, entries: dict, values: dict) -> str | None:
        if "token" in entries and "token_file" in entries:
            self.issue(
                entries["token_file"][0],
                "agent.token_file",
                "set either token or token_file, not both",
            )
            return None

        if values["token_file"] is not None:
            node = entries["token_file"][1]
            path = values["token_file"]
            try:
                token = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as error:
                reason = (
                    error.strerror if isinstance(error, OSError) else "not UTF-8 text"
                )
                self.issue(
                    node,
                    "agent.token_file",
                    f"cannot read {path}: {reason}; create it with "
                    "`pelihara-collector agent-token HOST --output PATH`",
                )
                return None
            key = "agent.token_file"
        elif "token" in entries:
            node = entries["token"][1]
            token = (values["token"] or "").strip()
            key = "agent.token"
        else:
            return None

        if not token:
            self.issue(
                node, key, "the token is empty; give the agent token of this host"
            )
            return None
        if any(character.isspace() for character in token):
            self.issue(
                node, key, "the token contains white space; give the token on one line"
            )
            return None
        return token

    def read_listen(self, entries: dict, text: str) -> tuple[str, int] | None:
        host, separator, port = text.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if separator and port.isdigit() and int(port) <= 65535:
            return host or "127.0.0.1", int(port)
        node = entries.get("listen", (None, None))[1]
        self.issue(
            node if node is not None else 0,
            "agent.listen",
            f"invalid address '{text}'; write it like 127.0.0.1:9531",
        )
        return None

    def default_spool(self) -> Path:
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            return Path("/var/lib/pelihara/spool")
        state = self.environ.get("XDG_STATE_HOME")
        if state:
            return Path(state) / "pelihara" / "spool"
        home = self.environ.get("HOME")
        base = Path(home) if home else Path.home()
        return base / ".local" / "state" / "pelihara" / "spool"

    # -- checks: ---------------------------------------------------------

    def read_checks(self, node: yaml.Node) -> list[CheckSpec]:
        if not isinstance(node, yaml.SequenceNode):
            self.issue(
                node,
                "checks",
                "expected a list of checks, each starting with '- name:'",
            )
            return []
        if not node.value:
            self.issue(node, "checks", "the list is empty; add at least one check")
            return []

        checks: list[CheckSpec] = []
        depends: dict[str, tuple[str, yaml.Node, list[tuple[str, yaml.Node]]]] = {}
        first_line: dict[str, int] = {}
        for index, item in enumerate(node.value):
            key = f"checks[{index}]"
            check = self.read_check(item, key)
            if check is None:
                continue
            if check.name in first_line:
                self.issue(
                    item,
                    f"{key}.name",
                    f"duplicate check name '{check.name}'; it is first used on "
                    f"line {first_line[check.name]}; give each check its own name",
                )
                continue
            first_line[check.name] = check.line
            depends[check.name] = (key, item, self.dependency_nodes(item))
            checks.append(check)

        self.check_dependencies(checks, depends)
        return checks

    def read_check(self, node: yaml.Node, key: str) -> CheckSpec | None:
        entries = self.mapping(node, key, "a check")
        if entries is None:
            return None

        kind_module = self.kind_module(entries, key)
        kind_options: tuple[Option, ...] = ()
        if kind_module is not None:
            kind_options = kind_module.OPTIONS
            known = _COMMON_KEYS + [option.key for option in kind_options]
            self.reject_unknown(entries, key, known)
        common = {
            name: entry for name, entry in entries.items() if name in _COMMON_KEYS
        }
        values = self.read_options(common, key, CHECK_OPTIONS, node)
        if kind_module is None or values is None:
            return None
        own = {
            name: entry for name, entry in entries.items() if name not in _COMMON_KEYS
        }
        options = self.read_options(own, key, kind_options, node, kind=values["kind"])
        if options is None:
            return None

        name = values["name"]
        if not _CHECK_NAME.fullmatch(name):
            self.issue(
                entries["name"][1],
                f"{key}.name",
                f"invalid name '{name}'; use up to 100 letters, digits, '.', '_' "
                "and '-', starting with a letter or digit",
            )
            return None
        category = self.read_category(entries, key, values["category"], kind_module)
        open_case_on = self.read_open_case_on(entries, key, values["open_case_on"])
        self.check_timing(entries, key, values)
        if not self.check_thresholds(entries, key, kind_module, options):
            return None

        context = OptionContext(
            check=name,
            base_dir=self.base_dir,
            interval=values["interval"],
            timeout=values["timeout"],
        )
        problems = (
            kind_module.prepare(options, context)
            if hasattr(kind_module, "prepare")
            else []
        )
        for option_key, message in problems:
            where = entries[option_key][1] if option_key in entries else node
            self.issue(where, f"{key}.{option_key}" if option_key else key, message)
        if problems or category is None or open_case_on is None:
            return None

        return CheckSpec(
            name=name,
            kind=values["kind"],
            category=category,
            interval=values["interval"],
            timeout=values["timeout"],
            retries=values["retries"],
            retry_interval=values["retry_interval"],
            recover_after=values["recover_after"],
            open_case_on=open_case_on,
            depends_on=tuple(values["depends_on"]),
            options=options,
            line=node.start_mark.line + 1,
        )

    def kind_module(self, entries: dict, key: str) -> ModuleType | None:
        if "kind" not in entries:
            return None
        node = entries["kind"][1]
        kind = self.text(node, f"{key}.kind")
        if kind is None:
            return None
        if kind not in KINDS:
            self.issue(
                node,
                f"{key}.kind",
                f"unknown kind '{kind}'; use one of {', '.join(KINDS)}",
            )
            return None
        return load_kind(kind)

    def read_category(
        self, entries: dict, key: str, text: str | None, kind_module: ModuleType
    ) -> Category | None:
        if text is None:
            return kind_module.CATEGORY
        try:
            return Category(text)
        except ValueError:
            choices = ", ".join(category.value for category in Category)
            self.issue(
                entries["category"][1],
                f"{key}.category",
                f"invalid category '{text}'; use one of {choices}",
            )
            return None

    def read_open_case_on(
        self, entries: dict, key: str, names: list[str]
    ) -> frozenset[Status] | None:
        statuses = set()
        valid = True
        for index, name in enumerate(names):
            status = _CASE_STATUSES.get(name.lower())
            if status is None:
                node = _item_node(entries["open_case_on"][1], index)
                self.issue(
                    node,
                    f"{key}.open_case_on[{index}]",
                    f"invalid status '{name}'; use warning, critical or unknown",
                )
                valid = False
            else:
                statuses.add(status)
        return frozenset(statuses) if valid else None

    def check_timing(self, entries: dict, key: str, values: dict) -> None:
        if values["timeout"] > values["interval"]:
            node = (
                entries["timeout"][1]
                if "timeout" in entries
                else entries["interval"][1]
            )
            self.issue(
                node,
                f"{key}.timeout",
                f"the timeout {units.format_duration(values['timeout'])} is longer "
                f"than the interval {units.format_duration(values['interval'])}; "
                "use a shorter timeout",
            )

    def check_thresholds(
        self, entries: dict, key: str, kind_module: ModuleType, options: dict
    ) -> bool:
        valid = True
        for pair in getattr(kind_module, "THRESHOLDS", ()):
            warning, critical = options[pair.warning], options[pair.critical]
            if warning is None or critical is None:
                continue
            if pair.higher_is_worse and warning < critical:
                continue
            if not pair.higher_is_worse and warning > critical:
                continue
            shown_warning = self.shown(entries, pair.warning, warning, kind_module)
            shown_critical = self.shown(entries, pair.critical, critical, kind_module)
            order = "below" if pair.higher_is_worse else "above"
            where = entries.get(pair.warning) or entries.get(pair.critical)
            self.issue(
                where[1] if where else 0,
                f"{key}.{pair.warning}",
                f"{pair.warning} {shown_warning} must be {order} {pair.critical} "
                f"{shown_critical}; swap or change the values",
            )
            valid = False
        return valid

    def shown(
        self, entries: dict, option_key: str, value: Any, kind_module: ModuleType
    ) -> str:
        if option_key in entries:
            return entries[option_key][1].value
        option = next(item for item in kind_module.OPTIONS if item.key == option_key)
        return _format_value(option, value)

    def dependency_nodes(self, item: yaml.Node) -> list[tuple[str, yaml.Node]]:
        for key_node, value_node in getattr(item, "value", []):
            if key_node.value != "depends_on":
                continue
            if isinstance(value_node, yaml.SequenceNode):
                return [(node.value, node) for node in value_node.value]
            return [(value_node.value, value_node)]
        return []

    def check_dependencies(
        self,
        checks: list[CheckSpec],
        depends: dict[str, tuple[str, yaml.Node, list[tuple[str, yaml.Node]]]],
    ) -> None:
        names = [check.name for check in checks]
        graph: dict[str, list[str]] = {}
        for check in checks:
            key, _, nodes = depends[check.name]
            graph[check.name] = []
            for index, (dependency, node) in enumerate(nodes):
                if dependency in depends:
                    graph[check.name].append(dependency)
                    continue
                self.issue(
                    node,
                    f"{key}.depends_on[{index}]",
                    f"unknown check '{dependency}'{_suggestion(dependency, names)}",
                )

        for cycle in _cycles(graph):
            key, item, _ = depends[cycle[0]]
            path = " -> ".join([*cycle, cycle[0]])
            self.issue(
                item,
                f"{key}.depends_on",
                f"dependency cycle {path}; remove one of these dependencies",
            )

    # -- maintenance: ----------------------------------------------------

    def read_maintenance(
        self, node: yaml.Node, check_names: set[str]
    ) -> list[MaintenanceWindow]:
        if not isinstance(node, yaml.SequenceNode):
            self.issue(
                node,
                "maintenance",
                "expected a list of windows, each starting with '- name:'",
            )
            return []
        windows: list[MaintenanceWindow] = []
        first_line: dict[str, int] = {}
        for index, item in enumerate(node.value):
            key = f"maintenance[{index}]"
            window = self.read_window(item, key, check_names)
            if window is None:
                continue
            if window.name in first_line:
                self.issue(
                    item,
                    f"{key}.name",
                    f"duplicate window name '{window.name}'; it is first used on "
                    f"line {first_line[window.name]}; give each window its own name",
                )
                continue
            first_line[window.name] = item.start_mark.line + 1
            windows.append(window)
        return windows

    def read_window(
        self, node: yaml.Node, key: str, check_names: set[str]
    ) -> MaintenanceWindow | None:
        entries = self.mapping(node, key, "a maintenance window")
        if entries is None:
            return None
        self.reject_unknown(
            entries, key, [option.key for option in MAINTENANCE_OPTIONS]
        )
        values = self.read_options(entries, key, MAINTENANCE_OPTIONS, node)
        if values is None:
            return None

        valid = True
        for index, name in enumerate(values["checks"]):
            if name not in check_names:
                self.issue(
                    _item_node(entries["checks"][1], index),
                    f"{key}.checks[{index}]",
                    f"unknown check '{name}'{_suggestion(name, sorted(check_names))}",
                )
                valid = False

        try:
            zone = ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            self.issue(
                entries["timezone"][1],
                f"{key}.timezone",
                f"unknown time zone '{values['timezone']}'; use an IANA name like "
                "Asia/Jakarta or UTC",
            )
            return None

        one_off = [name for name in ("start", "end") if name in entries]
        weekly = [name for name in ("days", "from", "to") if name in entries]
        if one_off and weekly:
            self.issue(
                node,
                key,
                "set either start and end (one-off) or days, from and to "
                "(weekly), not both",
            )
            return None
        if one_off:
            window = self.read_one_off(entries, key, values, zone)
        else:
            window = self.read_weekly(node, entries, key, values, zone)
        return window if valid else None

    def read_one_off(
        self, entries: dict, key: str, values: dict, zone: ZoneInfo
    ) -> OneOffWindow | None:
        times = {}
        for name in ("start", "end"):
            if values[name] is None:
                self.issue(
                    entries.get("start", entries.get("end"))[0],
                    f"{key}.{name}",
                    "missing; a one-off window needs start and end",
                )
                continue
            try:
                times[name] = parse_timestamp(values[name], zone)
            except ValueError as error:
                self.issue(entries[name][1], f"{key}.{name}", str(error))
        if len(times) != 2:
            return None
        if times["end"] <= times["start"]:
            self.issue(
                entries["end"][1],
                f"{key}.end",
                f"end {values['end']} is not after start {values['start']}; "
                "give a later end",
            )
            return None
        return OneOffWindow(
            name=values["name"],
            checks=frozenset(values["checks"]),
            start=times["start"],
            end=times["end"],
        )

    def read_weekly(
        self, node: yaml.Node, entries: dict, key: str, values: dict, zone: ZoneInfo
    ) -> WeeklyWindow | None:
        clock = {}
        for name in ("from", "to"):
            if values[name] is None:
                self.issue(
                    node,
                    f"{key}.{name}",
                    "missing; a window needs start and end, or days with from and to",
                )
                continue
            try:
                clock[name] = parse_time_of_day(values[name])
            except ValueError as error:
                self.issue(entries[name][1], f"{key}.{name}", str(error))

        days = set()
        for index, day in enumerate(values["days"]):
            if day.lower()[:3] in DAY_NAMES and day.lower() in _DAY_SPELLINGS:
                days.add(DAY_NAMES.index(day.lower()[:3]))
                continue
            self.issue(
                _item_node(entries["days"][1], index),
                f"{key}.days[{index}]",
                f"invalid day '{day}'; use mon, tue, wed, thu, fri, sat or sun",
            )
        if len(clock) != 2 or len(days) != len(set(values["days"])) or not days:
            if "days" in entries and not values["days"]:
                self.issue(
                    entries["days"][1],
                    f"{key}.days",
                    "the list is empty; name at least one day",
                )
            return None
        if clock["from"] == clock["to"]:
            self.issue(
                entries["to"][1],
                f"{key}.to",
                f"to {values['to']} equals from {values['from']}; give a different end",
            )
            return None
        return WeeklyWindow(
            name=values["name"],
            checks=frozenset(values["checks"]),
            zone=zone,
            days=frozenset(days),
            start_time=clock["from"],
            end_time=clock["to"],
        )

    # -- nodes and values --------------------------------------------------

    def mapping(
        self, node: yaml.Node, key: str, what: str
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """Return the entries of a mapping node by key text, reporting duplicates."""
        if not isinstance(node, yaml.MappingNode):
            self.issue(node, key, f"expected {what} as a mapping of key: value")
            return None
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        merged: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for source in _merge_sources(value_node):
                    for merged_key, merged_value in source.value:
                        merged.setdefault(merged_key.value, (merged_key, merged_value))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.issue(key_node, key, "a key must be plain text")
                continue
            name = key_node.value
            if name in entries:
                first = entries[name][0].start_mark.line + 1
                self.issue(
                    key_node,
                    _join(key, name),
                    f"duplicate key; it is first set on line {first}; keep one",
                )
                continue
            entries[name] = (key_node, value_node)
        for name, entry in merged.items():
            entries.setdefault(name, entry)
        return entries

    def reject_unknown(
        self, entries: dict, key: str, known: list[str] | tuple[str, ...]
    ) -> None:
        for name, (key_node, _) in entries.items():
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = f"known keys are {', '.join(known)}"
            self.issue(key_node, _join(key, name), f"unknown key; {hint}")

    def read_options(
        self,
        entries: dict,
        key: str,
        options: tuple[Option, ...],
        node: yaml.Node | None = None,
        kind: str = "",
    ) -> dict[str, Any] | None:
        """Return every option's value (default when unset), or None on errors."""
        values: dict[str, Any] = {}
        valid = True
        for option in options:
            entry = entries.get(option.key)
            if entry is None or _is_null(entry[1]):
                if option.required:
                    where = entry[1] if entry else (node if node is not None else 0)
                    needed = f"{kind} checks need it" if kind else "add it"
                    self.issue(where, _join(key, option.key), f"missing; {needed}")
                    valid = False
                values[option.key] = _copy_default(option.default)
                continue
            try:
                values[option.key] = self.convert(
                    option, entry[1], _join(key, option.key)
                )
            except _Invalid as error:
                self.issue(entry[1], _join(key, option.key), str(error))
                valid = False
        return values if valid else None

    def convert(self, option: Option, node: yaml.Node, key: str) -> Any:
        """Return the value of `node` converted to the option's type."""
        if option.type in ("str_list", "int_list"):
            items = node.value if isinstance(node, yaml.SequenceNode) else [node]
            item_option = Option(option.key, option.type.removesuffix("_list"))
            return [self.convert(item_option, item, key) for item in items]
        if option.type == "argv":
            return self.convert_argv(option, node, key)
        if option.type == "str_map":
            return self.convert_map(node, key)

        if not isinstance(node, yaml.ScalarNode):
            raise _Invalid(f"expected {_describe(option)}, not a list or mapping")
        text = self.expand(node.value, option)
        value = _CONVERTERS[option.type](text, option, self.base_dir, node)
        if option.choices and value not in option.choices:
            choices = ", ".join(str(choice) for choice in option.choices)
            raise _Invalid(
                f"invalid value '{_shown(text, option)}'; use one of {choices}"
            )
        _check_bounds(option, value, text)
        return value

    def convert_argv(self, option: Option, node: yaml.Node, key: str) -> list[str]:
        if isinstance(node, yaml.SequenceNode):
            argv = [self.text_item(item, option) for item in node.value]
        elif isinstance(node, yaml.ScalarNode):
            text = self.expand(node.value, option)
            try:
                argv = shlex.split(text)
            except ValueError as error:
                raise _Invalid(
                    f"cannot split '{text}': {error}; check the quotes"
                ) from None
        else:
            raise _Invalid("expected a list of arguments or one command line")
        if not argv:
            raise _Invalid("the command is empty; give the program and its arguments")
        return argv

    def text_item(self, node: yaml.Node, option: Option) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise _Invalid("expected text items, not a nested list or mapping")
        return self.expand(node.value, option)

    def convert_map(self, node: yaml.Node, key: str) -> dict[str, str]:
        entries = self.mapping(node, key, "a mapping")
        if entries is None:
            raise _Invalid("expected a mapping of name: value")
        result = {}
        text_option = Option("value", "str")
        for name, (_, value_node) in entries.items():
            result[name] = self.text_item(value_node, text_option)
        return result

    def text(self, node: yaml.Node, key: str) -> str | None:
        """Return a scalar's text as typed, after ${VAR} expansion."""
        try:
            return self.convert(Option(key, "str"), node, key)
        except _Invalid as error:
            self.issue(node, key, str(error))
            return None

    def expand(self, text: str, option: Option) -> str:
        """Return `text` with ${VAR} and ${VAR:-default} replaced from environ."""

        def replace(match: re.Match[str]) -> str:
            whole = match.group(0)
            if whole == "$${":
                return "${"
            name = match.group(1)
            if name is None:
                raise _Invalid(
                    "invalid ${...} reference; write ${NAME} or ${NAME:-default}, "
                    "or $${ for a literal ${"
                )
            value = self.environ.get(name)
            if value:
                return value
            if match.group(2) is not None:
                return match.group(2)
            if value is None:
                raise _Invalid(
                    f"environment variable {name} is not set; set it or write "
                    f"${{{name}:-default}}"
                )
            return value

        if "$" not in text:
            return text
        return _VARIABLE.sub(replace, text)


_DAY_SPELLINGS = set(DAY_NAMES) | {
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
}


def _convert_str(text: str, option: Option, base_dir: Path, node: yaml.Node) -> str:
    return text


def _convert_int(text: str, option: Option, base_dir: Path, node: yaml.Node) -> int:
    if not re.fullmatch(r"[+-]?\d+", text.strip()):
        raise _Invalid(
            f"invalid whole number '{_shown(text, option)}'; write it like 3"
        )
    return int(text)


def _convert_float(text: str, option: Option, base_dir: Path, node: yaml.Node) -> float:
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text.strip()):
        raise _Invalid(f"invalid number '{_shown(text, option)}'; write it like 1.5")
    return float(text)


def _convert_bool(text: str, option: Option, base_dir: Path, node: yaml.Node) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _Invalid(f"invalid value '{_shown(text, option)}'; use true or false")


def _unit(parse: Callable[[str], Any]) -> Callable[[str, Option, Path, yaml.Node], Any]:
    def convert(text: str, option: Option, base_dir: Path, node: yaml.Node) -> Any:
        try:
            return parse(text)
        except units.UnitError as error:
            raise _Invalid(str(error)) from None

    return convert


def _convert_path(text: str, option: Option, base_dir: Path, node: yaml.Node) -> Path:
    if not text.strip():
        raise _Invalid("the path is empty; give a file or folder path")
    return resolve_path(base_dir, text)


def _convert_regex(
    text: str, option: Option, base_dir: Path, node: yaml.Node
) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as error:
        raise _Invalid(f"invalid regular expression '{text}': {error}") from None


_CONVERTERS: dict[str, Callable[[str, Option, Path, yaml.Node], Any]] = {
    "str": _convert_str,
    "int": _convert_int,
    "float": _convert_float,
    "bool": _convert_bool,
    "duration": _unit(units.parse_duration),
    "size": _unit(units.parse_size),
    "percent": _unit(units.parse_percent),
    "path": _convert_path,
    "regex": _convert_regex,
}


def _check_bounds(option: Option, value: Any, text: str) -> None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    if option.minimum is not None and value < option.minimum:
        limit = _format_value(option, option.minimum)
        raise _Invalid(
            f"{_shown(text, option)} is below the minimum {limit}; use a larger value"
        )
    if option.maximum is not None and value > option.maximum:
        limit = _format_value(option, option.maximum)
        raise _Invalid(
            f"{_shown(text, option)} is above the maximum {limit}; use a smaller value"
        )


def _format_value(option: Option, value: Any) -> str:
    if option.type == "duration":
        return units.format_duration(value)
    if option.type == "size":
        return units.format_size(value)
    if option.type == "percent":
        return f"{value:g}%"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _shown(text: str, option: Option) -> str:
    if option.secret:
        return "***"
    return redact_url(text) if "://" in text else text


def _describe(option: Option) -> str:
    return {"str": "text", "path": "a path"}.get(option.type, f"a {option.type}")


def _copy_default(default: Any) -> Any:
    if isinstance(default, tuple):
        return list(default)
    if isinstance(default, dict):
        return dict(default)
    return default


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _item_node(node: yaml.Node, index: int) -> yaml.Node:
    if isinstance(node, yaml.SequenceNode) and index < len(node.value):
        return node.value[index]
    return node


def _merge_sources(node: yaml.Node) -> list[yaml.MappingNode]:
    if isinstance(node, yaml.MappingNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        return [item for item in node.value if isinstance(item, yaml.MappingNode)]
    return []


def _suggestion(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f"; did you mean '{close[0]}'?"
    return "; name a check of this file"


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Return each dependency cycle once, starting at its first check in the file."""
    order = {name: index for index, name in enumerate(graph)}
    cycles: list[list[str]] = []
    seen: set[frozenset[str]] = set()
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dependency in graph[name]:
            if state.get(dependency) == 1:
                cycle = path[path.index(dependency) :]
                members = frozenset(cycle)
                if members not in seen:
                    seen.add(members)
                    start = min(range(len(cycle)), key=lambda i: order[cycle[i]])
                    cycles.append(cycle[start:] + cycle[:start])
            elif dependency not in state:
                visit(dependency)
        path.pop()
        state[name] = 2

    for name in graph:
        if name not in state:
            visit(name)
    return cycles
