"""Benchmark xpfotrace on real traces and print a Markdown table.

    python bench/run.py [--data DIR] [--runs N] [--cpus N] [--no-large]
                        [--capture --kernel-src DIR]

Inputs (reused when present in DIR, default bench/data):
  kbuild-10s.ftrace.txt   tracefs text of 10 s of `make -j2` (~2.5 M events)
  kbuild-5s.dat           trace-cmd extract of 5 s of the same workload
  kbuild-5s.perf.data     perf record -a of 5 s of the same workload (any *.perf.data
                          of tracepoint samples is measured)
The text trace is also converted with the Polars path only (XPFOTRACE_NO_NATIVE=1), for
comparison with the compiled line kernel, and once 7 times over (about 1.4 GB;
--no-large skips it): peak RSS must stay under 1.5 GB and not grow with the input.
A *first run* row converts the text with no bytecode cache at all (a fresh
PYTHONPYCACHEPREFIX), as the first command after an install does; the compiled kernel
needs nothing more. *End to end* rows time `xpfotrace replay --json` of each raw input
(start-up, conversion in memory, replay of all nine strategies) against `trace-cmd
report` / `perf script` printing the same events. The inputs are read once into the
page cache before the first measurement.
With --capture (root), the kbuild files are captured first with the kernel
sources given by --kernel-src (run `make tinyconfig` there beforehand).

Every measurement runs in a fresh process (first-touch memory counts, as for a user
running the CLI once), set up as the CLI sets up its own (``core/procenv.py``: one
OpenBLAS thread, no cyclic garbage collector), ``--runs`` times (default 5): the table
gives the median and the range of the rate, and the largest peak RSS (that process's
ru_maxrss). The timed part excludes interpreter start-up and, for replay and
projection, reading the Parquet file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).parent
CHILD = r"""
import json, resource, sys, time
from xpfotrace.core.procenv import enter_cli
enter_cli()  # the process as the CLI sets it up (its environment is set by child())
import xpfotrace
from xpfotrace.engine.replay import Replayer
from xpfotrace.strategies import parse
kind, path = sys.argv[1], sys.argv[2]
t = time.perf_counter()
if kind == "convert":
    info = xpfotrace.convert(path, sys.argv[3])
    n = info.events
elif kind == "replay":
    tr = xpfotrace.read_trace(path)
    t = time.perf_counter()
    Replayer(tr).run(None, parse(None))
    n = tr.df.height
elif kind == "project":
    tr = xpfotrace.read_trace(path)
    rep = Replayer(tr)
    t = time.perf_counter()
    rep.run(int(sys.argv[3]), parse(None))
    n = tr.df.height
elif kind == "sweep":  # 3 bounds x 3 ceilings of deferred+batch, on argv[3] CPUs
    from dataclasses import replace
    from xpfotrace.costing.sweep import sweep
    tr = xpfotrace.read_trace(path)
    rep = Replayer(tr)
    prof = replace(xpfotrace.find_profiles(["3550"])[0], cpus=int(sys.argv[3]) or tr.info.cpus)
    t = time.perf_counter()
    sweep(tr, prof, strategies="deferred+batch", bounds=[100_000, 1_000_000, 10_000_000],
          ceilings=[16, 33, 64], replayer=rep)
    n = tr.df.height
elif kind == "replay-on":  # all nine strategies on argv[3] CPUs (0: the trace's own)
    tr = xpfotrace.read_trace(path)
    rep = Replayer(tr)
    t = time.perf_counter()
    rep.run(int(sys.argv[3]) or None, parse(None))
    n = tr.df.height
