"""Replay a trace under each strategy and collect the counters of docs/model.md section 5."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict, cast

import numpy as np
import polars as pl

from .. import strategies as strat
from ..trace import Trace

if TYPE_CHECKING:
    from ..focus import Only
from .deferred.bounded import Bounded, bounded_window_cdf
from .deferred.unbounded import DeferredCounters, deferred_pass, window_cdf
from .memory import short_lived_arrays
from .percpu import bincount
from .prepare import prepare
from .projection import Projection, Timeline
from .state import PER_CPU_COUNTERS, StateResult, state_pass
from .sync import sync_received, sync_totals
from .threads import each

#: Every counter of docs/model.md section 5, in its table's order.
COUNTERS: tuple[str, ...] = (
    "requests", "alloc_requests", "kunmap_requests", "refill_requests", "full_requests",
    "local_invlpg_pages", "ipis", "remote_invlpg_pages", "remote_full_flushes",
    "user_allocs", "kernel_allocs", "unmaps", "remaps", "pte_writes", "refill_runs",
)
#: What deferred strategies report besides (docs/model.md sections 5 and 8).
WINDOW_COUNTERS: tuple[str, ...] = (
    "windows", "censored_windows", "window_p50_ns", "window_p99_ns", "window_max_ns",
    "bounded_flushes")

class _WindowCounters(TypedDict, total=False):
    """What deferred strategies report besides (and ``none``, with nulls)."""

    windows: int
    censored_windows: int
    window_p50_ns: int | None
    window_p99_ns: int | None
    window_max_ns: int | None
    bounded_flushes: int


class Counters(_WindowCounters):
    """One strategy's counters (docs/model.md section 5), as the JSON gives them."""

    requests: int
    alloc_requests: int
    kunmap_requests: int
    refill_requests: int
    full_requests: int
    local_invlpg_pages: int
    ipis: int
    remote_invlpg_pages: int
    remote_full_flushes: int
    user_allocs: int
    kernel_allocs: int
    unmaps: int
    remaps: int
    pte_writes: int
    refill_runs: int


@dataclass
class ReplayResult:
    """What ``replay`` returns: the trace's own facts and one counter set per strategy."""

    trace: dict[str, Any]
    observed: dict[str, Any]
    cpus: int
    strategies: dict[str, Counters] = field(default_factory=dict)
    #: with ``frames=True``: each strategy's flush requests, and each deferred strategy's
    #: exposure-window CDF, as Polars frames (not part of the JSON)
    requests: dict[str, pl.DataFrame] = field(default_factory=dict)
    windows: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: how far to trust the input: lost_events, overflowed, and the warning texts
    input: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``xpfotrace replay --json``."""
        return {"trace": self.trace, "observed": self.observed, "cpus": self.cpus,
                "strategies": self.strategies, "input": self.input,
                "tlb_flush_reasons": tlb_reasons(self.observed), "check": self.check()}

    def check(self) -> dict[str, Any]:
        """The modelled XPFO flushes beside the flushes the traced kernel did itself:
        its remote shootdowns (reason 1, on the receiving CPUs) and IPI sends (reason 4).
        XPFO would add its flushes to these; counts of the same order mean XPFO at least
        doubles the machine's shootdown traffic."""
        obs = self.observed.get("tlb_flush", {})
        traced = {"remote_shootdowns": int(obs.get("1", 0)),
                  "remote_ipi_sends": int(obs.get("4", 0)),
                  "task_switch_flushes": int(obs.get("0", 0))}
        modelled = {name: {"remote_full_flushes": c["remote_full_flushes"],
                           "remote_invlpg_pages": c["remote_invlpg_pages"],
                           "ipis": c["ipis"]}
                    for name, c in self.strategies.items() if name != "none"}
        return {"traced": traced, "modelled": modelled,
                "note": "traced counts are of the traced CPUs; modelled ones of the "
                        f"{self.cpus} replayed CPUs"}


#: The kernel's tlb_flush_reason names (include/linux/mm_types.h), by reason code.
TLB_REASONS: dict[int, str] = {0: "TLB_FLUSH_ON_TASK_SWITCH", 1: "TLB_REMOTE_SHOOTDOWN",
                               2: "TLB_LOCAL_SHOOTDOWN", 3: "TLB_LOCAL_MM_SHOOTDOWN",
                               4: "TLB_REMOTE_SEND_IPI", 5: "TLB_REMOTE_WRONG_CPU"}


