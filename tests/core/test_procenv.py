"""The CLI's own environment (core/procenv.py): set only where the user has not, and
kept out of the programs it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xpfotrace import capture
from xpfotrace.core import procenv


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procenv, "_added", set())
    for name in procenv.CLI_ENV:
        monkeypatch.delenv(name, raising=False)


def test_sets_what_the_user_has_not(fresh: None) -> None:
    procenv.set_cli_env()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
    assert "OPENBLAS_NUM_THREADS" not in procenv.workload_env()


def test_keeps_the_users_value(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    procenv.set_cli_env()
    assert os.environ["OPENBLAS_NUM_THREADS"] == "4"
    assert procenv.workload_env()["OPENBLAS_NUM_THREADS"] == "4"


def test_a_captured_workload_sees_the_users_environment(
        fresh: None, tmp_path: Path) -> None:
    procenv.set_cli_env()
    out = tmp_path / "env.txt"
    script = (f"import os; open({str(out)!r}, 'w')"
              ".write(os.environ.get('OPENBLAS_NUM_THREADS', '-'))")
    with capture._workload([sys.executable, "-c", script]) as proc:
        assert proc is not None
        proc.wait(timeout=60)
    assert out.read_text() == "-"


def test_the_cli_process_has_it() -> None:
    """The console entry sets it before NumPy loads (what OpenBLAS reads at load), and
    turns the cyclic garbage collector off (procenv.py says why)."""
    show = ("import atexit, gc, os\natexit.register(lambda: print("
            "os.environ.get('OPENBLAS_NUM_THREADS'), gc.isenabled()))")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    done = _entry(["--version"], show, env)
    assert done.stdout.strip().splitlines()[-1] == "1 False"


def _entry(args: list[str], prelude: str = "", env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    """The console entry in a fresh process, as the installed script runs it."""
    code = (f"import sys\n{prelude}\nsys.argv = ['xpfotrace', *{args!r}]\n"
            "from xpfotrace._entry import main\nmain()\nprint('not reached')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env)


SAMPLE = str(Path(__file__).resolve().parents[2] / "sample_traces" / "kbuild-1s.parquet")


def test_a_finished_command_flushes_its_output_and_keeps_its_status() -> None:
    done = _entry(["replay", SAMPLE, "--json", "--per-cpu", "--cpus", "96"])
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)  # all of it (300 KB), flushed before the process ended
    assert len(out["per_cpu"]["sync"]) == 96
    assert "not reached" not in done.stdout
    missing = _entry(["replay", "/nonexistent/trace.txt"])
    assert missing.returncode == 1
    assert missing.stderr.strip() == "xpfotrace: error: /nonexistent/trace.txt: no such file"
    assert _entry(["replay", "--no-such-option"]).returncode == 2


def test_exit_handlers_still_run(tmp_path: Path) -> None:
    mark = tmp_path / "ran"
    prelude = f"import atexit; atexit.register(lambda: open({str(mark)!r}, 'w').close())"
    assert _entry(["--version"], prelude).returncode == 0
    assert mark.exists()


def test_exit_codes() -> None:
    assert procenv.exit_code(None) == 0
    assert procenv.exit_code(3) == 3
