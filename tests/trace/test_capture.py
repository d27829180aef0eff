"""capture: real tracefs captures (root only), state restoration, metadata, errors."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from xpfotrace import read_trace, replay
from xpfotrace.capture import CaptureError, capture, find_tracefs

WORKLOAD = [sys.executable, "-c",
            "import subprocess\nfor i in range(15):\n"
            "    b = bytearray(4 << 20); subprocess.run(['true'])"]


def _tracefs() -> Path | None:
    if os.geteuid() != 0:
        return None
    try:
        root = find_tracefs()
    except CaptureError:
        return None
    return root if os.access(root / "instances", os.W_OK) else None


TRACEFS = _tracefs()
needs_tracefs = pytest.mark.skipif(TRACEFS is None, reason="needs root and a writable tracefs")


def state(root: Path) -> tuple[str, ...]:
    """What capture must leave as found at the top level of tracefs."""
    files = ["tracing_on", "buffer_size_kb", "events/kmem/mm_page_alloc/enable",
             "events/sched/sched_switch/enable", "current_tracer", "trace_clock"]
    content = hashlib.sha256((root / "trace").read_bytes()).hexdigest()
    instances = ",".join(sorted(p.name for p in (root / "instances").iterdir()))
    return (*[(root / f).read_text() for f in files], content, instances)


@needs_tracefs
def test_real_capture_metadata_and_restored_state(tmp_path: Path) -> None:
    assert TRACEFS is not None
    before = state(TRACEFS)
    out = tmp_path / "cap.parquet"
    res = capture(str(out), command=WORKLOAD, seconds=20, buffer_kb=16384)
    assert state(TRACEFS) == before
    assert res.command_status == 0 and res.events > 0
    meta = {k.decode(): v.decode() for k, v in pq.ParquetFile(out).metadata.metadata.items()}
    assert int(meta["xpfotrace.cpus"]) == os.cpu_count()
    assert meta["xpfotrace.kernel_release"] == os.uname().release
    assert meta["xpfotrace.cpu_model"] != "unknown"
    assert meta["xpfotrace.trace_clock"] and meta["xpfotrace.buffer_kb"] == "16384"
    assert "bytearray" in meta["xpfotrace.command"]
    window = int(meta["xpfotrace.window_ns"])
    assert 0 < window < 20_000_000_000
    total = sum(int(meta[f"xpfotrace.{k}_ns"]) for k in ("user", "system", "irq", "softirq"))
    assert total <= (window + 50_000_000) * os.cpu_count()  # /proc/stat ticks are coarse
    assert int(meta["xpfotrace.baseline_sys_ns"]) == sum(
        int(meta[f"xpfotrace.{k}_ns"]) for k in ("system", "irq", "softirq"))
    overruns = json.loads(meta["xpfotrace.overrun_per_cpu"])
    assert sorted(int(c) for c in overruns) == list(range(os.cpu_count() or 1))
    assert all(int(n) >= 0 for n in overruns.values())
    tr = read_trace(str(out))
    assert tr.info.extra["baseline_sys_ns"] == meta["xpfotrace.baseline_sys_ns"]
    counts = replay(tr, strategies="sync").trace["event_counts"]
    assert counts.get("mm_page_alloc", 0) > 0 and counts.get("sched_switch", 0) > 0


@needs_tracefs
def test_failing_command_still_restores(tmp_path: Path) -> None:
    assert TRACEFS is not None
    before = state(TRACEFS)
    out = tmp_path / "fail.parquet"
    res = capture(str(out), command=["sh", "-c", "head -c 3000000 /dev/urandom >/dev/null;"
                                     " exit 3"], seconds=10)
    assert res.command_status == 3
    assert any("status 3" in w for w in res.warnings)
    assert state(TRACEFS) == before
    with pytest.raises(Exception, match="cannot run"):
        capture(str(tmp_path / "x.parquet"), command=["/nonexistent/cmd"], seconds=1)
    assert state(TRACEFS) == before
    assert not (tmp_path / "x.parquet").exists()


@needs_tracefs
def test_sigterm_leaves_nothing_behind(tmp_path: Path) -> None:
    assert TRACEFS is not None
    before = state(TRACEFS)
    out = tmp_path / "term.parquet"
    exe = Path(sys.executable).parent / "xpfotrace"
    proc = subprocess.Popen([str(exe), "capture", "-o", str(out), "--seconds", "30"],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.iterdir())
    assert state(TRACEFS) == before


def test_not_root_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(CaptureError, match="needs root"):
        capture(str(tmp_path / "o.parquet"), seconds=1)


def test_missing_event_is_named(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the check runs after the root check")
    fake = tmp_path / "fakefs"
    (fake / "instances").mkdir(parents=True)
    with pytest.raises(CaptureError, match="kmem:mm_page_alloc"):
        capture(str(tmp_path / "o.parquet"), seconds=1, tracefs=fake)
    assert not (tmp_path / "o.parquet").exists()


def test_workload_tree_follows_forks(tmp_path: Path) -> None:
    """SYNTHETIC lines in the tracefs format: 10 forks 11, 11 forks 12; 20 forks 21."""
    from xpfotrace.capture import workload_tree

    text = tmp_path / "trace"
    text.write_text(
        "  sh-10 [000] ..... 1.000001: sched_process_fork: comm=sh pid=10 child_comm=sh "
        "child_pid=11\n"
        "  x-20 [001] ..... 1.000002: sched_process_fork: comm=x pid=20 child_comm=x "
        "child_pid=21\n"
        "  sh-11 [000] ..... 1.000003: sched_process_fork: comm=sh pid=11 child_comm=cc "
        "child_pid=12\n")
    assert workload_tree(str(text), {10}) == [10, 11, 12]
    assert workload_tree(str(text), {20, 99}) == [20, 21, 99]


@needs_tracefs
def test_capture_records_the_workload_tree(tmp_path: Path) -> None:
    out = tmp_path / "w.parquet"
    saved = tmp_path / "w.txt.zst"
    # (the sleep: the forks come after tracing starts)
    res = capture(str(out), command=["sh", "-c", "sleep 0.5; sh -c 'head -c 2000000 "
                                     "/dev/zero | cat > /dev/null'; true"], seconds=20,
                  save_text=str(saved))
    import json

    pids = json.loads(res.info.extra["workload_pids"])
    assert len(pids) >= 3  # sh, its sh, head and cat
    from xpfotrace import read_trace, replay
    from xpfotrace.focus import Only

    tr = read_trace(str(out))
    assert json.loads(tr.info.extra["workload_pids"]) == pids
    mine = replay(tr, strategies="sync", only=Only.parse("workload")).strategies["sync"]
    every = replay(tr, strategies="sync").strategies["sync"]
    assert mine["user_allocs"] <= every["user_allocs"]
    assert saved.stat().st_size > 0


def test_whole_lines_never_cut_a_line(tmp_path: Path) -> None:
    from xpfotrace.capture import _whole_lines

    f = tmp_path / "t"
    f.write_bytes(b"alpha\nbe\ngamma delta\nno newline")
    pieces = list(_whole_lines(str(f), size=4))
    assert b"".join(pieces) == f.read_bytes()
    assert all(p.endswith(b"\n") for p in pieces[:-1] if p)