def tlb_reasons(observed: dict[str, Any]) -> list[dict[str, Any]]:
    """The observed tlb_flush counts with the kernel's reason names."""
    return [{"code": int(k), "name": TLB_REASONS.get(int(k), "unknown"), "count": v}
            for k, v in observed.get("tlb_flush", {}).items()]


def trace_facts(tr: Trace) -> tuple[dict[str, Any], dict[str, Any]]:
    """``trace`` and ``observed`` sections: what the trace itself shows."""
    df = tr.df
    event = tr.codes.get("event")
    if event is not None and len(event.codes) == df.height:  # counted on the codes
        per_code = bincount(event.codes, len(event.values) + 1, offset=1)[1:]  # -1: null
        event_counts = dict(sorted((v, int(n)) for v, n in zip(event.values, per_code,
                                                               strict=True) if n))
    else:
        counts = df.group_by("event").len().sort("event")
        event_counts = dict(zip(counts["event"].to_list(), counts["len"].to_list(),
                                strict=True))
    # few rows have a reason: those first, then their event names
    tlb = (df.select("event", "tlb_reason").filter(pl.col("tlb_reason").is_not_null())
           .filter(pl.col("event") == "tlb_flush").group_by("tlb_reason").len())
    first, last = df.select(pl.col("ts").min().alias("a"), pl.col("ts").max().alias("b")).row(0)
    facts = {
        "events": df.height,
        "cpus": tr.info.cpus,
        "duration_ns": int(last) - int(first) if df.height else 0,
        "lost_events": tr.info.lost_events,
        "event_counts": event_counts,
    }
    tlb = tlb.sort("tlb_reason")
    observed = {"tlb_flush": {str(k): v for k, v in
                              zip(tlb["tlb_reason"].to_list(), tlb["len"].to_list(), strict=True)}}
    return facts, observed


def _scaled(sr: StateResult, proj: Projection, ceiling: int) -> dict[str, int]:
    """Each counter summed over the virtual CPUs: per traced CPU times its multiplicity."""
    mult = proj.multiplicities()
    counts = sr.counts(ceiling)
    return {c: int(counts[c] @ mult) for c in PER_CPU_COUNTERS}


@dataclass
class Deferred:
    """What the remote pass of a deferred strategy found."""

    counters: DeferredCounters
    bounded_flushes: int = 0


def _counters(s: strat.Strategy, base: dict[str, int], n: int,
              deferred: Deferred | None) -> Counters:
    # built by name from the passes' counts (every name of COUNTERS; the window counters
    # as the strategy has them): a Counters by construction, which test_counters checks
    out: dict[str, int | None] = {c: 0 for c in COUNTERS}
    if s.remote == "none":
        out.update({"windows": 0, "censored_windows": 0, "window_p50_ns": None,
                    "window_p99_ns": None, "window_max_ns": None, "bounded_flushes": 0})
        return cast(Counters, out)
    out.update(base)
    if s.remote == "sync":
        out.update(sync_totals(base, n))
        return cast(Counters, out)
    assert deferred is not None
    d = deferred.counters
    out["remote_full_flushes"] = d.remote_full_flushes
    out.update({"windows": d.windows, "censored_windows": d.censored_windows,
                "window_p50_ns": d.window_p50_ns, "window_p99_ns": d.window_p99_ns,
                "window_max_ns": d.window_max_ns, "bounded_flushes": deferred.bounded_flushes})
    return cast(Counters, out)


