"""Windows of the unbounded deferred pass (docs/model.md section 4): flushes, exposure
windows, and how many windows are <= x.

A virtual CPU's mm switches cut its circle into intervals: each traced switch
closes the interval from the previous switch of its CPU (cyclically), except the
first switch after the cut (``Cuts``, counted on their own). **Flush rule**: a
switch flushes when its interval holds a request of another CPU; the windows it
closes are its time minus those requests' times, so "how many windows are <= x"
is a sum of searchsorted differences (``Windows.count_le``); ``Windows.listing``
lists the windows of a small range for the exact quantile (``quantile.select``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..projection import I64
from .circle import BOOL, Requests
from .pairs import Plan
from .quantile import TUNING


@dataclass
class _Chunk:
    """Index ranges of a chunk of switches, combo by switch."""

    s: slice
    lo: I64  # first request of each interval
    hi: I64  # end of each interval
    cum_hi: I64  # weight before ``hi`` (own CPU's excluded for same-replica combos)
    real: I64  # (switch replica, request replica) pairs using each entry


class Windows:
    """Counts of one variant: flushes, windows and ``count_le`` for the quantile search."""

    def __init__(self, plan: Plan) -> None:
        self.p = plan
        nc = len(plan.combos)
        self.size = max(1, TUNING.chunk_entries // nc)
        self.entries = len(plan.sw.t) * nc
        self.cache: list[_Chunk] | None = [] if self.entries <= TUNING.cache_entries else None
        rsets = np.array([c.rset for c in plan.combos])
        self.groups = [(i, np.flatnonzero(rsets == i)) for i in range(len(plan.sets))]
        self.same = [ci for ci, c in enumerate(plan.combos) if c.same]
        self.cross = np.array([not c.same for c in plan.combos])
        self.cut = Cuts(plan)
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
        if len(win) < TUNING.min_sample:
            return -1, self.p.period
        f = want / total
        # requests of one interval are not independent: widen the binomial margin
        margin = 5.0 * math.sqrt(f * (1 - f) / len(win)) + 10.0 / len(win)
        a, b = np.searchsorted(cum, [max(0.0, f - margin) * cum[-1],
                                     min(1.0, f + margin) * cum[-1]])
        return int(win[min(a, len(win) - 1)]) - 1, int(win[min(b, len(win) - 1)])


def _expand(rq: Requests, a: I64, b: I64, end: I64, mult: I64, own: I64 | None,
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


class Cuts:
    """The first switch after the cut of each virtual CPU, paired with each request replica."""

    def __init__(self, p: Plan) -> None:
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

    def _count(self, rq: Requests, same: BOOL, lo: I64, hi: I64) -> I64:
        c = self.p.cut.c
        own = rq.own_cum_at(c, hi) - rq.own_cum_at(c, lo)
        out: I64 = rq.cum(hi) - rq.cum(lo) - np.where(same, own, 0)
        return out

    def _lower(self, rq: Requests, delta: I64, lo: I64, hi: I64, x: int) -> I64:
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
