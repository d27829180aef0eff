"""Replay one trace on several hardware profiles and cost each strategy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .. import strategies as strat
from ..core.errors import UsageError
from ..engine.replay import Counters, Replayer
from ..trace import Trace
from .cost import cost, overhead
from .hardware import NUMERIC, Profile

META_BASELINE = "baseline_sys_ns"  # TraceInfo.extra key written by capture
#: ``compare --sensitivity``: each cost parameter times these, one at a time
SENSITIVITY_FACTORS: tuple[float, ...] = (0.5, 2.0)


@dataclass
class Comparison:
    """Per profile: CPU count, projected baseline and per-strategy counters with costs."""

    profiles: dict[str, dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"profiles": self.profiles}


def parse_seconds(text: str) -> int:
    """'12.5' seconds -> ns, exactly (no float)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"--baseline-sys takes seconds, not {text!r}") from None
    if not value.is_finite() or value < 0:
        raise UsageError(f"--baseline-sys must be a non-negative number of seconds ({text})")
    return int(value * 1_000_000_000)


def trace_baseline(trace: Trace) -> int | None:
    raw = trace.info.extra.get(META_BASELINE)
    return int(raw) if raw not in (None, "") else None


def sensitivity(name: str, counters: Counters, prof: Profile, base: int | None,
                n_trace: int) -> dict[str, Any]:
    """Added CPU time and overhead with each cost parameter times 0.5 and 2 (one at a
    time): their range, and the parameter that moves them most (the counters do not
    depend on the costs, so nothing is replayed again)."""
    added0 = cost(name, counters, prof).total
    by_param: dict[str, list[int]] = {}
    for param in NUMERIC:
        by_param[param] = [cost(name, counters, prof.scaled(param, f)).total
                           for f in SENSITIVITY_FACTORS]
    lows = [min(v) for v in by_param.values()] + [added0]
    highs = [max(v) for v in by_param.values()] + [added0]
    spans = {p: max(v) - min(v) for p, v in by_param.items()}
    most = max(spans, key=lambda p: spans[p]) if any(spans.values()) else None

    def ov(ns: int) -> float | None:
        return overhead(ns, base, prof.cpus, n_trace)

    return {"factors": list(SENSITIVITY_FACTORS),
            "added_cpu_ns": {"min": min(lows), "max": max(highs)},
            "overhead": {"min": ov(min(lows)), "max": ov(max(highs))},
            "most_sensitive": most,
            "by_param": {p: {"added_cpu_ns": v, "overhead": [ov(x) for x in v]}
                         for p, v in by_param.items()}}


def costed(name: str, counters: Counters, prof: Profile, base: int | None, n_trace: int,
           window_ns: int, with_sensitivity: bool = False) -> dict[str, Any]:
    """One strategy's counters with its cost on ``prof`` (docs/model.md section 7).

    ``exceeds_capacity``: the added CPU time is more than the profile's CPUs supply in
    the traced window (``cpus * window_ns``); the workload would then take at least
    ``capacity_factor`` times as long, and the overhead understates it.
    """
    parts = cost(name, counters, prof)
    capacity = prof.cpus * max(window_ns, 1)
    row: dict[str, Any] = {**counters, "cost_ns": parts.to_dict(), "added_cpu_ns": parts.total,
                           "overhead": overhead(parts.total, base, prof.cpus, n_trace),
                           "capacity_factor": parts.total / capacity,
                           "exceeds_capacity": parts.total > capacity}
    if with_sensitivity:
        row["sensitivity"] = sensitivity(name, counters, prof, base, n_trace)
    return row


def compare(trace: Trace, profiles: list[Profile], *,
            strategies: strat.StrategiesLike = None,
            baseline_sys_ns: int | None = None,
            replayer: Replayer | None = None,
            progress: Callable[[int], None] | None = None,
            with_sensitivity: bool = False) -> Comparison:
    """Replay ``trace`` projected to each profile's CPU count and apply the cost model.

    ``baseline_sys_ns`` is the traced workload's kernel CPU time (system + irq +
    softirq); it defaults to the one recorded at capture. Overheads are null
    without it. ``progress(1)`` is called after each profile. ``with_sensitivity``
    adds each row's range under every cost parameter times 0.5 and 2.
    """
    chosen = strat.parse(strategies)
    n_trace = trace.info.cpus
    for p in profiles:
        if p.cpus < n_trace:
            raise UsageError(f"profile {p.name!r} has {p.cpus} CPUs, fewer than the "
                             f"trace's {n_trace}: projection only goes to more CPUs")
    base = baseline_sys_ns if baseline_sys_ns is not None else trace_baseline(trace)
    rep = replayer or Replayer(trace)
    out: dict[str, dict[str, Any]] = {}
    for p in profiles:
        res = rep.run(p.cpus, chosen)
        window = int(res.trace["duration_ns"])
        rows = {name: costed(name, counters, p, base, n_trace, window, with_sensitivity)
                for name, counters in res.strategies.items()}
        out[p.name] = {"cpus": p.cpus, "broadcast_invalidate": p.broadcast_invalidate,
                       "baseline_sys_ns": None if base is None else base * p.cpus // n_trace,
                       "strategies": rows}
        if progress is not None:
            progress(1)
    return Comparison(out)
