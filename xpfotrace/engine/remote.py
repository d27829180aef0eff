"""Remote pass of the ``deferred`` mode (MODEL.md section 4) over virtual CPUs.

No (request, CPU) pair is ever built. Requests sit in one array in replay
order with cumulative weights; each CPU's mm switches cut its timeline into
intervals. The requests *of other CPUs* in an interval are the interval's
total minus the CPU's own (found in a second array keyed by CPU). A switch
flushes when that count is positive; the windows it closes are its ts minus
those requests' ts, so "how many windows are <= x" is a sum of searchsorted
counts over switches, and each quantile is found exactly by bisection on x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .projection import I64, VirtualTimeline


@dataclass
class DeferredCounters:
    remote_full_flushes: int
    windows: int
    censored_windows: int
    window_p50_ns: int | None
    window_p99_ns: int | None
    window_max_ns: int | None


def nearest_rank(p: int, n: int) -> int:
    """0-based index of percentile ``p`` among ``n`` sorted values (MODEL.md section 4)."""
    return (p * n + 99) // 100 - 1


def _cpu_sort_dtype(n: int) -> type[np.unsignedinteger]:
    # a stable sort of 16-bit integers is a radix sort: linear time
    return np.uint16 if n < (1 << 16) else np.uint32


class _Intervals:
    """Per-switch interval bounds into the request array, and own-request lookup."""

    def __init__(self, tl: VirtualTimeline, n_virtual: int) -> None:
        is_req = tl.w > 0
        req_before: I64 = np.cumsum(is_req) - is_req  # requests before each row
        self.req_mts: I64 = tl.mts[is_req]
        req_w: I64 = tl.w[is_req]
        self.req_v: I64 = tl.v[is_req]
        n_req = len(self.req_mts)
        self.wcum: I64 = np.concatenate(([0], np.cumsum(req_w))).astype(np.int64)
        sw = ~is_req
        # switches in replay order (so searchsorted queries by time come sorted)
        self.v: I64 = tl.v[sw]
        self.end: I64 = req_before[sw]
        self.mts: I64 = tl.mts[sw]
        # interval start: the end of the same CPU's previous switch (0 for its first)
        by_cpu = np.argsort(self.v.astype(_cpu_sort_dtype(n_virtual)), kind="stable")
        v_sorted, end_sorted = self.v[by_cpu], self.end[by_cpu]
        first = np.ones(len(v_sorted), dtype=bool)
        first[1:] = v_sorted[1:] != v_sorted[:-1]
        start_sorted = np.where(first, 0, np.concatenate(([0], end_sorted[:-1])))
        self.start: I64 = np.empty_like(start_sorted)
        self.start[by_cpu] = start_sorted
        self.is_last = np.zeros(len(v_sorted), dtype=bool)
        last_sorted = np.ones(len(v_sorted), dtype=bool)
        last_sorted[:-1] = v_sorted[1:] != v_sorted[:-1]
        self.is_last[by_cpu] = last_sorted
        # own requests: keys v*(R+1) + request index, ascending, with cumulative weights
        self.stride = n_req + 1
        ko = np.argsort(self.req_v.astype(_cpu_sort_dtype(n_virtual)), kind="stable")
        self.own_key: I64 = self.req_v[ko] * self.stride + ko
        self.own_cum: I64 = np.concatenate(([0], np.cumsum(req_w[ko]))).astype(np.int64)
        self.base: I64 = self.v * self.stride
        self.own_end: I64 = self.own_cum[np.searchsorted(self.own_key, self.base + self.end)]
        self.w_end: I64 = self.wcum[self.end]

    def others(self, lo: I64) -> I64:
        """Weight of other CPUs' requests with index in [lo, end) for each switch."""
        own = self.own_end - self.own_cum[np.searchsorted(self.own_key, self.base + lo)]
        return self.w_end - self.wcum[lo] - own

    def count_le(self, x: int) -> int:
        """Number of windows <= x."""
        lo = np.searchsorted(self.req_mts, self.mts - x, side="left")
        lo = np.minimum(np.maximum(lo, self.start), self.end)
        return int(self.others(lo).sum())

    def max_window(self, has: npt.NDArray[np.bool_]) -> int:
        """Largest window: each switch's first other-CPU request, found via runs of one CPU."""
        n = len(self.req_v)
        change = np.flatnonzero(np.diff(self.req_v) != 0) + 1
        run_end = np.empty(n, dtype=np.int64)  # index just past the run of equal CPUs
        bounds = np.concatenate((change, [n]))
        run_id = np.searchsorted(bounds, np.arange(n), side="right")
        run_end[:] = bounds[run_id]
        s = self.start[has]
        first_other = np.where(self.req_v[s] != self.v[has], s, run_end[s])
        return int((self.mts[has] - self.req_mts[first_other]).max())


def _select(iv: _Intervals, want: int, hi: int, total: int) -> int:
    """Smallest x with count_le(x) >= want, given count_le(hi) = total >= want.

    Safeguarded interpolation search: the count is close to linear locally, so
    interpolating converges in a few steps; every third step bisects instead.
    """
    lo, c_lo, c_hi = -1, 0, total
    step = 0
    while hi - lo > 1:
        step += 1
        if step % 3 == 0:
            x = (lo + hi) // 2
        else:
            x = lo + ((want - c_lo) * (hi - lo) + (c_hi - c_lo) - 1) // (c_hi - c_lo)
            x = min(max(x, lo + 1), hi - 1)
        c = iv.count_le(x)
        if c >= want:
            hi, c_hi = x, c
        else:
            lo, c_lo = x, c
    return hi


def deferred_pass(tl: VirtualTimeline, n_virtual: int, span: int) -> DeferredCounters:
    """Flushes at mm switches and exposure windows; ``span`` bounds any window (D)."""
    total = int(tl.w.sum()) * (n_virtual - 1)
    if total == 0 or bool((tl.w > 0).all()):
        return DeferredCounters(0, 0, total, None, None, None)
    iv = _Intervals(tl, n_virtual)
    per_switch = iv.others(iv.start)
    has = per_switch > 0
    flushes = int(has.sum())
    windows = int(per_switch.sum())
    if windows == 0:
        return DeferredCounters(flushes, 0, total, None, None, None)
    w_max = iv.max_window(has)
    p50, p99 = (_select(iv, nearest_rank(p, windows) + 1, w_max, windows) for p in (50, 99))
    assert span > w_max >= 0
    return DeferredCounters(flushes, windows, total - windows, p50, p99, w_max)


def window_counts(tl: VirtualTimeline, n_virtual: int, xs: list[int]) -> list[int]:
    """Exact number of exposure windows <= x for each x (an empirical CDF)."""
    if len(tl.w) == 0 or bool((tl.w > 0).all()) or int(tl.w.sum()) == 0:
        return [0 for _ in xs]
    iv = _Intervals(tl, n_virtual)
    return [iv.count_le(int(x)) for x in xs]
