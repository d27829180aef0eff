"""Benchmark xpfotrace on real traces and print a Markdown table.

    python bench/run.py [--data DIR] [--capture --kernel-src DIR]

Inputs (reused when present in DIR, default bench/data):
  kbuild-10s.ftrace.txt   tracefs text of 10 s of `make -j2` (~2.5 M events)
  kbuild-5s.dat           trace-cmd extract of 5 s of the same workload
  *.perf.data             any perf.data of tracepoint samples
With --capture (root), the two kbuild files are captured first with the kernel
sources given by --kernel-src (run `make tinyconfig` there beforehand).

Every measurement runs in a fresh process; peak RSS is that process's ru_maxrss.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
CHILD = r"""
import json, resource, sys, time
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
secs = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"events": n, "seconds": secs, "rss": rss}))
"""


def child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, *args], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def trace_cmd_report(dat: Path) -> dict[str, float] | None:
    if not shutil.which("trace-cmd"):
        return None
    t = time.perf_counter()
    proc = subprocess.run(["trace-cmd", "report", "-i", str(dat)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, check=True)
    secs = time.perf_counter() - t
    events = sum(1 for ln in proc.stdout.splitlines() if b": " in ln[:80] and b"[" in ln[:40])
    return {"events": events, "seconds": secs, "rss": 0}


def capture(data: Path, ksrc: Path) -> None:
    script = HERE / "capture_kbuild.sh"
    subprocess.run(["bash", str(script), str(ksrc), str(data)], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--capture", action="store_true")
    ap.add_argument("--kernel-src", type=Path)
    ap.add_argument("--cpus", type=int, default=96)
    args = ap.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    if args.capture:
        if not args.kernel_src:
            sys.exit("--capture needs --kernel-src")
        capture(args.data, args.kernel_src)
    rows: list[tuple[str, str, str, str]] = []

    def add(what: str, r: dict[str, float] | None, note: str = "") -> None:
        if r is None:
            return
        rate = r["events"] / r["seconds"] / 1e6
        rss = f"{r['rss'] / 2**20:,.0f} MiB" if r["rss"] else "-"
        rows.append((what, f"{r['events']:,.0f} ev, {r['seconds']:.2f} s", f"{rate:.2f} M/s",
                     rss + (f" {note}" if note else "")))

    with tempfile.TemporaryDirectory() as tmp:
        text = args.data / "kbuild-10s.ftrace.txt"
        pq = Path(tmp) / "kbuild.parquet"
        if text.exists():
            mb = text.stat().st_size / 2**20
            add(f"convert tracefs text ({mb:,.0f} MB)", child("convert", str(text), str(pq)))
        dat = args.data / "kbuild-5s.dat"
        if dat.exists():
            add("convert trace.dat", child("convert", str(dat), str(Path(tmp) / "d.parquet")))
            add("trace-cmd report of the same trace.dat", trace_cmd_report(dat))
        for perf in sorted(args.data.glob("*.perf.data")):
            add(f"convert {perf.name}", child("convert", str(perf), str(Path(tmp) / "p.pq")))
        if pq.exists():
            add("replay, all nine strategies", child("replay", str(pq)))
            add(f"projection to {args.cpus} CPUs, all nine strategies",
                child("project", str(pq), str(args.cpus)))
    if not rows:
        sys.exit(f"no inputs in {args.data}: see --capture")
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.processor() or ''} "
          f"Python {platform.python_version()}\n")
    print("| measurement | size, time | events/s | peak RSS |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
