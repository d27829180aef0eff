"""Design-space sweep (docs/model.md section 8): every strategy x bound x ceiling on one
profile, with the Pareto frontier of overhead against the p99 exposure window.

Combinations that share a page-state variant share its state pass (the Replayer
keeps it), and those that share a (variant, bound) share one remote pass: the
ceiling only splits requests into range and full flushes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from .. import strategies as strat
from ..core.errors import UsageError
from ..engine.replay import Counters, Replayer
from ..trace import Trace
from .compare import costed, trace_baseline
from .hardware import Profile

#: The strategies a sweep varies by default: the series' own.
DEFAULT_STRATEGIES = "sync,deferred,deferred+batch"

SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "strategy": pl.String, "base": pl.String, "bound_ns": pl.Int64, "ceiling": pl.Int64,
    "added_cpu_ns": pl.Int64, "overhead": pl.Float64, "requests": pl.Int64,
    "full_requests": pl.Int64, "remote_full_flushes": pl.Int64, "bounded_flushes": pl.Int64,
    "window_p50_ns": pl.Int64, "window_p99_ns": pl.Int64, "window_max_ns": pl.Int64,
    "censored_windows": pl.Int64, "frontier": pl.Boolean,
}


@dataclass
class SweepResult:
    """One row per combination (``frame``), on ``profile`` with ``cpus`` CPUs."""

    profile: str
    cpus: int
    baseline_sys_ns: int | None
    frame: pl.DataFrame

    @property
    def frontier(self) -> list[str]:
        """The strategies on the Pareto frontier, least overhead first."""
        f = self.frame.filter(pl.col("frontier")).sort("added_cpu_ns", "strategy")
        return f["strategy"].to_list()

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "cpus": self.cpus,
                "baseline_sys_ns": self.baseline_sys_ns, "frontier": self.frontier,
                "rows": self.frame.to_dicts()}


def parse_bounds(text: str | None) -> list[int | None]:
    """'none,100us,1ms' -> [None, 100000, 1000000] (``none``: no bound)."""
    if text is None or not text.strip():
        return [None]
    out: list[int | None] = []
    for item in text.split(","):
        v = None if item.strip() == "none" else strat.parse_duration(item, "--bound")
        if v not in out:
            out.append(v)
    return out


def parse_ceilings(text: str | None) -> list[int]:
    """'16,33,64' -> [16, 33, 64]."""
    if text is None or not text.strip():
        return [strat.DEFAULT_CEILING]
    return list(dict.fromkeys(strat.parse_ceiling(x) for x in text.split(",")))


def combinations(strategies: list[strat.Strategy], bounds: list[int | None],
                 ceilings: list[int]) -> list[strat.Strategy]:
    """Every strategy with every ceiling, deferred ones with every bound (a sync
    strategy has no bound); a strategy given with parameters keeps them."""
    out: dict[str, strat.Strategy] = {}
    for s in strategies:
        if s.remote == "none":
            raise UsageError("a sweep varies XPFO strategies: 'none' has nothing to vary")
        if s.parameterised:
            out.setdefault(s.name, s)
            continue
        for b in bounds if s.remote == "deferred" else [None]:
            for c in ceilings:
                v = s.with_params(ceiling=c, bound_ns=b)
                out.setdefault(v.name, v)
    return list(out.values())


def pareto(cost: list[int], window: list[int]) -> list[bool]:
    """True where no other point has cost <= and window <= with one of them smaller."""
    # by (cost, window), every point before another distinct one is no worse in cost; so
    # a point is dominated when an earlier distinct point's window is no longer (equal
    # points share their verdict)
    order = sorted(range(len(cost)), key=lambda i: (cost[i], window[i]))
    out = [False] * len(cost)
    best: int | None = None  # shortest window of the distinct points seen before
    for k, i in enumerate(order):
        prev = order[k - 1] if k else None
        if prev is not None and (cost[prev], window[prev]) == (cost[i], window[i]):
            out[i] = out[prev]
            continue
        out[i] = best is None or window[i] < best
        best = window[i] if best is None else min(best, window[i])
    return out


def sweep(trace: Trace, profile: Profile, *,
          strategies: strat.StrategiesLike = DEFAULT_STRATEGIES,
          bounds: list[int | None] | None = None, ceilings: list[int] | None = None,
          baseline_sys_ns: int | None = None, replayer: Replayer | None = None,
          progress: Callable[[int], None] | None = None) -> SweepResult:
    """Replay every combination on ``profile`` and mark the Pareto frontier.

    A sync strategy's exposure window counts as 0 (its remote flushes are done before
    the request returns). ``progress(n)`` is called as ``n`` combinations finish.
    """
    chosen = strat.parse(strategies)
    combos = combinations(chosen, bounds or [None], ceilings or [strat.DEFAULT_CEILING])
    n_trace = trace.info.cpus
    if profile.cpus < n_trace:
        raise UsageError(f"profile {profile.name!r} has {profile.cpus} CPUs, fewer than the "
                         f"trace's {n_trace}: projection only goes to more CPUs")
    base = baseline_sys_ns if baseline_sys_ns is not None else trace_baseline(trace)
    rep = replayer or Replayer(trace)
    # one run per (variant, bound): its state and remote passes are shared by the ceilings
    groups: dict[tuple[tuple[bool, bool], str, int | None], list[strat.Strategy]] = {}
    for s in combos:
        groups.setdefault((s.variant, s.remote, s.bound_ns), []).append(s)
    counters: dict[str, Counters] = {}
    window = 0
    for group in groups.values():
        res = rep.run(profile.cpus, group)
        window = int(res.trace["duration_ns"])
        counters.update(res.strategies)
        if progress is not None:
            progress(len(group))
    rows = []
    for s in combos:
        c = costed(s.name, counters[s.name], profile, base, n_trace, window)
        sync = s.remote == "sync"
        rows.append({
            "strategy": s.name, "base": s.base, "bound_ns": s.bound_ns, "ceiling": s.ceiling,
            "added_cpu_ns": c["added_cpu_ns"], "overhead": c["overhead"],
            "requests": c["requests"], "full_requests": c["full_requests"],
            "remote_full_flushes": c["remote_full_flushes"],
            "bounded_flushes": None if sync else c["bounded_flushes"],
            **{k: 0 if sync else c[k] for k in ("window_p50_ns", "window_p99_ns",
                                                 "window_max_ns", "censored_windows")}})
    # no windows at all: 0 if nothing was pending at the end, else at least the trace
    front = pareto([r["added_cpu_ns"] for r in rows],
                   [r["window_p99_ns"] if r["window_p99_ns"] is not None
                    else (window + 1 if r["censored_windows"] else 0) for r in rows])
    for r, f in zip(rows, front, strict=True):
        r["frontier"] = f
    return SweepResult(profile.name, profile.cpus,
                       None if base is None else base * profile.cpus // n_trace,
                       pl.DataFrame(rows, schema=SCHEMA))
