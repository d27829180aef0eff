"""Remote pass of ``deferred`` with a ``bound`` (docs/model.md section 8), on N virtual CPUs.

Unlike ``remote`` (which never builds the virtual timeline), this pass lists the
virtual requests and mm switches, in the projection's order (moved ts, replica,
rank): a bounded flush depends on the first request a CPU sees after its last
flush, and that request can come from any replica.

Each virtual CPU's mm switches cut the request list into *intervals* (the last one,
after its last switch, open). Within an interval the CPU's pending state is a
chain: the first request of another CPU at time ``a`` forces a flush at ``a + T``
unless the interval's switch comes first (a switch at exactly ``a + T`` is an event
with ts <= a + T, so it flushes first); the flush clears every request up to time
``a + T`` and the next request after it starts the next link. The chain is walked
for all intervals at once, one link per step (a few steps: a step covers at least
T of time), each step one ``searchsorted``. Every flush is a *segment*: a range of
requests and the time that clears them, so windows and their exact quantiles are
counted per segment as in ``remote`` (the CPU's own requests subtracted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..percpu import cpu_sort_key
from ..projection import I64, Projection, Timeline
from .circle import cum0
from .quantile import TUNING, nearest_rank
from .unbounded import DeferredCounters, log_grid


@dataclass
class _Virtual:
    """Virtual requests in projection order, with what the segments need."""

    t: I64  # moved ts
    cpu: I64  # virtual CPU
    w: I64  # requests each event makes
    wc: I64  # cumulative weights (length + 1)
    run_end: I64  # for each request, the end of its run of one CPU's requests
    own_key: I64  # cpu * (len + 1) + index, ascending
    own_cum: I64  # cumulative weights in own_key order (length + 1)
    own_base: I64  # per virtual CPU: own_cum at its first key

    @property
    def size(self) -> int:
        return len(self.t)

    @property
    def weighted(self) -> bool:
        """Whether some event makes more than one request."""
        return bool(self.size) and int(self.w.max()) > 1

    def first_other(self, c: I64, i: I64) -> I64:
        """The first index >= i whose CPU is not ``c`` (len when none)."""
        q = self.size
        j = np.minimum(i, q - 1)
        out: I64 = np.where(i >= q, q, np.where(self.cpu[j] != c, i, self.run_end[j]))
        return out

    def own_before(self, c: I64, i: I64) -> I64:
        """Weight of CPU ``c``'s requests before index ``i``."""
        at = np.searchsorted(self.own_key, c * (self.size + 1) + i)
        out: I64 = self.own_cum[at] - self.own_base[c]
        return out

    def others(self, c: I64, lo: I64, hi: I64) -> I64:
        """Weight of the requests of CPUs other than ``c`` in [lo, hi)."""
        out: I64 = (self.wc[hi] - self.wc[lo]) - (self.own_before(c, hi)
                                                  - self.own_before(c, lo))
        return out


def _moved(ts: I64, cpu: I64, row: I64, w: I64,
           proj: Projection) -> tuple[I64, I64, I64, I64, I64]:
    """Every replica's copy of the events: moved ts, replica, rank, virtual CPU, weight."""
    d, nt = proj.period, proj.n_trace
    parts: list[list[I64]] = []
    for r in range(proj.replicas):
        keep = cpu < min(nt, proj.n - r * nt)  # a partial last replica: its CPUs only
        t = ts[keep] - proj.t0 + proj.shift(r)
        t %= d
        t += proj.t0
        parts.append([t, np.full(len(t), r, dtype=np.int64), row[keep], cpu[keep] + r * nt,
                      w[keep]])
    t, rep, rank, vcpu, weight = (np.concatenate([p[i] for p in parts]) for i in range(5))
    return t, rep, rank, vcpu, weight