class Replayer:
    """A prepared trace that can be replayed on any CPU count.

    The state pass does not depend on the CPU count: it runs once per
    (batch, lazy) variant and is reused for every ``run``.
    """

    def __init__(self, trace: Trace, only: Only | None = None) -> None:
        self.trace = trace
        # the trace's own facts (a Polars group_by) overlap the preparation
        with short_lived_arrays(), ThreadPoolExecutor(1) as pool:
            facts = pool.submit(trace_facts, trace)
            self.prepared = prepare(trace.df, trace.info.cpus, trace.codes)
            self.facts, self.observed = facts.result()
        #: --only: the selected events, in replay order (None: all)
        self.selected = None if only is None else self.prepared.by_rank(only.mask(trace))
        self._states: dict[tuple[bool, bool], StateResult] = {}
        self._virtual: dict[tuple[tuple[bool, bool], int], Bounded] = {}

    @property
    def cpus(self) -> int:
        return self.prepared.cpus

    def state(self, variant: tuple[bool, bool]) -> StateResult:
        if variant not in self._states:
            batch, lazy = variant
            self._states[variant] = state_pass(self.prepared, batch=batch, lazy=lazy,
                                               selected=self.selected)
        return self._states[variant]

    def timeline(self, variant: tuple[bool, bool]) -> Timeline:
        """The variant's requests and mm switches (built on each call, a few ms: kept,
        the four variants' timelines would hold tens of MB that fresh pages cost)."""
        sr, p = self.state(variant), self.prepared
        return Timeline.build(sr.rank, sr.n, p.switches, p.ts, p.cpu)

    def requests(self, strategy: str | strat.Strategy) -> pl.DataFrame:
        """The flush requests of a strategy's variant: one row per requesting event.

        Columns: ts, seq, cpu, n (requests that event makes), comm and pid of the
        event's task (for a refill request, the run's last event).
        """
        strategy = strat.one(strategy)
        if strategy.remote == "none":
            return pl.DataFrame(schema={"ts": pl.Int64, "seq": pl.Int64, "cpu": pl.Int32,
                                        "n": pl.Int64, "comm": pl.String, "pid": pl.Int32})
        req = self.state(strategy.variant).requests.drop("rank")
        who = self.trace.df.select("seq", "comm", "pid")
        return req.join(who, on="seq", how="left").sort("ts", "seq")

    def requests_by(self, strategy: str | strat.Strategy, column: str = "comm",
                    top: int | None = 20) -> pl.DataFrame:
        """Flush requests per ``column`` (e.g. comm), most first."""
        out = (self.requests(strategy).group_by(column).agg(pl.col("n").sum().alias("requests"))
               .sort(["requests", column], descending=[True, False]))
        return out.head(top) if top is not None else out

    def window_cdf(self, strategy: str | strat.Strategy, cpus: int | None = None,
                   points: int = 200) -> pl.DataFrame:
        """Exposure-window CDF of a deferred strategy at ``points`` log-spaced x values."""
        strategy = strat.one(strategy)
        n = self.cpus if cpus is None else cpus
        tl, proj = self.timeline(strategy.variant), self.projection(n)
        if strategy.bound_ns is None:
            xs, counts = window_cdf(tl, proj, points)
        else:
            xs, counts = bounded_window_cdf(tl, proj, strategy.bound_ns, points)
        total = counts[-1] if counts else 0
        return pl.DataFrame({"window_ns": xs, "fraction": [c / total for c in counts]},
                            schema={"window_ns": pl.Int64, "fraction": pl.Float64})

    def projection(self, cpus: int) -> Projection:
        p = self.prepared
        return Projection(cpus, p.cpus, p.t0, p.duration_ns)

    def per_cpu(self, strategy: str | strat.Strategy, cpus: int | None = None
                ) -> list[dict[str, int]]:
        """Each (virtual) CPU's counters: what its own events did (a virtual CPU's are its
        traced CPU's), and what others made it do: ``ipis_received`` (sync) or
        ``remote_full_flushes`` and ``bounded_flushes`` (deferred). Summed over the CPUs
        they give the strategy's counters (``remote_full_flushes`` of sync aside: each
        CPU performs one per other CPU's full request, ``remote_full_received``)."""
        strategy = strat.one(strategy)
        n = self.cpus if cpus is None else cpus
        proj = self.projection(n)
        if strategy.remote == "none":
            return [{"cpu": v} for v in range(n)]
        counts = self.state(strategy.variant).counts(strategy.ceiling)
        nt = proj.n_trace
        own = [{"cpu": v, **{k: int(counts[k][v % nt]) for k in PER_CPU_COUNTERS}}
               for v in range(n)]
        if strategy.remote == "sync":
            sync_received(own)
            return own
        # deferred: the flushes each CPU does, from the segments of the bounded pass (an
        # unbounded strategy is a bound no request reaches)
        bound = strategy.bound_ns if strategy.bound_ns is not None else proj.period + 1
        seg = self._bounded(strategy.variant, proj, self.timeline(strategy.variant)
                            ).segments(bound)
        flushes = np.zeros(n, dtype=np.int64)
        forced = np.zeros(n, dtype=np.int64)
        if seg is not None:
            flushes = np.bincount(seg.cpu, minlength=n)
            forced = np.bincount(seg.cpu[seg.bounded], minlength=n)
        for c in own:
            c["remote_full_flushes"] = int(flushes[c["cpu"]])
            c["bounded_flushes"] = int(forced[c["cpu"]])
        return own

    def _bounded(self, variant: tuple[bool, bool], proj: Projection,
                 tl: Timeline) -> Bounded:
        """The variant's virtual timeline for bounded passes, kept for later runs on the
        same CPU count (a sweep runs one bound at a time)."""
        key = (variant, proj.n)
        if key not in self._virtual:
            if any(n != proj.n for _, n in self._virtual):
                self._virtual = {}
            self._virtual[key] = Bounded(tl, proj)
        return self._virtual[key]

    def run(self, cpus: int | None = None,
            strategies: strat.StrategiesLike = None) -> ReplayResult:
        """Counters of each strategy (default all nine) on ``cpus`` (virtual) CPUs."""
        with short_lived_arrays():
            return self._run(cpus, strat.parse(strategies))

    def _run(self, cpus: int | None,
             chosen: list[strat.Strategy]) -> ReplayResult:
        n = self.cpus if cpus is None else cpus
        proj = self.projection(n)
        variants = list(dict.fromkeys(s.variant for s in chosen if s.remote != "none"))
        # the remote passes each variant needs: one per bound (None: unbounded)
        bounds: dict[tuple[bool, bool], list[int | None]] = {v: [] for v in variants}
        for s in chosen:
            if s.remote == "deferred" and s.bound_ns not in bounds[s.variant]:
                bounds[s.variant].append(s.bound_ns)

        def chain(v: tuple[bool, bool]) -> dict[int | None, Deferred]:
            self.state(v)
            if not bounds[v]:
                return {}
            tl = self.timeline(v)
            out: dict[int | None, Deferred] = {}
            if None in bounds[v]:
                out[None] = Deferred(deferred_pass(tl, proj))
            finite = [b for b in bounds[v] if b is not None]
            if finite:
                passes = self._bounded(v, proj, tl)
                for b in finite:
                    out[b] = Deferred(*passes.run(b))
            return out

        # each variant's state and remote passes are NumPy calls that release the GIL:
        # one chain per core
        deferred = each(chain, variants, min(len(variants), os.cpu_count() or 1))
        out: dict[str, Counters] = {}
        for s in chosen:
            if s.remote == "none":
                out[s.name] = _counters(s, {}, n, None)
                continue
            out[s.name] = _counters(s, _scaled(self.state(s.variant), proj, s.ceiling), n,
                                    deferred[s.variant].get(s.bound_ns))
        info = self.trace.info
        return ReplayResult(trace=self.facts, observed=self.observed, cpus=n, strategies=out,
                            input={"lost_events": info.lost_events,
                                   "overflowed": info.overflow is not None,
                                   "warnings": info.warnings()})


