"""Replica pairs (docs/model.md sections 4 and 6): which requests a virtual CPU's
mm switch sees, and how ties and its own CPU are ruled.

Seen from replica ``r``, the requests of replica ``r'`` sit at the trace's own
request times minus ``delta = s_r - s_r'``. **Tie rule**: a request at exactly the
switch's moved time comes before it when its replica is lower (``Combo.right``);
**own-CPU rule**: within one replica a CPU's own requests are excluded
(``Combo.same``, ``Requests.first_other``); other replicas' requests always belong
to other virtual CPUs. The k * k replica pairs share about 4k distinct
``(delta, tie side)`` *combos* (``Plan._combos``); each is evaluated once per traced
mm switch and weighted by how many (switch replica, request replica) pairs use it.
A virtual CPU's first switch after the cut starts its interval at moved time 0
(``CutSites``, ``Plan._cuts``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..percpu import cpu_sort_key
from ..projection import I64, Projection, Timeline
from .circle import BOOL, Requests


@dataclass
class Switches:
    """Traced mm switches in replay order, each with its CPU's previous switch on the circle."""

    t: I64
    cpu: I64
    row: I64
    prev_t: I64  # previous switch's time, minus D for a CPU's first switch
    prev_row: I64
    prev_turn: I64  # -1 for a CPU's first switch (its previous switch is a turn earlier)
    prev: I64  # index of the previous switch

    @classmethod
    def build(cls, t: I64, cpu: I64, row: I64, period: int) -> Switches:
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
class CutSites:
    """Per virtual CPU with switches: its replica, CPU, first switch after the cut, and
    where that switch's interval starts (moved time 0, in the replica's trace time)."""

    r: I64
    c: I64
    j: I64
    low: I64


@dataclass
class Combo:
    """Requests of replica r' seen from replica r: shifted by delta, ties by replica."""

    same: bool  # r' == r: the switch's own replica, own CPU excluded
    delta: int
    right: bool  # r' < r: a request at the switch's moved time comes before it
    rset: int  # 0: all requests, 1: a partial last replica's


def on_cpus_below(n: int, cpu: I64, *more: I64) -> list[I64]:
    """``cpu`` and the arrays beside it, without the rows of CPUs n and up."""
    if not len(cpu) or int(cpu.max()) < n:
        return [cpu, *more]
    keep = cpu < n
    return [a[keep] for a in (cpu, *more)]


class Plan:
    """Everything the counts need, for one variant's timeline on N virtual CPUs."""

    def __init__(self, tl: Timeline, proj: Projection) -> None:
        n_trace = proj.n_trace
        # CPUs past N_trace do not replay
        cpu, ts, w, row = on_cpus_below(n_trace, tl.cpu, tl.ts, tl.w, tl.row)
        sw_cpu, sw_ts, sw_row = on_cpus_below(n_trace, tl.sw_cpu, tl.sw_ts, tl.sw_row)
        d = self.period = proj.period
        k = self.k = proj.replicas
        self.n, self.n_trace = proj.n, n_trace
        part = self.n - (k - 1) * n_trace  # CPUs of the last replica
        self.sets = [Requests(ts - proj.t0, row, cpu, w, d, n_trace)]
        if part < n_trace:
            sub = cpu < part
            self.sets.append(Requests(ts[sub] - proj.t0, row[sub], cpu[sub], w[sub], d,
                                       n_trace))
        self.valid: BOOL = (np.arange(k)[:, None] * n_trace
                            + np.arange(n_trace)[None, :]) < self.n  # (r, c)
        self.shifts = np.array([proj.shift(r) for r in range(k)], dtype=np.int64)
        self.sw = Switches.build(sw_ts - proj.t0, sw_cpu, sw_row, d)
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
        self.combos = [Combo(*key) for key in index]
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
        self.cut = CutSites(*(np.array(v, dtype=np.int64) for v in (rs, cs, js, lows)))

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