def _virtual(tl: Timeline, proj: Projection) -> tuple[_Virtual, I64, I64, I64]:
    """The virtual requests in order, and the virtual switches: their times, CPUs, and
    how many requests come before each (ordered by CPU, then time)."""
    keep = tl.cpu < proj.n_trace
    rt, rr, rrow, rcpu, rw = _moved(tl.ts[keep], tl.cpu[keep], tl.row[keep], tl.w[keep],
                                    proj)
    skeep = tl.sw_cpu < proj.n_trace
    st, sr, srow, scpu, _ = _moved(tl.sw_ts[skeep], tl.sw_cpu[skeep], tl.sw_row[skeep],
                                   tl.sw_row[skeep], proj)
    nr = len(rt)
    order = np.lexsort((np.concatenate((rrow, srow)), np.concatenate((rr, sr)),
                        np.concatenate((rt, st))))
    is_req = order < nr
    before: I64 = np.cumsum(is_req) - is_req  # requests before each position
    req_order = order[is_req]
    sw_pos = np.empty(len(st), dtype=np.int64)
    sw_pos[order[~is_req] - nr] = before[~is_req]
    t, cpu, w = rt[req_order], rcpu[req_order], rw[req_order]
    n = proj.n
    if nr:
        change = np.flatnonzero(np.diff(cpu) != 0) + 1
        ends = np.concatenate((change, [nr]))
        run_end = np.repeat(ends, np.diff(np.concatenate(([0], ends))))
    else:
        run_end = np.zeros(0, dtype=np.int64)
    by_cpu = np.argsort(cpu_sort_key(cpu), kind="stable")
    own_key = cpu[by_cpu] * (nr + 1) + by_cpu
    own_cum = cum0(w[by_cpu])
    own_base = own_cum[np.searchsorted(own_key, np.arange(n, dtype=np.int64) * (nr + 1))]
    v = _Virtual(t, cpu, w, cum0(w), run_end.astype(np.int64), own_key, own_cum, own_base)
    s_order = np.lexsort((sw_pos, st, scpu))  # by CPU, then time, then place among requests
    return v, st[s_order], scpu[s_order], sw_pos[s_order]


@dataclass
class _Segments:
    """The flushes: requests [lo, hi) of other CPUs cleared on ``cpu`` at ``end``."""

    lo: I64
    hi: I64
    end: I64
    cpu: I64
    bounded: npt.NDArray[np.bool_]


def _segments(v: _Virtual, sw_t: I64, sw_cpu: I64, sw_pos: I64, n: int, bound: int,
              t_end: int) -> _Segments:
    """Walk every interval's chain of bounded flushes, one link per step."""
    # intervals: each switch closes one from its CPU's previous switch (or the start);
    # each CPU's open interval runs from its last switch (or the start) to the end
    first = np.ones(len(sw_cpu), dtype=bool)
    first[1:] = sw_cpu[1:] != sw_cpu[:-1]
    prev_pos = np.where(first, 0, np.concatenate(([0], sw_pos[:-1])))
    last = np.ones(len(sw_cpu), dtype=bool)
    last[:-1] = first[1:]
    last_pos = np.zeros(n, dtype=np.int64)
    last_pos[sw_cpu[last]] = sw_pos[last]
    lo = np.concatenate((prev_pos, last_pos))
    hi = np.concatenate((sw_pos, np.full(n, v.size, dtype=np.int64)))
    end = np.concatenate((sw_t, np.zeros(n, dtype=np.int64)))
    closed = np.concatenate((np.ones(len(sw_t), dtype=bool), np.zeros(n, dtype=bool)))
    cpu = np.concatenate((sw_cpu, np.arange(n, dtype=np.int64)))
    out: list[tuple[I64, I64, I64, I64, npt.NDArray[np.bool_]]] = []
    while len(lo):
        h = v.first_other(cpu, lo)
        pending = h < hi
        lo, hi, end, closed, cpu, h = (x[pending] for x in (lo, hi, end, closed, cpu, h))
        if not len(lo):
            break
        f = v.t[h] + bound
        forced = (f <= t_end) & (~closed | (end > f))
        # a switch that comes first clears the interval; an open one is censored
        done = ~forced & closed
        out.append((lo[done], hi[done], end[done], cpu[done], np.zeros(int(done.sum()), bool)))
        lo, hi, end, closed, cpu, f = (x[forced] for x in (lo, hi, end, closed, cpu, f))
        cut = np.searchsorted(v.t, f, side="right")
        out.append((lo, cut, f, cpu, np.ones(len(f), dtype=bool)))
        lo = cut
    if not out:
        z = np.zeros(0, dtype=np.int64)
        return _Segments(z, z, z, z, np.zeros(0, dtype=bool))
    cols = [np.concatenate([o[i] for o in out]) for i in range(5)]
    return _Segments(*cols)


def _count_le(v: _Virtual, s: _Segments, x: int) -> int:
    """Windows <= x: per segment, its other CPUs' requests at times >= end - x."""
    lo = np.maximum(s.lo, np.searchsorted(v.t, s.end - x, side="left"))
    lo = np.minimum(lo, s.hi)
    return int(v.others(s.cpu, lo, s.hi).sum())


