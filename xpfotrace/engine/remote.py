"""Remote pass of the ``deferred`` mode (docs/model.md section 4) on N virtual CPUs.

No virtual timeline and no (request, CPU) pair is ever built. The trace is a
circle of length D; replica ``r`` (docs/model.md section 6) is the same circle turned
by ``s_r`` and cut at moved time 0. Seen from replica ``r``, the requests of
replica ``r'`` sit at the trace's own request times minus ``delta = s_r - s_r'``
(ties go to the lower replica), so every count a virtual CPU needs is a
difference of two searchsorted positions in the trace's own request array,
shifted by ``delta``. The k * k replica pairs share about 4k distinct
``(delta, tie side)`` *combos*; each is evaluated once per traced mm switch and
weighted by how many (switch replica, request replica) pairs use it.

A virtual CPU's mm switches cut its circle into intervals: each traced switch
closes the interval from the previous switch of its CPU (cyclically), except
the first switch after the cut, whose interval starts at moved time 0 (those
few ``cuts`` are counted on their own). Within one replica a CPU's own requests
are subtracted; other replicas' requests always belong to other virtual CPUs.
A switch flushes when its interval holds a request of another CPU; the windows
it closes are its time minus those requests' times, so "how many windows are
<= x" is again a sum of searchsorted differences, and each quantile is found
exactly by a search on x that ends by listing the windows of a small bracket.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .prepare import cpu_sort_key
from .projection import I64, Projection, Timeline

BOOL = npt.NDArray[np.bool_]


@dataclass
class DeferredCounters:
    remote_full_flushes: int
    windows: int
    censored_windows: int
    window_p50_ns: int | None
    window_p99_ns: int | None
    window_max_ns: int | None


def nearest_rank(p: int, n: int) -> int:
    """0-based index of percentile ``p`` among ``n`` sorted values (docs/model.md section 4)."""
    return (p * n + 99) // 100 - 1


def _cum0(w: I64) -> I64:
    """Cumulative sums of ``w`` after a leading 0 (length len(w) + 1)."""
    out = np.zeros(len(w) + 1, dtype=np.int64)
    np.cumsum(w, out=out[1:])
    return out


class _Requests:
    """One set of the trace's requests in replay order, on the circle of length ``period``.

    Positions are *extended* indices: ``a*q + i`` is request ``i`` in turn ``a``
    of the circle (time ``t[i] + a*period``), so an interval that wraps is a
    plain index range.
    """

    def __init__(self, t: I64, row: I64, cpu: I64, w: I64, period: int, n_trace: int) -> None:
        self.t, self.row, self.cpu, self.w = t, row, cpu, w
        self.q = len(t)
        self.period = period
        self.wc: I64 = _cum0(w)
        self.total = int(self.wc[-1])
        # own requests: keys cpu*(q+1) + index, ascending, with cumulative weights
        self.stride = self.q + 1
        by_cpu = np.argsort(cpu_sort_key(cpu), kind="stable")
        self.own_key: I64 = cpu[by_cpu] * self.stride + by_cpu
        self.own_cum: I64 = _cum0(w[by_cpu])
        cpus = np.arange(n_trace + 1, dtype=np.int64) * self.stride
        bounds = self.own_cum[np.searchsorted(self.own_key, cpus)]
        self.own_base: I64 = bounds[:-1]
        self.own_total: I64 = np.diff(bounds)
        self._wc_ext: I64 | None = None
        # runs of one CPU, for the first other-CPU request at or after an index
        self.run_end: I64 = np.concatenate((np.flatnonzero(np.diff(cpu) != 0) + 1, [self.q]))

    def at(self, y: I64, right: bool | BOOL = False) -> I64:
        """Extended index of the first request with time >= y (> y where ``right``)."""
        if self.q == 0:
            return np.zeros_like(y)
        a = y // self.period
        b = y - a * self.period
        if isinstance(right, bool):
            i = np.searchsorted(self.t, b, side="right" if right else "left")
        else:
            i = np.where(right, np.searchsorted(self.t, b, side="right"),
                         np.searchsorted(self.t, b, side="left"))
        out: I64 = a * self.q + i
        return out

    def at_row(self, row: I64) -> I64:
        """Index of the first request after timeline row ``row`` (turn 0)."""
        out: I64 = np.searchsorted(self.row, row).astype(np.int64)
        return out

    def _split(self, i: I64) -> tuple[I64, I64]:
        a, m = np.divmod(i, self.q)
        return a, m

    def cum(self, i: I64) -> I64:
        """Weight of the requests before extended index ``i``."""
        if self.q == 0:
            return np.zeros_like(i)
        lo, hi = (int(i.min()), int(i.max())) if i.size else (0, 0)
        if lo >= 0 and hi <= self.q:  # one turn: a plain gather
            plain: I64 = self.wc[i]
            return plain
        if -3 * self.q <= lo and hi <= 2 * self.q:
            if self._wc_ext is None:  # cumulative weights over turns -3..1: no division
                self._wc_ext = np.concatenate(
                    [self.wc[:-1] + a * self.total for a in range(-3, 2)] + [[2 * self.total]])
            direct: I64 = self._wc_ext[i + 3 * self.q]
            return direct
        a, m = self._split(i)
        out: I64 = a * self.total + self.wc[m]
        return out

    def own_cum_at(self, c: I64, i: I64) -> I64:
        """Weight of CPU ``c``'s requests before extended index ``i``."""
        if self.q == 0:
            return np.zeros_like(i)
        a, m = self._split(i)
        out: I64 = (a * self.own_total[c] - self.own_base[c]
                    + self.own_cum[np.searchsorted(self.own_key, c * self.stride + m)])
        return out

    def time(self, i: I64) -> I64:
        """Time of the request at extended index ``i``."""
        a, m = self._split(i)
        out: I64 = self.t[m] + a * self.period
        return out

    def first_other(self, c: I64, i: I64) -> I64:
        """Extended index of the first request at or after ``i`` whose CPU is not ``c``
        (meaningful where one exists before the range ends)."""
        a, m = self._split(i)
        m = np.minimum(m, self.q - 1)
        run_end = self.run_end[np.searchsorted(self.run_end, m, side="right")]
        nxt = np.where(self.cpu[m] != c, m, run_end)
        # a run that reaches the end of the array continues at index 0 of the next turn
        first0 = self.q + np.where(self.cpu[0] != c, 0, self.run_end[0])
        out: I64 = a * self.q + np.where(nxt < self.q, nxt, first0)
        return out


