"""scripts/run, the program behind `make run`, on a copy of the repository layout."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from .conftest import BIN_DIR, free_port

REPOSITORY = Path(__file__).resolve().parents[2]


def wait_for_file(path: Path, process: subprocess.Popen[str]) -> bool:
    """Wait until `path` has content; False if `process` exits first."""
    while process.poll() is None:
        if path.exists() and path.read_text().strip():
            return True
        time.sleep(0.05)
    return False


def restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_run_script_ctrl_c_in_first_round(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPOSITORY / "scripts" / "run", tmp_path / "scripts" / "run")
    marker = tmp_path / "first-round.pid"
    # One check that hangs keeps the first round going until the signal.
    (tmp_path / "checks.yaml").write_text(
        "agent:\n"
        "  collector: http://127.0.0.1:${PELIHARA_PORT}\n"
        "  token_file: var/agent.token\n"
        "  listen: 127.0.0.1:${PELIHARA_AGENT_METRICS_PORT}\n"
        "  spool: var/spool\n"
        "checks:\n"
        "  - name: hang\n"
        "    kind: command\n"
        f'    command: ["sh", "-c", "echo $$ > {marker}; exec sleep 1000"]\n'
        "    timeout: 60s\n"
    )
    environment = {
        **os.environ,
        "PATH": f"{BIN_DIR}:{os.environ['PATH']}",
        "PELIHARA_PORT": str(free_port()),
        "PELIHARA_AGENT_METRICS_PORT": str(free_port()),
    }
    environment.pop("PELIHARA_DATA_DIR", None)
    environment.pop("PELIHARA_DATABASE_URL", None)
    script = subprocess.Popen(
        [str(tmp_path / "scripts" / "run")],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        # A shell ignores a trap on a signal that was ignored when it started,
        # as SIGINT is under a test runner started in the background.
        preexec_fn=restore_sigint,
    )
    try:
        in_first_round = wait_for_file(marker, script)
        # Ctrl-C in a terminal signals the whole foreground process group.
        os.killpg(script.pid, signal.SIGINT)
        output, _ = script.communicate(timeout=60)
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.communicate()

    assert in_first_round, output
    assert script.returncode == 130, output
    assert "started on host" not in output
