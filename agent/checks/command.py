"""Run a Nagios-style plugin: exit code 0-3 is the status, output the message.

The plugin runs in its own session and process group. On timeout the whole
group is killed with SIGKILL, so children the plugin started die with it,
and the plugin itself is reaped so no zombie is left behind.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import psutil

from agent.checks.base import clean_text, one_line_outcome
from agent.checks.schema import Option, OptionContext, Secret
from agent.spec import Category, Outcome, Status, is_secret_name
from agent.units import plural

logger = logging.getLogger(__name__)

CATEGORY = Category.APPLICATION

OPTIONS = (
    Option(
        "command",
        "argv",
        required=True,
        help="program and arguments, as a list or one shell-like line",
    ),
    Option("env", "str_map", default={}, help="extra environment variables"),
    Option("cwd", "path", help="working folder; default: the config file's folder"),
)

THRESHOLDS = ()

# Output kept from the plugin; the rest is read and dropped.
MAX_OUTPUT = 64 * 1024

# Performance data items kept, the first ones in the output. Each becomes a
# `value` label of pelihara_check_value, so this bounds the series per check.
MAX_PERFDATA_VALUES = 50

# Nagios plugin units and their factor to base units (seconds, bytes).
# SI prefixes are powers of 1000 as Icinga 2 reads them.
PERFDATA_UNITS = {
    "": 1.0,
    "%": 1.0,
    "c": 1.0,
    "s": 1.0,
    "ms": 0.001,
    "us": 0.000001,
    "b": 1.0,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 1024.0,
    "mib": 1024.0**2,
    "gib": 1024.0**3,
    "tib": 1024.0**4,
}

_PR_SET_CHILD_SUBREAPER = 36  # from <linux/prctl.h>
_subreaper: bool | None = None

# Plugins started here (their pid is also their session id) and those still
# running, so that adopted leftovers of their sessions can be reaped.
_sessions: collections.deque[int] = collections.deque(maxlen=256)
_running: set[int] = set()
_lock = threading.Lock()

_PERFDATA_ITEM = re.compile(
    r"""('(?:[^']|'')+'|[^'=\s]+)=(-?[\d.]+(?:[eE][-+]?\d+)?)([a-zA-Z%]*)\S*"""
)


def prepare(options: dict[str, Any], context: OptionContext) -> list[tuple[str, str]]:
    """Default the working folder to the config file's folder; hide secrets."""
    options["env"] = {
        name: Secret(value) if is_secret_name(name) else value
        for name, value in options["env"].items()
    }
    if options["cwd"] is None:
        options["cwd"] = context.base_dir
    elif not options["cwd"].is_dir():
        return [("cwd", f"folder not found: {options['cwd']}; give an existing folder")]
    return []


@one_line_outcome
def run(options: Mapping[str, Any], timeout: float) -> Outcome:
    """Run the plugin for at most `timeout` seconds and map its exit code."""
    argv = list(options["command"])
    program = argv[0]
    environment = {**os.environ, **options["env"]}
    become_subreaper()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=str(options["cwd"]),
            env=environment,
            start_new_session=True,
        )
    except FileNotFoundError:
        return Outcome(
            Status.UNKNOWN, f"{program}: command not found", reason="not_found"
        )
    except OSError as error:
        return Outcome(
            Status.UNKNOWN,
            f"{program}: cannot run: {error.strerror or error}",
            reason="error",
        )

    with _lock:
        _sessions.append(process.pid)
        _running.add(process.pid)
    output, finished, exited = "", False, False
    try:
        output, finished = _collect(process, time.monotonic() + timeout)
    finally:
        if not finished:
            exited = process.poll() is not None
            _kill_group(process)
        process.stdout.close()
        with _lock:
            _running.discard(process.pid)
        _reap_adopted()

    if not finished and exited:
        return Outcome(
            Status.UNKNOWN,
            f"{program} exited, but a process it started kept its output open "
            f"past {timeout:g}s and was killed",
            reason="timeout",
        )
    if not finished:
        return Outcome(
            Status.UNKNOWN,
            f"{program} did not finish within {timeout:g}s and was killed",
            reason="timeout",
        )
    return interpret(program, process.returncode, output)


def _collect(process: subprocess.Popen[bytes], deadline: float) -> tuple[str, bool]:
    """Read output until the plugin exits and closes it, or until `deadline`.

    Returns the output and whether the plugin finished in time. Output is
    read while waiting so a chatty plugin cannot block on a full pipe.
    """
    kept = bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        open_pipe = True
        while open_pipe:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return kept.decode("utf-8", errors="replace"), False
            for _ in selector.select(remaining):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    open_pipe = False
                    break
                if len(kept) < MAX_OUTPUT:
                    kept.extend(chunk[: MAX_OUTPUT - len(kept)])

    try:
        process.wait(max(deadline - time.monotonic(), 0.001))
    except subprocess.TimeoutExpired:
        return kept.decode("utf-8", errors="replace"), False
    return kept.decode("utf-8", errors="replace"), True


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the plugin's process group and reap every member that is ours."""
    # Linux does not hand out a pid that is still a process group id, so
    # the group id is safe to signal even when the plugin has been reaped.
    members = _group_members(process.pid)
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:
        logger.warning("cannot kill process group %d of %s", process.pid, process.args)
    process.wait()

    # As a child subreaper the agent inherits the orphaned grandchildren, so
    # it reaps them too; elsewhere they go to init, which reaps them.
    deadline = time.monotonic() + 2.0
    pending = set(members) - {process.pid}
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                reaped, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pending.discard(pid)  # not our child: init reaps it
                continue
            if reaped:
                pending.discard(pid)
        if pending:
            time.sleep(0.01)


