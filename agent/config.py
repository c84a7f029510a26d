"""Load and validate checks.yaml into a `spec.Config`.

The file is composed into a YAML node tree, not constructed into Python
values, so every error can name its line. A value where text is expected
is read as the text the user typed, because YAML 1.1 would turn `no` into
false, `010` into 8 and `12:30` into 750. All errors of a file are
collected and raised together in one `ConfigError`.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import yaml

from agent import units
from agent.checks import KINDS, load_kind
from agent.checks.schema import (
    NodeReader,
    Option,
    OptionContext,
    format_value,
    is_null,
    item_node,
    join_key,
    suggestion,
)
from agent.maintenance import read_windows
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
    Option("application", "str"),
    Option("unit", "str"),
)

# A check interval of more than a year is a typing error. The delivery
# thread waits up to half the shortest interval, and a wait longer than
# `threading.TIMEOUT_MAX` (about 292 years on Linux) raises OverflowError.
MAX_INTERVAL_SECONDS = 366 * 24 * 3600.0

CHECK_OPTIONS = (
    Option("name", "str", required=True),
    Option("kind", "str", required=True),
    Option("category", "str"),
    Option(
        "interval",
        "duration",
        default=7200.0,
        minimum=1.0,
        maximum=MAX_INTERVAL_SECONDS,
    ),
    # Without a timeout key the loader uses min(DEFAULT_TIMEOUT, interval).
    Option("timeout", "duration", minimum=0.001),
    Option("retries", "int", default=0, minimum=0, maximum=100),
    Option(
        "retry_interval",
        "duration",
        default=60.0,
        minimum=0.001,
        maximum=MAX_INTERVAL_SECONDS,
    ),
    Option("recover_after", "int", default=1, minimum=1, maximum=100),
    Option("open_case_on", "str_list", default=("critical",)),
    Option("depends_on", "str_list", default=()),
    Option("application", "str"),
    Option("unit", "str"),
)

_COMMON_KEYS = [option.key for option in CHECK_OPTIONS]

# Seconds a run may take when the check sets no timeout and its interval is
# longer; a shorter interval is the timeout instead.
DEFAULT_TIMEOUT = 30.0
# The collector stores host names in 255 characters and rejects longer ones.
MAX_HOST_CHARS = 255
# The collector stores a case's application and work unit in 200 characters
# each and rejects a result with a longer one.
MAX_APPLICATION_CHARS = 200
MAX_UNIT_CHARS = 200
_CASE_LABEL_LIMITS = {"application": MAX_APPLICATION_CHARS, "unit": MAX_UNIT_CHARS}
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")

_CASE_STATUSES = {
    "warning": Status.WARNING,
    "critical": Status.CRITICAL,
    "unknown": Status.UNKNOWN,
}


@dataclass(frozen=True)
class ConfigIssue:
    """One problem found in a configuration file."""

    file: str
    line: int  # 1-based; 0 when the problem has no line (unreadable file)
    key: str  # dotted path like checks[2].critical; "" for the whole file
    message: str

    def __str__(self) -> str:
        place = f"{self.file}:{self.line}" if self.line else self.file
        if self.key:
            return f"{place}: {self.key}: {self.message}"
        return f"{place}: {self.message}"


class ConfigError(Exception):
    """A configuration file with one or more problems, all in `issues`."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))


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
    reader = _Reader(str(path), path.absolute().parent, environ)
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


