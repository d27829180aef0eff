"""Capture a real workload through tracefs straight into Parquet.

Recording happens in a private tracefs *instance* (``instances/xpfotrace-PID``):
its own ring buffer, event switches and ``tracing_on``. The top-level tracing
state (enabled events, ``tracing_on``, buffer size, the trace contents) is never
written, so it is left exactly as found; the instance is removed afterwards,
also when the workload fails, on Ctrl-C and on SIGTERM (the CLI turns SIGTERM
into KeyboardInterrupt).

The Parquet metadata gets the facts an overhead estimate needs: CPU count and
model, kernel release, trace clock, buffer size, command line, per-CPU overruns
and the user / system / irq / softirq CPU time of the traced window from
``/proc/stat`` (system + irq + softirq is the baseline ``compare`` uses).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import re
import shlex
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .core.errors import InputError, UsageError, XpfoError
from .core.output import atomic_path
from .core.procenv import workload_env
from .core.traceinfo import TraceInfo
from .parquet_io import write_events

TRACEFS_DIRS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")

#: system/event of every event docs/model.md reads; the first four are indispensable.
REQUIRED_EVENTS = ("kmem/mm_page_alloc", "kmem/mm_page_free", "kmem/mm_page_alloc_zone_locked",
                   "sched/sched_switch")
OPTIONAL_EVENTS = ("kmem/mm_page_free_batched", "kmem/mm_page_pcpu_drain", "tlb/tlb_flush",
                   "ipi/ipi_send_cpu", "ipi/ipi_send_cpumask",
                   "irq_vectors/call_function_entry", "irq_vectors/call_function_single_entry",
                   "sched/sched_process_fork")
#: zstd level of --save-text: fast (level 19 took 15x as long for a few % less)
SAVE_TEXT_LEVEL = 3
_FORK = re.compile(rb"sched_process_fork: .*?\bpid=(\d+) .*?\bchild_pid=(\d+)")

Warn = Callable[[str], None]


class CaptureError(XpfoError):
    """Capturing is impossible here (not root, no tracefs, missing events...)."""


@dataclass
class CaptureResult:
    output: str
    events: int
    info: TraceInfo
    command_status: int | None
    warnings: list[str] = field(default_factory=list)


def find_tracefs(mount: bool = True) -> Path:
    """The tracefs mount point, mounting it at /sys/kernel/tracing if needed."""
    for d in TRACEFS_DIRS:
        if (Path(d) / "instances").is_dir():
            return Path(d)
    if mount:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS_DIRS[0]],
                           check=True, capture_output=True, timeout=10)
        if (Path(TRACEFS_DIRS[0]) / "instances").is_dir():
            return Path(TRACEFS_DIRS[0])
    raise CaptureError("no tracefs: mount it with 'mount -t tracefs nodev /sys/kernel/tracing'")


@dataclass
class CpuTimes:
    """Cumulative CPU time of all CPUs from the 'cpu' line of /proc/stat, in ns."""

    user: int
    system: int
    irq: int
    softirq: int

    @classmethod
    def read(cls, stat: str = "/proc/stat") -> CpuTimes:
        with open(stat) as fh:
            fields = fh.readline().split()
        hz = os.sysconf("SC_CLK_TCK")
        ticks = [int(x) for x in fields[1:8]]  # user nice system idle iowait irq softirq

        def ns(t: int) -> int:
            return t * 1_000_000_000 // hz

        return cls(user=ns(ticks[0] + ticks[1]), system=ns(ticks[2]), irq=ns(ticks[5]),
                   softirq=ns(ticks[6]))

    def minus(self, before: CpuTimes) -> CpuTimes:
        return CpuTimes(self.user - before.user, self.system - before.system,
                        self.irq - before.irq, self.softirq - before.softirq)


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    with contextlib.suppress(OSError), open(cpuinfo) as fh:
        for line in fh:
            if line.lower().startswith(("model name", "cpu model", "processor\t: arm")):
                return line.split(":", 1)[1].strip()
    return "unknown"


class Instance:
    """A private tracefs instance; removed on exit whatever happens (if it cannot be,
    ``warn`` names it: another process may hold its buffer open)."""

    def __init__(self, root: Path, name: str, warn: Warn | None = None) -> None:
        self.root = root
        self.path = root / "instances" / name
        self._warn = warn

    def __enter__(self) -> Instance:
        try:
            self.path.mkdir()
        except PermissionError:
            raise CaptureError(f"cannot create a tracefs instance in {self.root}: "
                               "capture must run as root") from None
        except OSError as exc:
            raise CaptureError(f"cannot create tracefs instance {self.path}: {exc}") from None
        return self

    def write(self, rel: str, value: str) -> None:
        try:
            (self.path / rel).write_text(value)
        except OSError as exc:
            raise CaptureError(f"cannot write {value!r} to {self.path / rel}: {exc}") from None

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            (self.path / "tracing_on").write_text("0")
        # disable everything, then drop the instance and its buffer
        with contextlib.suppress(OSError):
            (self.path / "events" / "enable").write_text("0")
        failure: OSError | None = None
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return  # removed already
            except OSError as exc:
                failure = exc
                if exc.errno != errno.EBUSY:
                    break
                time.sleep(0.1)  # a reader may still hold the buffer
        if self._warn is not None and failure is not None:
            why = failure.strerror or str(failure)
            held = (" (a process still has its files open, e.g. trace_pipe)"
                    if failure.errno == errno.EBUSY else "")
            self._warn(f"could not remove the tracefs instance {self.path}: {why}{held}; "
                       f"remove it later with 'rmdir {self.path}'")


def _enable_events(inst: Instance, warn: Warn) -> list[str]:
    enabled = []
    for ev in REQUIRED_EVENTS + OPTIONAL_EVENTS:
        f = inst.path / "events" / ev / "enable"
        if not f.exists():
            if ev in REQUIRED_EVENTS:
                raise CaptureError(f"this kernel has no tracepoint {ev.replace('/', ':')}, "
                                   "which the replay cannot do without")
            warn(f"this kernel has no tracepoint {ev.replace('/', ':')}: captured without it")
            continue
        inst.write(f"events/{ev}/enable", "1")
        enabled.append(ev.replace("/", ":"))
    return enabled


def _overruns(inst: Instance) -> dict[int, int]:
    out = {}
    for d in sorted((inst.path / "per_cpu").glob("cpu*")):
        with contextlib.suppress(OSError, ValueError):
            for line in (d / "stats").read_text().splitlines():
                if line.startswith("overrun:"):
                    out[int(d.name[3:])] = int(line.split(":")[1])
    return out


def _save_text(src: str, dest: str, progress: Callable[[int], None] | None = None) -> None:
    """Copy the instance's trace text to ``dest`` (atomically; zstd for .zst, at a fast
    level on every core); ``progress(n)`` as n bytes of text are read."""
    import zstandard

    with atomic_path(dest) as tmp, open(src, "rb") as fin, open(tmp, "wb") as fout:
        sink: Any = fout
        if dest.endswith(".zst"):
            sink = zstandard.ZstdCompressor(level=SAVE_TEXT_LEVEL, threads=-1).stream_writer(
                fout, closefd=False)
        while chunk := fin.read(1 << 22):
            sink.write(chunk)
            if progress is not None:
                progress(len(chunk))
        if sink is not fout:
            sink.close()


def _session_tasks(sid: int) -> set[int]:
    """Every task (threads included) of the processes in session ``sid`` now."""
    out: set[int] = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            # /proc/PID/stat: the comm in parentheses may hold spaces; fields after it
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # (state ppid pgrp session ...)
                out.add(int(d.name))
                out |= {int(t.name) for t in (d / "task").iterdir() if t.name.isdigit()}
    return out


def workload_tree(trace_file: str, roots: set[int]) -> list[int]:
    """``roots`` and every task forked from them (transitively) in the trace, from its
    sched_process_fork events (in time order: a parent forks before its child does)."""
    tree = set(roots)
    for text in _whole_lines(trace_file):  # the regex finds the fork lines in each piece
        for m in _FORK.finditer(text):
            if int(m.group(1)) in tree:
                tree.add(int(m.group(2)))
    return sorted(tree)


def _whole_lines(path: str, size: int = 1 << 24) -> Iterator[bytes]:
    """The file in pieces of about ``size`` bytes, each ending at a line's end."""
    tail = b""
    with open(path, "rb") as fh:
        while piece := fh.read(size):
            text = tail + piece
            cut = text.rfind(b"\n") + 1
            tail = text[cut:]
            yield text[:cut]
    yield tail