secs = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"events": n, "seconds": secs, "rss": rss}))
"""


Run = dict[str, float]


def child(*args: str, env: dict[str, str] | None = None) -> Run:
    """One measurement in a fresh process, with the environment the CLI gives itself
    (``core/procenv.py``: one OpenBLAS thread) where the user's has not set it."""
    from xpfotrace.core.procenv import CLI_ENV

    base = {**CLI_ENV, **os.environ}
    out = subprocess.run([sys.executable, "-c", CHILD, *args], check=True,
                         capture_output=True, text=True,
                         env=base if env is None else {**base, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def repeat(runs: int, measure: Callable[[], Run | None]) -> list[Run] | None:
    first = measure()
    if first is None:
        return None
    return [first] + [r for r in (measure() for _ in range(runs - 1)) if r is not None]


def cli_replay(path: Path, events: int) -> Run:
    """``xpfotrace replay --json`` of a file (Parquet or raw), end to end: start-up, read
    (a raw trace converted in memory), replay of all nine strategies."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "xpfotrace", "-q", "replay", str(path), "--json"],
                   check=True, stdout=subprocess.DEVNULL)
    return {"events": events, "seconds": time.perf_counter() - t, "rss": 0}


def _tool(cmd: list[str], count: Callable[[bytes], int]) -> Run | None:
    """A tool printing a trace's events to a pipe (None where it is not installed)."""
    if not shutil.which(cmd[0]):
        return None
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
    return {"events": count(proc.stdout), "seconds": time.perf_counter() - t, "rss": 0}


def perf_script(data: Path) -> Run | None:
    """``perf script`` printing a perf.data file's samples, one line each."""
    return _tool(["perf", "script", "-i", str(data)], lambda out: out.count(b"\n"))


def trace_cmd_report(dat: Path) -> Run | None:
    """``trace-cmd report`` printing a trace.dat file's events (its event lines counted)."""
    return _tool(["trace-cmd", "report", "-i", str(dat)], lambda out: sum(
        1 for ln in out.splitlines() if b": " in ln[:80] and b"[" in ln[:40]))


def capture(data: Path, ksrc: Path) -> None:
    script = HERE / "capture_kbuild.sh"
    subprocess.run(["bash", str(script), str(ksrc), str(data)], check=True)


def sweep_rows(args: argparse.Namespace, n: int, pq: Path,
               add: Callable[[str, list[Run] | None, str], None]) -> None:
    """The sweep of 9 combinations against one replay of all nine strategies, on the
    trace's own CPUs and on 4 (a projection)."""
    for cpus in (0, 4):
        where = "the trace's CPUs" if cpus == 0 else f"{cpus} CPUs"
        base = repeat(n, lambda c=cpus: child("replay-on", str(pq), str(c)))  # type: ignore[misc]
        add(f"replay, all nine strategies, on {where}", base, "")
        if base:
            limit = 3 * statistics.median(r["seconds"] for r in base)
            add(f"sweep, deferred+batch x 3 bounds x 3 ceilings, on {where}",
                repeat(n, lambda c=cpus: child("sweep", str(pq), str(c))),  # type: ignore[misc]
                f"< 3x the replay ({limit:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--capture", action="store_true")
    ap.add_argument("--kernel-src", type=Path)
    ap.add_argument("--cpus", type=int, default=96)
    ap.add_argument("--runs", type=int, default=5, help="fresh processes per measurement")
    ap.add_argument("--sweep-only", action="store_true",
                    help="only the sweep rows and the replays they are compared with")
    ap.add_argument("--no-large", dest="large", action="store_false",
                    help="skip converting the text trace 7 times over (peak RSS, ~30 s)")
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    if args.capture:
        if not args.kernel_src:
            sys.exit("--capture needs --kernel-src")
        capture(args.data, args.kernel_src)
    rows: list[tuple[str, ...]] = []

    def add(what: str, runs: list[Run] | None, target: str = "") -> None:
        if not runs:
            return
        events = runs[0]["events"]
        secs = sorted(r["seconds"] for r in runs)
        rates = sorted(events / x / 1e6 for x in secs)
        rss = max(r["rss"] for r in runs)
        rows.append((what, f"{events:,.0f}", f"{statistics.median(secs):.2f} s",
                     f"{statistics.median(rates):.2f} M/s ({rates[0]:.2f} to {rates[-1]:.2f})",
                     f"{rss / 2**20:,.0f} MiB" if rss else "-", target))

    n = args.runs
    # the compiled text kernel must be there (built by pip install): else every row would
    # measure the Polars path
    subprocess.run([sys.executable, "-c", "from xpfotrace.converters.text import fast; "
                    "assert fast.available(), 'the compiled text kernel was not built'"],
                   check=True)
    # and reads a trace it has just captured from the page cache, not the disk
    for f in sorted(args.data.glob("kbuild-*")):
        with f.open("rb") as src:
            while src.read(1 << 24):
                pass
    with tempfile.TemporaryDirectory() as tmp:
        text = args.data / "kbuild-10s.ftrace.txt"
        pq = Path(tmp) / "kbuild.parquet"
        if args.sweep_only and text.exists():
            child("convert", str(text), str(pq))
            sweep_rows(args, n, pq, add)
        elif text.exists():
            mb = text.stat().st_size / 2**20
            add(f"convert tracefs text ({mb:,.0f} MB)",
                repeat(n, lambda: child("convert", str(text), str(pq))), "3 M/s")
            add("the same, first run (no bytecode cache)",
                repeat(n, lambda: child("convert", str(text), str(Path(tmp) / "first.pq"),
                                        env={"PYTHONPYCACHEPREFIX": tempfile.mkdtemp()})))
            add("the same, Polars path only (`XPFOTRACE_NO_NATIVE=1`)",
                repeat(n, lambda: child("convert", str(text), str(Path(tmp) / "nojit.pq"),
                                        env={"XPFOTRACE_NO_NATIVE": "1"})))
        if text.exists() and args.large and not args.sweep_only:
            # peak RSS must not grow with the input: the same text 7 times over (its
            # timestamps restart with each copy, which only costs a warning), one run
            big = Path(tmp) / "kbuild-x7.ftrace.txt"
            if shutil.disk_usage(tmp).free > 8 * text.stat().st_size:
                with big.open("wb") as out:
                    for _ in range(7):
                        with text.open("rb") as src:
                            shutil.copyfileobj(src, out, 1 << 24)
                gb = big.stat().st_size / 1e9
                add(f"convert tracefs text x7 ({gb:.1f} GB), memory",
                    [child("convert", str(big), str(Path(tmp) / "big.parquet"))],
                    "< 1.5 GB RSS")
                big.unlink()
        dat = args.data / "kbuild-5s.dat"
        if dat.exists() and not args.sweep_only:
            add("convert trace.dat", repeat(n, lambda: child(
                "convert", str(dat), str(Path(tmp) / "d.parquet"))), "5 M/s (goal 10)")
            add("trace-cmd report of the same trace.dat", repeat(n, lambda: trace_cmd_report(dat)))
            events = int(child("convert", str(dat), str(Path(tmp) / "d.parquet"))["events"])
            add("`xpfotrace replay --json` of the trace.dat, end to end",
                repeat(n, lambda: cli_replay(dat, events)))
        for perf in sorted(args.data.glob("*.perf.data")) if not args.sweep_only else []:
            add(f"convert {perf.name}", repeat(n, lambda p=perf: child(  # type: ignore[misc]
                "convert", str(p), str(Path(tmp) / "p.pq"))), "5 M/s (goal 10)")
            add(f"perf script of {perf.name}", repeat(n, lambda p=perf: perf_script(p)))  # type: ignore[misc]
            events = int(child("convert", str(perf), str(Path(tmp) / "p.pq"))["events"])
            add(f"`xpfotrace replay --json` of {perf.name}, end to end",
                repeat(n, lambda p=perf, e=events: cli_replay(p, e)))  # type: ignore[misc]
        if pq.exists() and not args.sweep_only:
            sweep_rows(args, n, pq, add)
            replays = repeat(n, lambda: child("replay", str(pq)))
            add("replay, all nine strategies", replays, "5 M/s")
            if replays:
                events = int(replays[0]["events"])
                add("`xpfotrace replay --json` of that Parquet file, end to end",
                    repeat(n, lambda: cli_replay(pq, events)))
                add("`xpfotrace replay --json` of the raw text, end to end",
                    repeat(n, lambda: cli_replay(text, events)))
            add(f"projection to {args.cpus} CPUs, all nine strategies",
                repeat(n, lambda: child("project", str(pq), str(args.cpus))), "< 10 s")
    if not rows:
        sys.exit(f"no inputs in {args.data}: see --capture")
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.processor() or ''} "
          f"Python {platform.python_version()}\n")
    print(f"{n} fresh processes per row: median time; median rate (min to max)\n")
    print("| measurement | events | time | events/s | peak RSS | target |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
