"""Exact rank selection of exposure windows (docs/model.md section 4: nearest-rank
percentiles), and the knobs that trade its speed (never its answer) in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class Counted(Protocol):
    """What the search needs of a pass's windows (``windows.Windows``)."""

    entries: int  # (switch, combination) entries
    unweighted: int  # listed entries

    def count_le(self, x: int) -> int: ...
    def bracket(self, want: int, total: int) -> tuple[int, int]: ...
    def kth_between(self, lo_x: int, hi_x: int, kth: int) -> int: ...


@dataclass
class Tuning:
    """Speed knobs of the window passes. Each changes how the answer is found, never
    the answer; the tests set them to extremes to reach every path."""

    #: (combo, switch) entries per chunk of the unbounded pass
    chunk_entries: int = 2_000_000
    #: keep the unbounded pass's chunks across ``count_le`` calls up to this many entries
    cache_entries: int = 24_000_000
    #: fewer sampled windows than this give no bracket for the quantile search
    min_sample: int = 100
    #: once the search bracket holds at most this many listed windows they are listed
    #: and sorted (None: 8 per (switch, combination) entry, between 50 k and 1 M)
    materialize: int | None = None
    #: bounded pass: up to this many (segment, request) entries the windows are listed and
    #: the quantiles found by one partial sort; beyond it, by bisection on exact counts
    list_limit: int = 16_000_000


#: The knobs in use (module state: set a field to change it for every later pass).
TUNING = Tuning()


def nearest_rank(p: int, n: int) -> int:
    """0-based index of percentile ``p`` among ``n`` sorted values (docs/model.md section 4)."""
    return (p * n + 99) // 100 - 1


def select(wd: Counted, want: int, hi: int, total: int) -> int:
    """Smallest x with count_le(x) >= want, given count_le(hi) = total >= want.

    A bracket guessed from a systematic sample of the windows is checked with two
    counts; then a safeguarded interpolation search (the count is close to linear
    locally; every third step bisects) runs until the bracket is small enough to list
    its windows.
    """
    lo, c_lo, c_hi = -1, 0, total
    limit = (TUNING.materialize if TUNING.materialize is not None
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