def _named(info: TraceInfo) -> TraceInfo:
    info.source_format = "tracefs-capture"
    info.source_file = "xpfotrace capture"
    return info


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """End the workload's process group: SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def _workload(command: list[str]) -> Iterator[subprocess.Popen[bytes] | None]:
    if not command:
        yield None
        return
    try:
        proc = subprocess.Popen(command, start_new_session=True, env=workload_env())
    except OSError as exc:
        raise UsageError(f"cannot run {shlex.join(command)}: {exc.strerror or exc}") from None
    try:
        yield proc
    finally:
        _stop(proc)


def capture(output: str, *, command: list[str] | None = None, seconds: float | None = None,
            buffer_kb: int = 65536, warmup: float = 0.0, warn: Warn | None = None,
            tracefs: Path | None = None, save_text: str | None = None,
            save_progress: Callable[[int], None] | None = None) -> CaptureResult:
    """Trace ``command`` (or the whole system for ``seconds``) and write Parquet to ``output``.

    With a command, tracing stops when it exits or after ``seconds``, whichever
    comes first; ``warmup`` seconds of the command run untraced first.
    ``save_text`` also keeps the raw tracefs text (zstd-compressed if it ends in .zst).
    """
    from .converters.text.reader import read_text
    from .converters.text.tracefs import FORMAT

    warnings: list[str] = []

    def _warn(text: str) -> None:
        warnings.append(text)
        if warn is not None:
            warn(text)

    command = list(command or [])
    if not command and seconds is None:
        raise UsageError("give --seconds, a command after '--', or both")
    if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
        raise UsageError(f"--seconds must be a positive number of seconds, not {seconds}")
    if not (math.isfinite(warmup) and warmup >= 0):
        raise UsageError(f"--warmup must be a number of seconds, not negative, not {warmup}")
    if os.geteuid() != 0:
        raise CaptureError("capture needs root (it writes to tracefs)")
    root = tracefs or find_tracefs()
    status: int | None = None
    with Instance(root, f"xpfotrace-{os.getpid()}", _warn) as inst:
        inst.write("tracing_on", "0")
        inst.write("buffer_size_kb", str(buffer_kb))
        enabled = _enable_events(inst, _warn)
        clock = next((w[1:-1] for w in inst.read("trace_clock").split() if w.startswith("[")),
                     "unknown")
        with _workload(command) as proc:
            if warmup > 0:
                time.sleep(warmup)
            before, t_start = CpuTimes.read(), time.monotonic_ns()
            inst.write("tracing_on", "1")
            # the workload's tasks alive once tracing runs (forked during the warm-up); the
            # trace's fork events add the rest (scanned after tracing starts: a short
            # command must not finish before it)
            roots = _session_tasks(proc.pid) | {proc.pid} if proc is not None else set()
            deadline = None if seconds is None else time.monotonic() + seconds
            while True:
                if proc is not None and proc.poll() is not None:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    break
                time.sleep(0.01)
            inst.write("tracing_on", "0")
            after, t_end = CpuTimes.read(), time.monotonic_ns()
            if proc is not None:
                status = proc.poll()
        if status not in (None, 0):
            _warn(f"the command exited with status {status}; its trace is written anyway")
        overruns = _overruns(inst)
        if any(overruns.values()):
            _warn(f"{sum(overruns.values()):,} events were overwritten in the ring buffer "
                  f"(per CPU: {overruns}); use a larger --buffer-kb")
        used = after.minus(before)
        info = TraceInfo()
        info.extra.update({
            "cpu_model": cpu_model(),
            "kernel_release": os.uname().release,
            "trace_clock": clock,
            "buffer_kb": str(buffer_kb),
            "command": shlex.join(command) if command else "",
            "events_enabled": json.dumps(enabled),
            "overrun_per_cpu": json.dumps({str(c): n for c, n in sorted(overruns.items())}),
            "window_ns": str(t_end - t_start),
            "user_ns": str(used.user),
            "system_ns": str(used.system),
            "irq_ns": str(used.irq),
            "softirq_ns": str(used.softirq),
            "baseline_sys_ns": str(used.system + used.irq + used.softirq),
        })
        trace_file = str(inst.path / "trace")
        if roots:
            info.extra["workload_pids"] = json.dumps(workload_tree(trace_file, roots))
        if save_text:
            _save_text(trace_file, save_text, save_progress)
        try:
            tables = read_text(trace_file, FORMAT, info=info)
            rows = write_events(tables, lambda: _named(info), output)
        except InputError as exc:
            raise CaptureError(f"nothing usable was captured ({exc})") from None
    return CaptureResult(output=output, events=rows, info=info, command_status=status,
                         warnings=warnings)