@dataclass
class _Switches:
    """Traced mm switches in replay order, each with its CPU's previous switch on the circle."""

    t: I64
    cpu: I64
    row: I64
    prev_t: I64  # previous switch's time, minus D for a CPU's first switch
    prev_row: I64
    prev_turn: I64  # -1 for a CPU's first switch (its previous switch is a turn earlier)
    prev: I64  # index of the previous switch

    @classmethod
    def build(cls, t: I64, cpu: I64, row: I64, period: int) -> _Switches:
        by_cpu = np.argsort(cpu_sort_key(cpu), kind="stable")
        c = cpu[by_cpu]
        first = np.ones(len(c), dtype=bool)
        first[1:] = c[1:] != c[:-1]
        last = np.ones(len(c), dtype=bool)
        last[:-1] = first[1:]
        group_last = np.flatnonzero(last)[np.cumsum(first) - 1]  # each row's CPU's last
        prev_sorted = np.where(first, group_last, np.arange(len(c)) - 1)
        prev = np.empty(len(c), dtype=np.int64)
        prev[by_cpu] = by_cpu[prev_sorted]
        turn = np.zeros(len(c), dtype=np.int64)
        turn[by_cpu] = np.where(first, -1, 0)
        return cls(t, cpu, row, t[prev] + turn * period, row[prev], turn, prev)


@dataclass
class _CutSites:
    """Per virtual CPU with switches: its replica, CPU, first switch after the cut, and
    where that switch's interval starts (moved time 0, in the replica's trace time)."""

    r: I64
    c: I64
    j: I64
    low: I64


@dataclass
class _Combo:
    """Requests of replica r' seen from replica r: shifted by delta, ties by replica."""

    same: bool  # r' == r: the switch's own replica, own CPU excluded
    delta: int
    right: bool  # r' < r: a request at the switch's moved time comes before it
    rset: int  # 0: all requests, 1: a partial last replica's


def _on_cpus_below(n: int, cpu: I64, *more: I64) -> list[I64]:
    """``cpu`` and the arrays beside it, without the rows of CPUs n and up."""
    if not len(cpu) or int(cpu.max()) < n:
        return [cpu, *more]
    keep = cpu < n
    return [a[keep] for a in (cpu, *more)]