def replay(trace: Trace, *, cpus: int | None = None,
           strategies: strat.StrategiesLike = None,
           frames: bool = False, only: Only | None = None) -> ReplayResult:
    """Replay ``trace`` under ``strategies`` (default all nine) on ``cpus`` CPUs.

    ``cpus`` defaults to the trace's own CPU count; more CPUs project the trace
    onto a larger machine (docs/model.md section 6); fewer is an error. With
    ``frames=True`` the result also holds the requests and window CDFs as frames:

    >>> import xpfotrace
    >>> tr = xpfotrace.read_trace("sample_traces/hackbench-1s.ftrace.txt.zst")
    >>> res = xpfotrace.replay(tr, strategies="deferred", frames=True)
    >>> int(res.requests["deferred"]["n"].sum()) == res.strategies["deferred"]["requests"]
    True
    >>> res.windows["deferred"]["fraction"].max()
    1.0
    """
    chosen = strat.parse(strategies)
    if cpus is not None:
        Projection(cpus, trace.info.cpus, 0, 0)  # validate before any work
    rep = Replayer(trace, only)
    result = rep.run(cpus, chosen)
    if frames:
        for s in chosen:
            result.requests[s.name] = rep.requests(s)
            if s.remote == "deferred":
                result.windows[s.name] = rep.window_cdf(s, cpus)
    return result
