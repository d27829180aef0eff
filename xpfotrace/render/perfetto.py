"""Export a strategy's replay as a Chrome JSON trace (opens in ui.perfetto.dev and
chrome://tracing).

One process per export, one thread track per (virtual) CPU:

* ``flush request`` instant events where the CPU's allocations request flushes
  (``args``: how many requests, the requesting task);
* for a deferred strategy, ``pending`` complete events: from the first request of
  another CPU that leaves this CPU pending to the flush that clears it, named by what
  flushes (``pending until mm switch`` or ``pending until bounded flush``), and an
  instant event at each such flush;
* a counter track, ``flush requests per ms``, over the whole trace.

Timestamps are microseconds (the format's unit) with nanosecond decimals, from the
trace's first event.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from .. import strategies as strat
from ..core.errors import UsageError
from ..core.output import atomic_path
from ..engine.deferred.bounded import Bounded
from ..engine.replay import Replayer
from ..focus import Only
from ..trace import Trace

PID = 1


def _us(ns: Any, t0: int) -> Any:
    return (ns - t0) / 1000.0


def events(trace: Trace, strategy: str = "deferred+batch", cpus: int | None = None,
           replayer: Replayer | None = None, only: Only | None = None
           ) -> list[dict[str, Any]]:
    """The trace events (dicts of the Chrome JSON format) of one strategy."""
    chosen = strat.parse(strategy)
    if len(chosen) != 1 or chosen[0].remote == "none":
        raise UsageError(f"export takes one XPFO strategy, not {strategy!r}")
    s = chosen[0]
    rep = replayer or Replayer(trace, only)
    proj = rep.projection(rep.cpus if cpus is None else cpus)
    t0 = rep.prepared.t0
    out: list[dict[str, Any]] = [
        {"name": "process_name", "ph": "M", "pid": PID,
         "args": {"name": f"xpfotrace {s.name} on {proj.n} CPUs"}}]
    out += [{"name": "thread_name", "ph": "M", "pid": PID, "tid": c,
             "args": {"name": f"CPU {c}"}} for c in range(proj.n)]
    req = rep.requests(s)
    if proj.n == proj.n_trace:
        out += [{"name": "flush request", "ph": "i", "s": "t", "pid": PID, "tid": cpu,
                 "ts": _us(ts, t0), "args": {"requests": n, "comm": comm, "pid": pid}}
                for ts, cpu, n, comm, pid in req.select("ts", "cpu", "n", "comm",
                                                         "pid").iter_rows()]
    # counter track: requests per ms of the traced CPUs (projection replicates them)
    per_ms = (req.with_columns(((pl.col("ts") - t0) // 1_000_000).alias("ms"))
              .group_by("ms").agg(pl.col("n").sum()).sort("ms"))
    counts = dict(zip(per_ms["ms"].to_list(), per_ms["n"].to_list(), strict=True))
    last = rep.prepared.duration_ns // 1_000_000
    out += [{"name": "flush requests per ms", "ph": "C", "pid": PID, "ts": ms * 1000.0,
             "args": {"requests": int(counts.get(ms, 0))}} for ms in range(last + 1)]
    if s.remote == "deferred":
        out += _pending(rep, s, proj.n, t0)
    return out


def _pending(rep: Replayer, s: strat.Strategy, n: int, t0: int) -> list[dict[str, Any]]:
    proj = rep.projection(n)
    tl = rep.timeline(s.variant)
    # an unbounded strategy is a bound no request can reach
    bound = s.bound_ns if s.bound_ns is not None else proj.period + 1
    passes = Bounded(tl, proj)
    seg = passes.segments(bound)
    if seg is None or not len(seg.lo):
        return []
    v = passes.v
    start = v.t[v.first_other(seg.cpu, seg.lo)]
    cleared = v.others(seg.cpu, seg.lo, seg.hi)
    out: list[dict[str, Any]] = []
    for a, b, cpu, forced, k in zip(_us(start, t0).tolist(), _us(seg.end, t0).tolist(),
                                    seg.cpu.tolist(), seg.bounded.tolist(), cleared.tolist(),
                                    strict=True):
        what = "bounded flush" if forced else "mm switch"
        out.append({"name": f"pending until {what}", "ph": "X", "pid": PID, "tid": cpu,
                    "ts": a, "dur": b - a, "args": {"requests_cleared": k}})
        out.append({"name": what, "ph": "i", "s": "t", "pid": PID, "tid": cpu, "ts": b})
    return out  # (the format needs no order: viewers sort by ts)


def export(trace: Trace, out: str, strategy: str = "deferred+batch",
           cpus: int | None = None, inputs: list[str] | None = None,
           only: Only | None = None) -> int:
    """Write the Chrome JSON trace of ``strategy`` to ``out``; returns the event count."""
    evs = events(trace, strategy, cpus, only=only)
    doc = {"traceEvents": evs, "displayTimeUnit": "ns",
           "otherData": {"source": trace.info.source_file, "strategy": strategy}}
    with atomic_path(out, inputs or []) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, separators=(",", ":"))
    return len(evs)