class _Plan:
    """Everything the counts need, for one variant's timeline on N virtual CPUs."""

    def __init__(self, tl: Timeline, proj: Projection) -> None:
        n_trace = proj.n_trace
        # CPUs past N_trace do not replay
        cpu, ts, w, row = _on_cpus_below(n_trace, tl.cpu, tl.ts, tl.w, tl.row)
        sw_cpu, sw_ts, sw_row = _on_cpus_below(n_trace, tl.sw_cpu, tl.sw_ts, tl.sw_row)
        d = self.period = proj.period
        k = self.k = proj.replicas
        self.n, self.n_trace = proj.n, n_trace
        part = self.n - (k - 1) * n_trace  # CPUs of the last replica
        self.sets = [_Requests(ts - proj.t0, row, cpu, w, d, n_trace)]
        if part < n_trace:
            sub = cpu < part
            self.sets.append(_Requests(ts[sub] - proj.t0, row[sub], cpu[sub], w[sub], d,
                                       n_trace))
        self.valid: BOOL = (np.arange(k)[:, None] * n_trace
                            + np.arange(n_trace)[None, :]) < self.n  # (r, c)
        self.shifts = np.array([proj.shift(r) for r in range(k)], dtype=np.int64)
        self.sw = _Switches.build(sw_ts - proj.t0, sw_cpu, sw_row, d)
        self._combos()
        self._cuts()
        weights_by_cpu = self.sets[0].own_total
        self.total_weight = int((self.valid.sum(axis=0) * weights_by_cpu).sum())

    def rset(self, r: int) -> int:
        """The request set of replica r: 1 for a partial last replica, else 0 (all)."""
        return 1 if (r == self.k - 1 and len(self.sets) > 1) else 0

    def _combos(self) -> None:
        k = self.k
        rset = [self.rset(r) for r in range(k)]
        index: dict[tuple[bool, int, bool, int], int] = {}
        self.combo_of = np.zeros((k, k), dtype=np.int64)
        for r in range(k):
            for r2 in range(k):
                same = r == r2
                key = (same, 0 if same else int(self.shifts[r] - self.shifts[r2]),
                       r2 < r, rset[r2])
                self.combo_of[r, r2] = index.setdefault(key, len(index))
        self.combos = [_Combo(*key) for key in index]
        nc = len(self.combos)
        # uses[r, combo]: request replicas r' that replica r's switches see through combo
        self.uses = np.zeros((k, nc), dtype=np.int64)
        np.add.at(self.uses, (np.repeat(np.arange(k), k), self.combo_of.ravel()), 1)
        # by_cpu[c, combo]: (r, r') pairs through combo, over the replicas where c exists
        self.by_cpu = self.valid.T.astype(np.int64) @ self.uses
        self.delta = np.array([c.delta for c in self.combos], dtype=np.int64)
        self.right = np.array([c.right for c in self.combos], dtype=bool)

    def _cuts(self) -> None:
        sw, d = self.sw, self.period
        rs, cs, js, lows = [], [], [], []
        for c in range(self.n_trace):
            idx = np.flatnonzero(sw.cpu == c)
            if len(idx) == 0:
                continue
            for r in range(self.k):
                if not self.valid[r, c]:
                    continue
                start = d - int(self.shifts[r])  # moved time 0, in the trace's time
                pos = int(np.searchsorted(sw.t[idx], start, side="left"))
                wrapped = pos < len(idx)
                rs.append(r)
                cs.append(c)
                js.append(int(idx[pos]) if wrapped else int(idx[0]))
                lows.append(start if wrapped else start - d)
        self.cut = _CutSites(*(np.array(v, dtype=np.int64) for v in (rs, cs, js, lows)))

    # -- intervals of the traced switches, per combo --------------------------------------

    def chunks(self, size: int) -> Iterator[slice]:
        for a in range(0, len(self.sw.t), size):
            yield slice(a, min(a + size, len(self.sw.t)))

    def first(self, ci: int, s: slice | I64, lo: I64) -> I64:
        """Time of the first request the window counts in a range starting at ``lo``."""
        cb = self.combos[ci]
        rq = self.sets[cb.rset]
        if cb.same:
            return rq.time(rq.first_other(self.sw.cpu[s], lo))
        return rq.time(lo)

    def realized(self, s: slice) -> I64:
        """(switch, combo) -> how many (switch replica, request replica) pairs use it,
        the first switch after each cut excepted (its interval is counted on its own)."""
        out: I64 = self.by_cpu[self.sw.cpu[s]].copy()
        inside = (self.cut.j >= s.start) & (self.cut.j < s.stop)
        np.subtract.at(out, self.cut.j[inside] - s.start, self.uses[self.cut.r[inside]])
        return out


