"""The trace's requests on the circle of one projection (docs/model.md section 6).

The trace is a circle of length D; replica ``r`` is the same circle turned by
``s_r`` and cut at moved time 0. ``Requests`` holds one set of the trace's flush
requests in replay order, with the cumulative weights and own-CPU keys that make
every count a virtual CPU needs a difference of two searchsorted positions.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ..percpu import cpu_sort_key
from ..projection import I64

BOOL = npt.NDArray[np.bool_]


def cum0(w: I64) -> I64:
    """Cumulative sums of ``w`` after a leading 0 (length len(w) + 1)."""
    out = np.zeros(len(w) + 1, dtype=np.int64)
    np.cumsum(w, out=out[1:])
    return out


class Requests:
    """One set of the trace's requests in replay order, on the circle of length ``period``.

    Positions are *extended* indices: ``a*q + i`` is request ``i`` in turn ``a``
    of the circle (time ``t[i] + a*period``), so an interval that wraps is a
    plain index range.
    """

    def __init__(self, t: I64, row: I64, cpu: I64, w: I64, period: int, n_trace: int) -> None:
        self.t, self.row, self.cpu, self.w = t, row, cpu, w
        self.q = len(t)
        self.period = period
        self.wc: I64 = cum0(w)
        self.total = int(self.wc[-1])
        # own requests: keys cpu*(q+1) + index, ascending, with cumulative weights
        self.stride = self.q + 1
        by_cpu = np.argsort(cpu_sort_key(cpu), kind="stable")
        self.own_key: I64 = cpu[by_cpu] * self.stride + by_cpu
        self.own_cum: I64 = cum0(w[by_cpu])
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
