"""Remote pass of the unbounded ``deferred`` mode (docs/model.md section 4) on N
virtual CPUs: no virtual timeline and no (request, CPU) pair is ever built (see
``pairs`` for the replica pairs, ``windows`` for the counts, ``quantile`` for p50/p99).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..projection import Projection, Timeline
from .pairs import Plan
from .quantile import nearest_rank, select
from .windows import Windows


@dataclass
class DeferredCounters:
    remote_full_flushes: int
    windows: int
    censored_windows: int
    window_p50_ns: int | None
    window_p99_ns: int | None
    window_max_ns: int | None


def _prepare(tl: Timeline, proj: Projection) -> tuple[Windows | None, int]:
    plan = Plan(tl, proj)
    total = plan.total_weight * (proj.n - 1)
    if total == 0 or len(plan.sw.t) == 0:
        return None, total
    return Windows(plan), total


def deferred_pass(tl: Timeline, proj: Projection) -> DeferredCounters:
    """Flushes at mm switches and exposure windows of ``tl`` on ``proj.n`` virtual CPUs."""
    wd, total = _prepare(tl, proj)
    if wd is None:
        return DeferredCounters(0, 0, total, None, None, None)
    flushes, windows, w_max = wd.totals()
    if windows == 0:
        return DeferredCounters(flushes, 0, total, None, None, None)
    p50, p99 = (select(wd, nearest_rank(p, windows) + 1, w_max, windows) for p in (50, 99))
    assert proj.period > w_max >= 0
    return DeferredCounters(flushes, windows, total - windows, p50, p99, w_max)


def window_cdf(tl: Timeline, proj: Projection, points: int) -> tuple[list[int], list[int]]:
    """Exact empirical CDF of the exposure windows: (x values, windows <= x), with the
    x values log-spaced up to the largest window (empty when there are no windows)."""
    wd, _ = _prepare(tl, proj)
    if wd is None:
        return [], []
    _, windows, w_max = wd.totals()
    if windows == 0:
        return [], []
    xs = log_grid(w_max, points)
    return xs, [wd.count_le(x) for x in xs]


def log_grid(w_max: int, points: int) -> list[int]:
    """About ``points`` integer x values, log-spaced from 1 to the largest window, and 0."""
    hi = max(w_max, 2)
    return sorted({round(10 ** (k * math.log10(hi) / (points - 1))) for k in range(points)}
                  | {0, hi})