@dataclass
class _Chunk:
    """Index ranges of a chunk of switches, combo by switch."""

    s: slice
    lo: I64  # first request of each interval
    hi: I64  # end of each interval
    cum_hi: I64  # weight before ``hi`` (own CPU's excluded for same-replica combos)
    real: I64  # (switch replica, request replica) pairs using each entry


class _Windows:
    """Counts of one variant: flushes, windows and ``count_le`` for the quantile search."""

    CHUNK_ENTRIES = 2_000_000  # (combo, switch) entries per chunk
    CACHE_ENTRIES = 24_000_000  # keep the chunks across count_le calls up to this size
    MIN_SAMPLE = 100  # fewer sampled windows than this give no bracket

    def __init__(self, plan: _Plan) -> None:
        self.p = plan
        nc = len(plan.combos)
        self.size = max(1, self.CHUNK_ENTRIES // nc)
        self.entries = len(plan.sw.t) * nc
        self.cache: list[_Chunk] | None = [] if self.entries <= self.CACHE_ENTRIES else None
        rsets = np.array([c.rset for c in plan.combos])
        self.groups = [(i, np.flatnonzero(rsets == i)) for i in range(len(plan.sets))]
        self.same = [ci for ci, c in enumerate(plan.combos) if c.same]
        self.cross = np.array([not c.same for c in plan.combos])
        self.cut = _Cuts(plan)
        self.unweighted = 0  # listed entries the windows stand for (set by totals)
        self._sample: tuple[I64, I64] | None = None
        self._all: tuple[I64, I64] | None = None
        self.w_max = -1
        self.length: I64 = plan.sw.t - plan.sw.prev_t  # interval lengths (bound windows)
        self.full: I64 = np.zeros(len(plan.sw.t), dtype=np.int64)  # windows per switch
        # switches by interval length, with cumulative windows: set by totals()
        self.by_length: I64 | None = None
        self.full_cum: I64 | None = None

    def chunks(self) -> Iterator[_Chunk]:
        if self.cache:
            yield from self.cache
            return
        p = self.p
        q = np.array([p.sets[c.rset].q for c in p.combos], dtype=np.int64)[:, None]
        for s in p.chunks(self.size):
            hi = self._ends(s)
            # an interval starts where its CPU's previous one ended (mostly in this chunk)
            prev = p.sw.prev[s] - s.start
            here = (prev >= 0) & (prev < hi.shape[1])
            lo = np.empty_like(hi)
            lo[:, here] = hi[:, prev[here]] + p.sw.prev_turn[s][here] * q
            away = np.flatnonzero(~here) + s.start
            if len(away):
                lo[:, ~here] = self._ends(away, start=True)
            ch = _Chunk(s, lo, hi, self._cum(p.sw.cpu[s], hi), p.realized(s).T.copy())
            if self.cache is not None:
                self.cache.append(ch)
            yield ch

    def _ends(self, s: slice | I64, start: bool = False) -> I64:
        """End (or with ``start``, start) of each combo's range for switches ``s``
        (combo x switch): one searchsorted per (request set, tie side) group."""
        p = self.p
        t = (p.sw.prev_t if start else p.sw.t)[s]
        out = np.empty((len(p.combos), len(t)), dtype=np.int64)
        for rset, rows in self.groups:
            for right in (False, True):
                sub = rows[(p.right[rows] == right) & self.cross[rows]]
                if len(sub):
                    y = t[None, :] + p.delta[sub][:, None]
                    out[sub] = p.sets[rset].at(y.ravel(), right).reshape(y.shape)
        sw = p.sw
        for ci in self.same:  # by rank within the switch's own replica; a CPU's first
            rq = p.sets[p.combos[ci].rset]  # switch starts a turn earlier
            out[ci] = (rq.at_row(sw.prev_row[s]) + sw.prev_turn[s] * rq.q if start
                       else rq.at_row(sw.row[s]))
        return out

    def _cum(self, cpu: I64, idx: I64) -> I64:
        """Weight before each index (combo x switch, the switches' CPUs ``cpu``), own
        CPU's excluded where it applies."""
        p = self.p
        out = np.empty_like(idx)
        for rset, rows in self.groups:
            out[rows] = p.sets[rset].cum(idx[rows])
        for ci in self.same:
            rq = p.sets[p.combos[ci].rset]
            out[ci] -= rq.own_cum_at(cpu, idx[ci])
        return out

    def _lower(self, ch: _Chunk, x: int, cols: I64) -> I64:
        """Start of the windows <= x in the intervals of switches ``cols`` (of the chunk):
        the first request at or after switch time + delta - x."""
        p = self.p
        t = p.sw.t[ch.s][cols]
        lo, hi = ch.lo[:, cols], ch.hi[:, cols]
        out = np.empty_like(lo)
        for rset, rows in self.groups:
            y = t[None, :] + (p.delta[rows] - x)[:, None]
            out[rows] = p.sets[rset].at(y.ravel()).reshape(y.shape)
        np.maximum(out, lo, out=out)
        np.minimum(out, hi, out=out)
        return out

    def _longer(self, ch: _Chunk, x: int) -> I64:
        """Switches of the chunk whose interval is longer than x: only they can have
        windows > x (a window is at most its interval's length)."""
        return np.flatnonzero(self.length[ch.s] > x)

    def totals(self) -> tuple[int, int, int]:
        """(flushes, windows, largest window; -1 when there is none)."""
        p = self.p
        flushes = windows = unweighted = 0
        uses = p.uses.T.astype(np.float64)  # (combo, r)
        valid = p.valid.T  # (c, r)
        cut_others, w_max = self.cut.totals()
        for ch in self.chunks():
            s = ch.s
            cnt = ch.cum_hi - self._cum(p.sw.cpu[s], ch.lo)
            self.full[s] = (cnt * ch.real).sum(axis=0)
            # others[j, r]: requests of other virtual CPUs in switch j's interval on replica r
            others = np.rint(cnt.T.astype(np.float64) @ uses).astype(np.int64)
            others *= valid[p.sw.cpu[s]]
            inside = (p.cut.j >= s.start) & (p.cut.j < s.stop)
            others[p.cut.j[inside] - s.start, p.cut.r[inside]] = cut_others[inside]
            flushes += int((others > 0).sum())
            windows += int(others.sum())
            seen = (cnt > 0) & (ch.real > 0)
            unweighted += int(cnt[seen].sum())
            for ci in np.flatnonzero(seen.any(axis=1)):
                m = seen[ci]
                first = p.first(int(ci), np.flatnonzero(m) + s.start, ch.lo[ci][m])
                w_max = max(w_max, int((p.sw.t[s][m] + p.delta[ci] - first).max()))
        self.unweighted = unweighted + int(cut_others.sum())
        order = np.argsort(self.length, kind="stable")
        self.by_length = self.length[order]
        self.full_cum = np.concatenate(([0], np.cumsum(self.full[order])))
        self.w_max = w_max
        return flushes, windows, w_max

    def count_le(self, x: int) -> int:
        """Number of windows <= x (after ``totals``)."""
        assert self.by_length is not None and self.full_cum is not None, "totals() first"
        # intervals no longer than x: all their windows
        total = int(self.full_cum[np.searchsorted(self.by_length, x, side="right")])
        for ch in self.chunks():
            cols = self._longer(ch, x)
            if len(cols):
                n = ch.cum_hi[:, cols] - self._cum(self.p.sw.cpu[ch.s][cols],
                                                   self._lower(ch, x, cols))
                total += int((n * ch.real[:, cols]).sum())
        return total + self.cut.count_le(x)

    def listing(self, lo_x: int, hi_x: int, every: int = 1) -> tuple[I64, I64]:
        """Windows w with lo_x < w <= hi_x and their weights: one index range per
        (combo, switch), expanded with np.repeat. ``every`` > 1 lists only the requests
        whose index is a multiple of ``every`` (a systematic sample)."""
        p = self.p
        wins: list[I64] = []
        weights: list[I64] = []
        everything = lo_x < 0 and hi_x >= p.period
        for ch in self.chunks():
            cols = np.arange(ch.s.stop - ch.s.start) if everything else self._longer(ch, lo_x)
            if not len(cols):
                continue
            a_all = ch.lo[:, cols] if everything else self._lower(ch, hi_x, cols)
            b_all = ch.hi[:, cols] if everything else self._lower(ch, lo_x, cols)
            t, cpu, real = p.sw.t[ch.s][cols], p.sw.cpu[ch.s][cols], ch.real[:, cols]
            for ci, cb in enumerate(p.combos):
                keep = (real[ci] > 0) & (b_all[ci] > a_all[ci])
                if not keep.any():
                    continue
                own = cpu[keep] if cb.same else None
                _expand(p.sets[cb.rset], a_all[ci][keep], b_all[ci][keep],
                        (t + cb.delta)[keep], real[ci][keep], own, wins, weights, every)
        self.cut.listing(lo_x, hi_x, wins, weights, every)
        if not wins:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        return np.concatenate(wins), np.concatenate(weights)

    def kth_between(self, lo_x: int, hi_x: int, kth: int) -> int:
        """The kth smallest (1-based, by weight) window w with lo_x < w <= hi_x."""
        everything = lo_x < 0 and hi_x >= self.w_max
        if everything and self._all is not None:
            win, cum = self._all
        else:
            win, weight = self.listing(lo_x, hi_x)
            order = np.argsort(win, kind="stable")
            win, cum = win[order], np.cumsum(weight[order])
            if everything:  # p50 and p99 of a small trace: list once
                self._all = win, cum
        return int(win[np.searchsorted(cum, kth, side="left")])

    def bracket(self, want: int, total: int) -> tuple[int, int]:
        """A likely bracket (lo, hi] of the want-th window, from a systematic sample of
        the requests (the caller checks it with two counts)."""
        if self._sample is None:
            # sampled windows: a count costs about one pass over the entries, so a small
            # problem samples (and later lists) little and counts a few more times
            budget = min(500_000, max(20_000, 4 * self.entries))
            every = max(1, -(-self.unweighted // budget))
            win, weight = self.listing(-1, self.p.period, every)
            order = np.argsort(win, kind="stable")
            self._sample = win[order], np.cumsum(weight[order])
        win, cum = self._sample
        if len(win) < self.MIN_SAMPLE:
            return -1, self.p.period
        f = want / total
        # requests of one interval are not independent: widen the binomial margin
        margin = 5.0 * math.sqrt(f * (1 - f) / len(win)) + 10.0 / len(win)
        a, b = np.searchsorted(cum, [max(0.0, f - margin) * cum[-1],
                                     min(1.0, f + margin) * cum[-1]])
        return int(win[min(a, len(win) - 1)]) - 1, int(win[min(b, len(win) - 1)])


def _expand(rq: _Requests, a: I64, b: I64, end: I64, mult: I64, own: I64 | None,
            wins: list[I64], weights: list[I64], every: int = 1) -> None:
    """Append the windows ``end - time`` of requests [a, b) per item, weighted by ``mult``,
    skipping requests of CPU ``own`` (per item) when given; with ``every`` > 1 only
    requests whose index is a multiple of it."""
    if every > 1:
        a = -(-a // every)  # multiples of ``every`` in [a, b), counted from a's
        b = -(-b // every)
    lengths = np.maximum(b - a, 0)
    tot = int(lengths.sum())
    if tot == 0:
        return
    item = np.repeat(np.arange(len(a)), lengths)
    idx = np.arange(tot) - np.repeat(np.cumsum(lengths) - lengths, lengths) + a[item]
    if every > 1:
        idx *= every
    if own is not None:
        keep = rq.cpu[idx % rq.q] != own[item]
        item, idx = item[keep], idx[keep]
    wins.append(end[item] - rq.time(idx))
    weights.append(rq.w[idx % rq.q] * mult[item])


class _Cuts:
    """The first switch after the cut of each virtual CPU, paired with each request replica."""

    def __init__(self, p: _Plan) -> None:
        self.p = p
        c = p.cut
        self.pairs = []
        for r2 in range(p.k):
            rq = p.sets[p.rset(r2)]
            delta = p.shifts[c.r] - p.shifts[r2]
            same = c.r == r2
            lo = rq.at(c.low + delta)
            hi = np.where(same, rq.at_row(p.sw.row[c.j]), rq.at(p.sw.t[c.j] + delta, r2 < c.r))
            self.pairs.append((rq, same, delta, lo, hi))

    def _count(self, rq: _Requests, same: BOOL, lo: I64, hi: I64) -> I64:
        c = self.p.cut.c
        own = rq.own_cum_at(c, hi) - rq.own_cum_at(c, lo)
        out: I64 = rq.cum(hi) - rq.cum(lo) - np.where(same, own, 0)
        return out

    def _lower(self, rq: _Requests, delta: I64, lo: I64, hi: I64, x: int) -> I64:
        t_lo = rq.at(self.p.sw.t[self.p.cut.j] + delta - x)
        out: I64 = np.minimum(np.maximum(lo, t_lo), hi)
        return out

    def totals(self) -> tuple[I64, int]:
        """Requests of other virtual CPUs per cut, and the largest window (-1: none)."""
        p = self.p
        others = np.zeros(len(p.cut.r), dtype=np.int64)
        w_max = -1
        for rq, same, delta, lo, hi in self.pairs:
            n = self._count(rq, same, lo, hi)
            others += n
            has = n > 0
            if has.any():
                idx = np.where(same, rq.first_other(p.cut.c, lo), lo)[has]
                win = (p.sw.t[p.cut.j] + delta)[has] - rq.time(idx)
                w_max = max(w_max, int(win.max()))
        return others, w_max

    def count_le(self, x: int) -> int:
        return sum(int(self._count(rq, same, self._lower(rq, delta, lo, hi, x), hi).sum())
                   for rq, same, delta, lo, hi in self.pairs)

    def listing(self, lo_x: int, hi_x: int, wins: list[I64], weights: list[I64],
                every: int = 1) -> None:
        p = self.p
        for rq, same, delta, lo, hi in self.pairs:
            a = self._lower(rq, delta, lo, hi, hi_x)
            b = self._lower(rq, delta, lo, hi, lo_x)
            # a cut paired with another replica excludes no CPU: -1 matches none
            _expand(rq, a, b, p.sw.t[p.cut.j] + delta, np.ones(len(a), dtype=np.int64),
                    np.where(same, p.cut.c, -1), wins, weights, every)


#: Once the search bracket holds at most this many listed windows they are listed and
#: sorted (``None``: 8 per (switch, combination) entry, between 50 k and 1 M).
MATERIALIZE: int | None = None


def _select(wd: _Windows, want: int, hi: int, total: int) -> int:
    """Smallest x with count_le(x) >= want, given count_le(hi) = total >= want.

    A bracket guessed from a systematic sample of the windows is checked with two
    counts; then a safeguarded interpolation search (the count is close to linear
    locally; every third step bisects) runs until the bracket is small enough to list
    its windows.
    """
    lo, c_lo, c_hi = -1, 0, total
    limit = (MATERIALIZE if MATERIALIZE is not None
             else min(1_000_000, max(50_000, 8 * wd.entries)))
    per_weight = wd.unweighted / total  # listed entries per window

    def small() -> bool:
        return (c_hi - c_lo) * per_weight <= limit

    if not small():
        a, b = wd.bracket(want, total)
        for x in (b, a):
            if lo < x < hi:
                c = wd.count_le(x)
                if c >= want:
                    hi, c_hi = x, c
                else:
                    lo, c_lo = x, c
    step = 0
    while hi - lo > 1:
        if small():
            return wd.kth_between(lo, hi, want - c_lo)
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
        c = wd.count_le(x)
        if c >= want:
            hi, c_hi = x, c
        else:
            lo, c_lo = x, c
    return hi


def _prepare(tl: Timeline, proj: Projection) -> tuple[_Windows | None, int]:
    plan = _Plan(tl, proj)
    total = plan.total_weight * (proj.n - 1)
    if total == 0 or len(plan.sw.t) == 0:
        return None, total
    return _Windows(plan), total


def deferred_pass(tl: Timeline, proj: Projection) -> DeferredCounters:
    """Flushes at mm switches and exposure windows of ``tl`` on ``proj.n`` virtual CPUs."""
    wd, total = _prepare(tl, proj)
    if wd is None:
        return DeferredCounters(0, 0, total, None, None, None)
    flushes, windows, w_max = wd.totals()
    if windows == 0:
        return DeferredCounters(flushes, 0, total, None, None, None)
    p50, p99 = (_select(wd, nearest_rank(p, windows) + 1, w_max, windows) for p in (50, 99))
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
