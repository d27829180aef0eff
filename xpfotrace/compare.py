"""Replay one trace on several hardware profiles and cost each strategy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from . import strategies as strat
from .cost import added_cpu_ns, overhead
from .engine.replay import Replayer
from .errors import UsageError
from .hardware import Profile
from .trace import Trace

META_BASELINE = "baseline_sys_ns"  # TraceInfo.extra key written by capture


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


def compare(trace: Trace, profiles: list[Profile], *,
            strategies: list[strat.Strategy] | str | None = None,
            baseline_sys_ns: int | None = None,
            replayer: Replayer | None = None,
            progress: Callable[[int], None] | None = None) -> Comparison:
    """Replay ``trace`` projected to each profile's CPU count and apply the cost model.

    ``baseline_sys_ns`` is the traced workload's kernel CPU time (system + irq +
    softirq); it defaults to the one recorded at capture. Overheads are null
    without it. ``progress(1)`` is called after each profile.
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
        rows: dict[str, Any] = {}
        for name, counters in res.strategies.items():
            added = added_cpu_ns(name, counters, p)
            rows[name] = {**counters, "added_cpu_ns": added,
                          "overhead": overhead(added, base, p.cpus, n_trace)}
        out[p.name] = {"cpus": p.cpus,
                       "baseline_sys_ns": None if base is None else base * p.cpus // n_trace,
                       "strategies": rows}
        if progress is not None:
            progress(1)
    return Comparison(out)