def _listed(v: _Virtual, s: _Segments, wants: list[int]) -> list[int] | None:
    """The ``wants``-th smallest windows (1-based), from the listed windows, or None when
    listing them would take more than ``TUNING.list_limit`` entries."""
    lens = s.hi - s.lo
    total = int(lens.sum())
    if total > TUNING.list_limit:
        return None
    # each entry's request index: a running count, shifted per segment to start at lo
    idx = np.arange(total, dtype=np.int64)
    idx += np.repeat(s.lo - (np.cumsum(lens) - lens), lens)
    keep = np.take(v.cpu, idx) != np.repeat(s.cpu, lens)  # a CPU's own requests: none
    win = np.repeat(s.end, lens)
    win -= np.take(v.t, idx)
    win = np.compress(keep, win)
    if v.weighted:
        win = np.repeat(win, np.compress(keep, np.take(v.w, idx)))
    part = np.partition(win, [k - 1 for k in wants])
    return [int(part[k - 1]) for k in wants]


def _select(v: _Virtual, s: _Segments, want: int, hi: int) -> int:
    """Smallest x with count_le(x) >= want (count_le(hi) >= want): a bisection on x."""
    lo = -1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _count_le(v, s, mid) >= want:
            hi = mid
        else:
            lo = mid
    return hi


class Bounded:
    """One variant's virtual timeline on ``proj.n`` CPUs, built once for every bound."""

    def __init__(self, tl: Timeline, proj: Projection) -> None:
        self.proj = proj
        self.v, self.sw_t, self.sw_cpu, self.sw_pos = _virtual(tl, proj)

    def segments(self, bound: int) -> _Segments | None:
        if self.v.size == 0:
            return None
        t_end = self.proj.t0 + self.proj.period - 1
        return _segments(self.v, self.sw_t, self.sw_cpu, self.sw_pos, self.proj.n, bound,
                         t_end)

    def run(self, bound: int) -> tuple[DeferredCounters, int]:
        """Flushes (at mm switches and bounded), windows and bounded flushes with no CPU
        pending longer than ``bound`` ns."""
        return _counters(self.v, self.segments(bound), self.proj)


def _prepare(tl: Timeline, proj: Projection, bound: int) -> tuple[_Virtual, _Segments | None]:
    b = Bounded(tl, proj)
    return b.v, b.segments(bound)


def bounded_pass(tl: Timeline, proj: Projection, bound: int) -> tuple[DeferredCounters, int]:
    """Flushes (at mm switches and bounded), windows and bounded flushes of ``tl`` on
    ``proj.n`` virtual CPUs with no CPU pending longer than ``bound`` ns."""
    return Bounded(tl, proj).run(bound)


def _counters(v: _Virtual, s: _Segments | None,
              proj: Projection) -> tuple[DeferredCounters, int]:
    total = int(v.wc[-1]) * (proj.n - 1)
    if s is None:
        return DeferredCounters(0, 0, total, None, None, None), 0
    bounded = int(s.bounded.sum())
    flushes = len(s.lo)
    windows = int(v.others(s.cpu, s.lo, s.hi).sum())
    if windows == 0:
        return DeferredCounters(flushes, 0, total, None, None, None), bounded
    w_max = _max_window(v, s)
    wants = [nearest_rank(p, windows) + 1 for p in (50, 99)]
    found = _listed(v, s, wants)
    p50, p99 = found if found is not None else [_select(v, s, k, w_max) for k in wants]
    return DeferredCounters(flushes, windows, total - windows, p50, p99, w_max), bounded


def bounded_window_cdf(tl: Timeline, proj: Projection, bound: int,
                       points: int) -> tuple[list[int], list[int]]:
    """Exact empirical CDF of the windows (as ``remote.window_cdf``) with a bound."""
    v, s = _prepare(tl, proj, bound)
    if s is None or not len(s.lo):
        return [], []
    if int(v.others(s.cpu, s.lo, s.hi).sum()) == 0:
        return [], []
    xs = log_grid(_max_window(v, s), points)
    return xs, [_count_le(v, s, x) for x in xs]


def _max_window(v: _Virtual, s: _Segments) -> int:
    """The longest window: each flush's end minus its first other-CPU request."""
    return int((s.end - v.t[v.first_other(s.cpu, s.lo)]).max())
