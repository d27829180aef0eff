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

from .projection import I64, Timeline


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


class _Intervals:
    """Per-switch interval bounds into the request array, and own-request lookup."""

    def __init__(self, req: Timeline, sw: Timeline, n_virtual: int) -> None:
        n_req = len(req.mts)
        self.req_mts = req.mts
        self.wcum: I64 = np.concatenate(([0], np.cumsum(req.w))).astype(np.int64)
        # position of each switch among requests: count of requests before it in replay order
        all_mts = np.concatenate((req.mts, sw.mts))
        all_r = np.concatenate((req.r, sw.r))
        all_seq = np.concatenate((req.seq, sw.seq))
        is_req = np.concatenate((np.ones(n_req, np.int64), np.zeros(len(sw.mts), np.int64)))
        order = np.lexsort((all_seq, all_r, all_mts))
        before = np.cumsum(is_req[order]) - is_req[order]
        pos = np.empty_like(before)
        pos[order] = before
        sw_idx = pos[n_req:]
        # switches grouped by CPU, in replay order within each CPU
        by_cpu = np.lexsort((sw_idx, sw.v))
        self.v = sw.v[by_cpu]
        self.end = sw_idx[by_cpu]
        self.mts = sw.mts[by_cpu]
        first = np.ones(len(self.v), dtype=bool)
        first[1:] = self.v[1:] != self.v[:-1]
        self.start = np.where(first, 0, np.concatenate(([0], self.end[:-1])))
        self.last = np.ones(len(self.v), dtype=bool)
        self.last[:-1] = self.v[1:] != self.v[:-1]
        # own requests: keys v*(R+1) + global index, with cumulative weights
        self.stride = n_req + 1
        own_key = req.v * self.stride + np.arange(n_req, dtype=np.int64)
        ko = np.argsort(own_key, kind="stable")
        self.own_key = own_key[ko]
        self.own_cum: I64 = np.concatenate(([0], np.cumsum(req.w[ko]))).astype(np.int64)
        self.n_virtual = n_virtual

    def others(self, lo: I64) -> I64:
        """Weight of other CPUs' requests with index in [lo, end) for each switch."""
        base = self.v * self.stride
        own = (self.own_cum[np.searchsorted(self.own_key, base + self.end)]
               - self.own_cum[np.searchsorted(self.own_key, base + lo)])
        return self.wcum[self.end] - self.wcum[lo] - own

    def count_le(self, x: int) -> int:
        """Number of windows <= x."""
        lo = np.searchsorted(self.req_mts, self.mts - x, side="left")
        lo = np.minimum(np.maximum(lo, self.start), self.end)
        return int(self.others(lo).sum())


def deferred_pass(req: Timeline, sw: Timeline, n_virtual: int, span: int) -> DeferredCounters:
    """Flushes at mm switches and exposure windows; ``span`` bounds any window (D)."""
    total = int(req.w.sum()) * (n_virtual - 1)
    if len(sw.mts) == 0 or total == 0:
        return DeferredCounters(0, 0, total, None, None, None)
    iv = _Intervals(req, sw, n_virtual)
    per_switch = iv.others(iv.start)
    flushes = int((per_switch > 0).sum())
    windows = int(per_switch.sum())
    quantiles: list[int | None] = []
    for p in (50, 99, 100):
        if windows == 0:
            quantiles.append(None)
            continue
        want = nearest_rank(p, windows) + 1  # smallest x with count_le(x) >= want
        lo, hi = 0, span
        while lo < hi:
            mid = (lo + hi) // 2
            if iv.count_le(mid) >= want:
                hi = mid
            else:
                lo = mid + 1
        quantiles.append(lo)
    return DeferredCounters(flushes, windows, total - windows, *quantiles)