def _reap_adopted() -> None:
    """Reap zombie descendants of earlier plugins that this process adopted.

    Only zombies in a session of a plugin started here are reaped, so the
    exit status of any other child of the agent stays for its own wait().
    """
    try:
        children = psutil.Process().children()
    except psutil.Error:
        return
    with _lock:
        sessions = set(_sessions)
        running = set(_running)
    for child in children:
        if child.pid in running:
            continue
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                continue
            if os.getsid(child.pid) not in sessions:
                continue
            os.waitpid(child.pid, os.WNOHANG)
        except (psutil.Error, OSError):
            continue


def kill_running_plugins() -> int:
    """Kill the process group of every plugin still running; return the count.

    Runs at exit, because check threads are daemon threads: an agent
    stopped by Ctrl-C or SIGTERM in the middle of a run would otherwise
    leave a hung plugin running after it exits.
    """
    with _lock:
        groups = sorted(_running)
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            continue
        except PermissionError:
            logger.warning("cannot kill process group %d of a running plugin", group)
    if groups:
        logger.info(
            "killed %s still running", plural(len(groups), "plugin process group")
        )
    return len(groups)


atexit.register(kill_running_plugins)


def _group_members(group: int) -> list[int]:
    members = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == group:
                members.append(pid)
        except OSError:
            continue
    return members


def become_subreaper() -> bool:
    """Make this process adopt orphaned descendants (Linux only), once.

    Without it a plugin's children killed on timeout are reparented to
    PID 1, and a container whose PID 1 does not reap leaves them as zombies.
    """
    global _subreaper
    if _subreaper is None:
        _subreaper = False
        if sys.platform == "linux":
            libc = ctypes.CDLL(None, use_errno=True)
            _subreaper = libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    return _subreaper


def interpret(program: str, code: int, output: str) -> Outcome:
    """Map a plugin's exit code and output to an Outcome."""
    first_line, _, rest = output.strip().partition("\n")
    text, _, perfdata = first_line.partition("|")
    # Long output may carry more perfdata after a second `|`.
    _, _, more_perfdata = rest.partition("|")
    values = parse_perfdata(f"{perfdata} {more_perfdata}")
    message = clean_text(text) or f"{program} exited with code {code} and no output"

    if code in (0, 1, 2, 3):
        status = Status(code)
        reason = "" if status is Status.OK else "error"
        return Outcome(status, message, values, reason=reason)
    if code < 0:
        detail = f"plugin {program} killed by signal {_signal_name(-code)}"
    else:
        detail = f"plugin {program} exited with code {code}, not a plugin status 0-3"
    # Without output the message would only repeat the program and the code.
    if clean_text(text):
        detail = f"{detail}: {message}"
    return Outcome(Status.UNKNOWN, clean_text(detail), values, reason="error")


def _signal_name(number: int) -> str:
    """Return a signal as text like `SIGKILL (9)`, or the number alone if unknown."""
    try:
        return f"{signal.Signals(number).name} ({number})"
    except ValueError:
        return str(number)


def _perfdata_value(number: str, factor: float) -> float:
    """Return `number` times `factor`, an int when both are whole numbers.

    So a count written as `files=3` is spooled as 3, not 3.0. A product
    beyond 2**53 stays a float, so that a value beyond the float range
    becomes infinity, which the runner drops, and never a huge int, which
    math.isfinite cannot take.
    """
    if re.fullmatch(r"-?\d+", number) and factor.is_integer():
        product = int(number) * int(factor)
        if abs(product) <= 2**53:
            return product
    return float(number) * factor


def parse_perfdata(text: str) -> dict[str, float]:
    """Return `label=value[UOM];warn;crit;min;max` items as base-unit values.

    Labels become snake_case keys; items with an unknown unit are skipped.
    Items past the first MAX_PERFDATA_VALUES labels are dropped.
    """
    values: dict[str, float] = {}
    for match in _PERFDATA_ITEM.finditer(text):
        if len(values) >= MAX_PERFDATA_VALUES:
            break
        label, number, unit = match.groups()
        factor = PERFDATA_UNITS.get(unit.lower())
        if factor is None:
            continue
        try:
            value = _perfdata_value(number, factor)
        except ValueError:
            continue
        key = re.sub(r"[^a-z0-9]+", "_", label.strip("'").replace("''", "'").lower())
        key = key.strip("_")
        if key:
            values[key] = value
    return values
