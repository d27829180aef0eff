"""The CLI's own environment (core/procenv.py): set only where the user has not, and
kept out of the programs it runs."""

from __future__ import annotations

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
    turns the cyclic garbage collector off (_entry.py says why)."""
    code = ("import sys; sys.argv = ['xpfotrace', '--version']\n"
            "from xpfotrace import _entry\n"
            "try:\n    _entry.main()\nexcept SystemExit:\n    pass\n"
            "import gc, os; print(os.environ.get('OPENBLAS_NUM_THREADS'), gc.isenabled())")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip().splitlines()[-1] == "1 False"