class _Reader(NodeReader):
    """Reads the agent: section and the checks: list of one file."""

    def __init__(self, file: str, base_dir: Path, environ: Mapping[str, str]) -> None:
        super().__init__(base_dir, environ)
        self.file = file

    @property
    def issues(self) -> list[ConfigIssue]:
        """Return the problems found so far in file order."""
        # The kind is read twice (to pick the kind's options, then with the
        # common keys), so a bad kind value would be reported twice.
        unique = list(dict.fromkeys(self.problems))
        ordered = sorted(unique, key=lambda problem: problem[0])
        return [ConfigIssue(self.file, *problem) for problem in ordered]

    # -- whole file ------------------------------------------------------

    def read_config(self, root: yaml.Node | None) -> Config | None:
        if root is None or is_null(root):
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
        if "checks" not in entries or is_null(entries["checks"][1]):
            self.issue(root, "checks", "missing; add a list with at least one check")
        else:
            checks = self.read_checks(entries["checks"][1])

        windows: list[MaintenanceWindow] = []
        if "maintenance" in entries and not is_null(entries["maintenance"][1]):
            # Names of invalid checks count too, because those checks have
            # their own errors and a window naming them is not wrong.
            names = {check.name for check in checks}
            checks_node = entries.get("checks", (None, None))[1]
            if isinstance(checks_node, yaml.SequenceNode):
                for item in checks_node.value:
                    names.update(_declared_name(item))
            windows = read_windows(self, entries["maintenance"][1], names)

        if agent is None:
            return None
        return Config(
            source=Path(self.file).absolute(),
            agent=agent,
            checks=tuple(_with_agent_defaults(check, agent) for check in checks),
            maintenance=tuple(windows),
        )

    # -- agent: ----------------------------------------------------------

    def read_agent(self, node: yaml.Node | None) -> AgentSettings | None:
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        if node is not None and not is_null(node):
            found = self.mapping(node, "agent", "the agent section")
            if found is None:
                return None
            entries = found
        self.reject_unknown(entries, "agent", [option.key for option in AGENT_OPTIONS])
        # Keys are read one by one, so every bad key of the section is reported.
        values, invalid = self.read_each_option(entries, "agent", AGENT_OPTIONS, node)

        for name in _CASE_LABEL_LIMITS:
            if name not in invalid:
                self.read_case_label(entries, "agent", name, values, invalid)

        host = values["host"] or socket.gethostname()
        if "host" in entries and len(host) > MAX_HOST_CHARS:
            self.issue(
                entries["host"][1],
                "agent.host",
                f"{len(host)} characters, more than the maximum of "
                f"{MAX_HOST_CHARS}; use the host name the collector's token "
                "was issued for",
            )
            invalid.add("host")
        collector = self.read_collector(entries, values["collector"])
        token = None
        if not {"token", "token_file"} & invalid:
            token = self.read_token(entries, values)
        if collector is not None and not {"token", "token_file"} & entries.keys():
            self.issue(
                entries["collector"][1],
                "agent.token",
                "missing; a collector needs token or token_file",
            )

        listen = None
        if "listen" not in invalid:
            listen = self.read_listen(entries, values["listen"])
        euid = os.geteuid() if hasattr(os, "geteuid") else None
        spool = values["spool"] or default_spool(self.environ, euid)
        ca_bundle = values["ca_bundle"]
        if ca_bundle is not None and not ca_bundle.is_file():
            self.issue(
                entries["ca_bundle"][1],
                "agent.ca_bundle",
                f"file not found: {ca_bundle}; give the path of a PEM file",
            )
        if listen is None or invalid:
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
            application=values["application"],
            unit=values["unit"],
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
        declared: set[str] = set()
        for index, item in enumerate(node.value):
            key = f"checks[{index}]"
            declared.update(_declared_name(item))
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
            depends[check.name] = (key, item, _dependency_nodes(item, check))
            checks.append(check)

        self.check_dependencies(checks, depends, declared)
        return checks

    def read_check(self, node: yaml.Node, key: str) -> CheckSpec | None:
        """Return the check in `node`, or None after reporting its problems.

        Every key is read even after another one failed, and each rule
        across keys runs when the keys it needs are valid, so one run of
        the loader reports every independent problem of the check.
        """
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
        values, bad_common = self.read_each_option(common, key, CHECK_OPTIONS, node)
        own = {
            name: entry for name, entry in entries.items() if name not in _COMMON_KEYS
        }
        options: dict[str, Any] = {}
        bad_options: set[str] = set()
        if kind_module is not None:
            options, bad_options = self.read_each_option(
                own, key, kind_options, node, kind=values["kind"]
            )

        name = values["name"]
        name_valid = "name" not in bad_common
        if name_valid and not _CHECK_NAME.fullmatch(name):
            self.issue(
                entries["name"][1],
                f"{key}.name",
                f"invalid name '{name}'; use up to 100 letters, digits, '.', '_' "
                "and '-', starting with a letter or digit",
            )
            name_valid = False
        for label in _CASE_LABEL_LIMITS:
            if label not in bad_common:
                self.read_case_label(entries, key, label, values, bad_common)
        category = None
        if kind_module is not None and "category" not in bad_common:
            category = self.read_category(entries, key, values["category"], kind_module)
        open_case_on = None
        if "open_case_on" not in bad_common:
            open_case_on = self.read_open_case_on(entries, key, values["open_case_on"])
        timing_valid = not {"interval", "timeout"} & bad_common
        if timing_valid:
            self.resolve_timeout(entries, key, values)
        if kind_module is None:
            return None

        thresholds_valid = self.check_thresholds(
            entries, key, kind_module, options, bad_options
        )
        problems: list[tuple[str, str]] = []
        if not bad_options and timing_valid and hasattr(kind_module, "prepare"):
            context = OptionContext(
                check=name or "",
                base_dir=self.base_dir,
                interval=values["interval"],
                timeout=values["timeout"],
            )
            problems = kind_module.prepare(options, context)
        for option_key, message in problems:
            where = entries[option_key][1] if option_key in entries else node
            self.issue(where, f"{key}.{option_key}" if option_key else key, message)
        if (
            bad_common
            or bad_options
            or problems
            or not name_valid
            or not timing_valid
            or not thresholds_valid
            or category is None
            or open_case_on is None
        ):
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
            application=values["application"],
            unit=values["unit"],
        )

    def read_case_label(
        self, entries: dict, key: str, name: str, values: dict, invalid: set[str]
    ) -> None:
        """Check an application or unit name and strip its surrounding spaces.

        A name the collector would reject (empty, on several lines or too
        long) is reported, and `name` is added to `invalid`.
        """
        text = values[name]
        if text is None:
            return
        text = text.strip()
        what = "application" if name == "application" else "work unit"
        limit = _CASE_LABEL_LIMITS[name]
        problem = None
        if not text:
            problem = f"the {what} name is empty; give a name or remove the key"
        elif _CONTROL_CHARACTER.search(text):
            problem = (
                f"the {what} name contains a line break or another control "
                "character; write it on one line"
            )
        elif len(text) > limit:
            problem = (
                f"{len(text)} characters, more than the maximum of {limit} that "
                f"the collector stores; shorten the {what} name"
            )
        if problem is None:
            values[name] = text
            return
        self.issue(entries[name][1], join_key(key, name), problem)
        values[name] = None
        invalid.add(name)

    def kind_module(self, entries: dict, key: str) -> ModuleType | None:
        if "kind" not in entries:
            return None
        node = entries["kind"][1]
        kind = self.text(node, f"{key}.kind")
        if kind is None:
            return None
        if kind not in KINDS:
            close = difflib.get_close_matches(kind, KINDS, n=1)
            if close:
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = f"use one of {', '.join(KINDS)}"
            self.issue(node, f"{key}.kind", f"unknown kind '{kind}'; {hint}")
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
                node = item_node(entries["open_case_on"][1], index)
                self.issue(
                    node,
                    f"{key}.open_case_on[{index}]",
                    f"invalid status '{name}'; use warning, critical or unknown",
                )
                valid = False
            else:
                statuses.add(status)
        return frozenset(statuses) if valid else None

    def resolve_timeout(self, entries: dict, key: str, values: dict) -> None:
        """Fill in the default timeout, or report one longer than the interval."""
        if values["timeout"] is None:
            # A default never exceeds a short interval, so only a typed
            # timeout can be longer than the interval.
            values["timeout"] = min(DEFAULT_TIMEOUT, values["interval"])
        elif values["timeout"] > values["interval"]:
            self.issue(
                entries["timeout"][1],
                f"{key}.timeout",
                f"the timeout {units.format_duration(values['timeout'])} is longer "
                f"than the interval {units.format_duration(values['interval'])}; "
                "use a shorter timeout",
            )

    def check_thresholds(
        self,
        entries: dict,
        key: str,
        kind_module: ModuleType,
        options: dict,
        invalid: set[str],
    ) -> bool:
        valid = True
        for pair in getattr(kind_module, "THRESHOLDS", ()):
            if {pair.warning, pair.critical} & invalid:
                continue  # the invalid value has its own error
            warning, critical = options[pair.warning], options[pair.critical]
            if warning is None or critical is None:
                continue
            if pair.higher_is_worse and warning < critical:
                continue
            if not pair.higher_is_worse and warning > critical:
                continue
            shown_warning = self.threshold_text(
                entries, pair.warning, warning, kind_module
            )
            shown_critical = self.threshold_text(
                entries, pair.critical, critical, kind_module
            )
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

    def threshold_text(
        self, entries: dict, option_key: str, value: Any, kind_module: ModuleType
    ) -> str:
        typed = entries[option_key][1].value if option_key in entries else "$"
        if "$" not in typed:
            return typed
        option = next(item for item in kind_module.OPTIONS if item.key == option_key)
        return format_value(option, value)

    def check_dependencies(
        self,
        checks: list[CheckSpec],
        depends: dict[str, tuple[str, yaml.Node, list[tuple[str, yaml.Node]]]],
        declared: set[str],
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
                if dependency in declared:
                    continue  # that check is invalid and has its own error
                self.issue(
                    node,
                    f"{key}.depends_on[{index}]",
                    f"unknown check '{dependency}'{suggestion(dependency, names)}",
                )

        for cycle in _cycles(graph):
            key, item, _ = depends[cycle[0]]
            path = " -> ".join([*cycle, cycle[0]])
            self.issue(
                _key_node(item, "depends_on") or item,
                f"{key}.depends_on",
                f"dependency cycle {path}; remove one of these dependencies",
            )


def default_spool(environ: Mapping[str, str], euid: int | None) -> Path:
    """Return the spool folder used when agent.spool is not set.

    `euid` is the effective user id, or None where the system has none.
    Root gets /var/lib/pelihara/spool, any other user
    $XDG_STATE_HOME/pelihara/spool, with $HOME/.local/state in place of an
    unset XDG_STATE_HOME.
    """
    if euid == 0:
        return Path("/var/lib/pelihara/spool")
    state = environ.get("XDG_STATE_HOME")
    if state:
        return Path(state) / "pelihara" / "spool"
    home = environ.get("HOME")
    base = Path(home) if home else Path.home()
    return base / ".local" / "state" / "pelihara" / "spool"


def _with_agent_defaults(check: CheckSpec, agent: AgentSettings) -> CheckSpec:
    """Return `check` with the agent: section's application and unit filled in."""
    return replace(
        check,
        application=check.application or agent.application,
        unit=check.unit or agent.unit,
    )


def _declared_name(item: yaml.Node) -> list[str]:
    """Return the name an entry of checks: gives itself, even if it is invalid."""
    if not isinstance(item, yaml.MappingNode):
        return []
    for key_node, value_node in item.value:
        if key_node.value == "name" and isinstance(value_node, yaml.ScalarNode):
            return [value_node.value]
    return []


def _key_node(item: yaml.Node, name: str) -> yaml.Node | None:
    """Return the key node `name:` of a mapping entry, for errors about the key."""
    for key_node, _ in item.value:
        if key_node.value == name:
            return key_node
    return None


def _dependency_nodes(item: yaml.Node, check: CheckSpec) -> list[tuple[str, yaml.Node]]:
    """Pair each name in depends_on with the node to report it at."""
    node = item
    for key_node, value_node in item.value:
        if key_node.value == "depends_on":
            node = value_node
    return [
        (name, item_node(node, index)) for index, name in enumerate(check.depends_on)
    ]


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
