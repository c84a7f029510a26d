"""The command kind running real plugin scripts."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from agent.checks import command
from agent.spec import CheckSpec, Status

MakeCheck = Callable[..., CheckSpec]


def plugin(folder: Path, name: str, body: str) -> str:
    """Write an executable shell plugin and return its path."""
    path = folder / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def run(make_check: MakeCheck, **options: object) -> command.Outcome:
    check = make_check("command", **options)
    return command.run(check.options, check.timeout)


@pytest.mark.parametrize(
    ("code", "status"),
    [(0, Status.OK), (1, Status.WARNING), (2, Status.CRITICAL), (3, Status.UNKNOWN)],
)
def test_command_exit_codes(
    tmp_path: Path, make_check: MakeCheck, code: int, status: Status
) -> None:
    script = plugin(
        tmp_path, "check_code", f"echo 'SERVICE state {code}'\nexit {code}\n"
    )

    outcome = run(make_check, command=[script])

    assert outcome.status is status
    assert outcome.message == f"SERVICE state {code}"


def test_command_other_exit_code_is_unknown(
    tmp_path: Path, make_check: MakeCheck
) -> None:
    script = plugin(tmp_path, "check_odd", "echo 'odd'\nexit 7\n")

    outcome = run(make_check, command=[script])

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == (
        f"plugin {script} exited with code 7, not a plugin status 0-3: odd"
    )
    assert outcome.reason == "error"


def test_command_perfdata(tmp_path: Path, make_check: MakeCheck) -> None:
    script = plugin(
        tmp_path,
        "check_perf",
        "echo \"DISK OK | '/ used'=75%;80;90;0;100 time=250ms size=2KB "
        "count=5c\"\necho 'second line | extra=3'\n",
    )

    outcome = run(make_check, command=[script])

    assert outcome.message == "DISK OK"
    assert outcome.values == {
        "used": 75.0,
        "time": 0.25,
        "size": 2000.0,
        "count": 5.0,
        "extra": 3.0,
    }


def test_command_string_with_arguments(tmp_path: Path, make_check: MakeCheck) -> None:
    script = plugin(tmp_path, "check_args", 'echo "got $1 and $2"\n')

    outcome = run(make_check, command=f"{script} 'one two' three")

    assert outcome.message == "got one two and three"


def test_command_environment(tmp_path: Path, make_check: MakeCheck) -> None:
    script = plugin(tmp_path, "check_env", 'echo "level=$LEVEL"\n')

    outcome = run(make_check, command=[script], env={"LEVEL": "5"})

    assert outcome.message == "level=5"


def test_command_runs_in_config_folder(tmp_path: Path, make_check: MakeCheck) -> None:
    script = plugin(tmp_path, "check_cwd", "pwd\n")

    outcome = run(make_check, command=[script])

    assert outcome.message == str(tmp_path)


def test_command_not_found(tmp_path: Path, make_check: MakeCheck) -> None:
    missing = str(tmp_path / "check_missing")

    outcome = run(make_check, command=[missing])

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == f"{missing}: command not found"
    assert outcome.reason == "not_found"


def test_command_output_cleaned(tmp_path: Path, make_check: MakeCheck) -> None:
    script = plugin(
        tmp_path, "check_noise", "printf 'bad\\033[31m red\\007 %0400d' 0\n"
    )

    outcome = run(make_check, command=[script])

    assert outcome.message.startswith("bad [31m red 0000")
    assert len(outcome.message) == 300


def test_command_no_output(tmp_path: Path, make_check: MakeCheck) -> None:
    script = plugin(tmp_path, "check_quiet", "exit 2\n")

    outcome = run(make_check, command=[script])

    assert outcome.message == f"{script} exited with code 2 and no output"


def test_command_killed_by_signal(tmp_path: Path, make_check: MakeCheck) -> None:
    script = plugin(tmp_path, "check_suicide", "echo dying\nkill -9 $$\n")

    outcome = run(make_check, command=[script])

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == f"plugin {script} killed by signal SIGKILL (9): dying"


def test_command_killed_without_output(tmp_path: Path, make_check: MakeCheck) -> None:
    script = plugin(tmp_path, "check_silent_death", "kill -9 $$\n")

    outcome = run(make_check, command=[script])

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == f"plugin {script} killed by signal SIGKILL (9)"


def test_command_other_exit_code_without_output(
    tmp_path: Path, make_check: MakeCheck
) -> None:
    script = plugin(tmp_path, "check_odd_quiet", "exit 7\n")

    outcome = run(make_check, command=[script])

    assert outcome.message == (
        f"plugin {script} exited with code 7, not a plugin status 0-3"
    )


def test_command_unknown_signal_number() -> None:
    outcome = command.interpret("/opt/check_x", -200, "")

    assert outcome.message == "plugin /opt/check_x killed by signal 200"


def test_command_timeout_kills_whole_group(
    tmp_path: Path, make_check: MakeCheck
) -> None:
    pid_file = tmp_path / "child.pid"
    script = plugin(
        tmp_path,
        "check_hang",
        f"sleep 1000 &\necho $! > {pid_file}\necho $$ >> {pid_file}\nsleep 1000\n",
    )

    started = time.monotonic()
    outcome = run(make_check, command=[script], timeout="1s")
    elapsed = time.monotonic() - started

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == f"{script} did not finish within 1s and was killed"
    assert outcome.reason == "timeout"
    assert elapsed < 3
    child, parent = (int(line) for line in pid_file.read_text().split())
    assert not psutil.pid_exists(child)
    assert not psutil.pid_exists(parent)


def test_command_child_holding_output_is_killed(
    tmp_path: Path, make_check: MakeCheck
) -> None:
    pid_file = tmp_path / "child.pid"
    script = plugin(
        tmp_path,
        "check_leaves_child",
        f"sleep 1000 &\necho $! > {pid_file}\necho 'OK but left a child'\nexit 0\n",
    )

    outcome = run(make_check, command=[script], timeout="1s")

    assert outcome.status is Status.UNKNOWN
    assert outcome.message == (
        f"{script} exited, but a process it started kept its output open past 1s "
        "and was killed"
    )
    assert outcome.reason == "timeout"
    assert not psutil.pid_exists(int(pid_file.read_text()))


def test_command_kill_running_plugins(tmp_path: Path, make_check: MakeCheck) -> None:
    pid_file = tmp_path / "plugin.pid"
    script = plugin(tmp_path, "check_hang", f"echo $$ > {pid_file}\nexec sleep 1000\n")
    outcomes: list[command.Outcome] = []
    runner = threading.Thread(
        target=lambda: outcomes.append(run(make_check, command=[script], timeout="60s"))
    )
    runner.start()
    while not (pid_file.exists() and pid_file.read_text().strip()):
        time.sleep(0.05)

    killed = command.kill_running_plugins()
    runner.join()

    assert killed == 1
    assert outcomes[0].status is Status.UNKNOWN
    assert outcomes[0].message == f"plugin {script} killed by signal SIGKILL (9)"
    assert not psutil.pid_exists(int(pid_file.read_text()))


def test_command_large_output_does_not_block(
    tmp_path: Path, make_check: MakeCheck
) -> None:
    script = plugin(
        tmp_path,
        "check_chatty",
        f"{sys.executable} -c \"print('OK'); print('x' * 1000000)\"\n",
    )

    outcome = run(make_check, command=[script])

    assert outcome.status is Status.OK
    assert outcome.message == "OK"


def test_command_parse_perfdata_skips_unknown_units() -> None:
    values = command.parse_perfdata("a=1furlong b=2s c=x d=4MiB")

    assert values == {"b": 2.0, "d": 4 * 1024.0**2}


def test_command_parse_perfdata_integer_types() -> None:
    values = command.parse_perfdata(
        "files=3 size=2KB ratio=0.5 time=250ms exp=1e3 huge=9007199254740993"
    )

    assert values == {
        "files": 3,
        "size": 2000,
        "ratio": 0.5,
        "time": 0.25,
        "exp": 1000.0,
        "huge": 9007199254740992.0,
    }
    assert type(values["files"]) is int
    assert type(values["size"]) is int
    assert type(values["ratio"]) is float
    assert type(values["time"]) is float
    assert type(values["exp"]) is float
    assert type(values["huge"]) is float


def test_command_parse_perfdata_keeps_first_labels() -> None:
    items = " ".join(f"disk{index}=1" for index in range(200))

    values = command.parse_perfdata(items)

    assert len(values) == command.MAX_PERFDATA_VALUES
    assert "disk0" in values
    assert f"disk{command.MAX_PERFDATA_VALUES}" not in values
