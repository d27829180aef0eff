"""Ctrl-C and SIGTERM: one line, exit 130, a second signal ignored while unwinding."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"


@pytest.mark.parametrize("signals", [[signal.SIGINT], [signal.SIGINT, signal.SIGINT],
                                     [signal.SIGTERM, signal.SIGINT]])
def test_interrupt_is_one_line_and_exit_130(signals: list[int]) -> None:
    # a projection to 2048 CPUs takes tens of seconds: the signals arrive mid-work
    proc = subprocess.Popen([sys.executable, "-m", "xpfotrace", "replay", str(SAMPLE),
                             "--cpus", "2048"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3.0)  # past start-up
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "xpfotrace: interrupted"
