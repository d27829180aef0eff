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

import math
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
        self.req_w = req_w
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
        self.by_cpu = by_cpu  # per-CPU order: own-request lookup keys come sorted in it
        # own requests: keys v*(R+1) + request index, ascending, with cumulative weights
        self.stride = n_req + 1
        ko = np.argsort(self.req_v.astype(_cpu_sort_dtype(n_virtual)), kind="stable")
        self.own_key: I64 = self.req_v[ko] * self.stride + ko
        self.own_cum: I64 = np.concatenate(([0], np.cumsum(req_w[ko]))).astype(np.int64)
        self.base_by_cpu: I64 = (self.v * self.stride)[by_cpu]
        own_end = self.own_cum[np.searchsorted(self.own_key,
                                               self.base_by_cpu + self.end[by_cpu])]
        self.own_end_by_cpu: I64 = own_end
        self.w_end: I64 = self.wcum[self.end]

    def _own_from(self, lo: I64) -> I64:
        """Own-request weight in [lo, end), per switch in per-CPU order."""
        keys = self.base_by_cpu + lo[self.by_cpu]  # ascending: lo grows within a CPU
        own: I64 = self.own_end_by_cpu - self.own_cum[np.searchsorted(self.own_key, keys)]
        return own

    def others(self, lo: I64) -> I64:
        """Weight of other CPUs' requests with index in [lo, end) for each switch."""
        own = np.empty_like(lo)
        own[self.by_cpu] = self._own_from(lo)
        return self.w_end - self.wcum[lo] - own

    def others_total(self, lo: I64) -> int:
        return int((self.w_end - self.wcum[lo]).sum()) - int(self._own_from(lo).sum())

    def count_le(self, x: int) -> int:
        """Number of windows <= x."""
        lo = np.searchsorted(self.req_mts, self.mts - x, side="left")  # sorted queries
        lo = np.minimum(np.maximum(lo, self.start), self.end)
        return self.others_total(lo)

    def max_window(self, has: npt.NDArray[np.bool_]) -> int:
        """Largest window: each switch's first other-CPU request (past a run of its own)."""
        change = np.flatnonzero(np.diff(self.req_v) != 0) + 1
        bounds = np.concatenate((change, [len(self.req_v)]))
        s = self.start[has]
        run_end = bounds[np.searchsorted(bounds, s, side="right")]
        first_other = np.where(self.req_v[s] != self.v[has], s, run_end)
        return int((self.mts[has] - self.req_mts[first_other]).max())

    def kth_between(self, lo: int, hi: int, k: int) -> int:
        """The k-th smallest (1-based, by weight) window w with lo < w <= hi, by listing
        just those windows: one index range per switch, expanded with np.repeat."""
        a = np.searchsorted(self.req_mts, self.mts - hi, side="left")
        b = np.searchsorted(self.req_mts, self.mts - lo, side="left")
        a = np.minimum(np.maximum(a, self.start), self.end)
        b = np.minimum(np.maximum(b, self.start), self.end)
        lengths = b - a
        total = int(lengths.sum())
        sw = np.repeat(np.arange(len(a)), lengths)
        idx = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths) + a[sw]
        other = self.req_v[idx] != self.v[sw]
        idx, sw = idx[other], sw[other]
        win = self.mts[sw] - self.req_mts[idx]
        order = np.argsort(win, kind="stable")
        cum = np.cumsum(self.req_w[idx][order])
        return int(win[order][np.searchsorted(cum, k, side="left")])


#: Once the search bracket holds at most this many windows they are listed and sorted
#: (``None``: scaled to the cost of one count, about 8 windows per switch, 1 M to 16 M).
MATERIALIZE: int | None = None


def _select(iv: _Intervals, want: int, hi: int, total: int) -> int:
    """Smallest x with count_le(x) >= want, given count_le(hi) = total >= want.

    Safeguarded interpolation search (the count is close to linear locally; every
    third step bisects) until the bracket is small enough to list its windows.
    """
    lo, c_lo, c_hi = -1, 0, total
    step = 0
    limit = MATERIALIZE if MATERIALIZE is not None else min(16_000_000,
                                                            max(1_000_000, 8 * len(iv.mts)))
    while hi - lo > 1:
        if c_hi - c_lo <= limit:
            return iv.kth_between(lo, hi, want - c_lo)
        step += 1
        if step % 3 == 0:
            x = (lo + hi) // 2
        elif lo > 0 and step % 3 == 1:
            # windows are heavy-tailed: the count is closer to linear in log(x)
            frac = (want - c_lo) / (c_hi - c_lo)
            x = int(math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo))))
            x = min(max(x, lo + 1), hi - 1)
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


def window_cdf(tl: VirtualTimeline, n_virtual: int, points: int) -> tuple[list[int], list[int]]:
    """Exact empirical CDF of the exposure windows: (x values, windows <= x), with the
    x values log-spaced up to the largest window (empty when there are no windows)."""
    if len(tl.w) == 0 or bool((tl.w > 0).all()) or int(tl.w.sum()) == 0:
        return [], []
    iv = _Intervals(tl, n_virtual)
    per_switch = iv.others(iv.start)
    has = per_switch > 0
    if not has.any():
        return [], []
    hi = max(iv.max_window(has), 2)
    xs = sorted({round(10 ** (k * math.log10(hi) / (points - 1))) for k in range(points)}
                | {0, hi})
    return xs, [iv.count_le(x) for x in xs]
