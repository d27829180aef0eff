"""State pass (docs/model.md section 3): page bits, counters and flush requests per variant.

Vectorized without a per-event loop. Each rule leaves a frame in a state that is
a constant or "unchanged", which makes the state *before* each event a
forward-fill plus shift within the frame's events (sorted by frame, rank):

* without ``lazy`` every reachable state has ``unmapped => user``; after a user
  allocation ``user = 1`` and ``unmapped`` is 1 (zero-filled) or unchanged; a
  kernel allocation, a free and a non-movable refill leave (0, 0) (a free of a
  frame whose ``user`` is clear finds it at (0, 0) already); a movable refill
  leaves (1, 1).
* with ``lazy`` both bits are always equal: a user allocation or movable refill
  leaves (1, 1), a kernel allocation or other refill (0, 0), a free changes
  nothing. One bit ``S`` is enough.

Forward-fill and shift are NumPy operations on the frames sorted once by
``prepare`` (a running maximum of "last row that set a value"), so a variant
costs a few passes over flat arrays. The property test in
``tests/test_reference.py`` checks this against a plain loop over the MODEL text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from ..core.arrays import BOOL, I8, I64
from .classify import KERNEL_ALLOC
from .frames import Frames
from .percpu import per_cpu
from .prepare import Prepared

#: tlb_single_page_flush_ceiling: requests of more pages are full flushes (docs/model.md
#: section 3; a strategy's ``ceiling`` parameter changes it, section 8).
FLUSH_CEILING = 33

PER_CPU_COUNTERS: tuple[str, ...] = (
    "requests", "alloc_requests", "kunmap_requests", "refill_requests", "full_requests",
    "local_invlpg_pages", "user_allocs", "kernel_allocs", "unmaps", "remaps", "pte_writes",
    "refill_runs",
)


@dataclass
class StateResult:
    """Outcome of the state pass for one (batch, lazy) variant.

    Which events request flushes does not depend on the flush ceiling; only the split
    of alloc requests into range and full ones does (``counts``)."""

    rank: I64  # the requesting events, ascending
    n: I64  # how many requests each makes
    fixed: dict[str, I64]  # the PER_CPU_COUNTERS no ceiling changes, per traced CPU
    marked: BOOL  # the user allocations (``UserAllocs`` rows) that make an alloc request
    prepared: Prepared

    @property
    def requests(self) -> pl.DataFrame:
        """One row per requesting event, in replay order: rank ts seq cpu n."""
        p, r = self.prepared, self.rank
        return pl.DataFrame({"rank": r, "ts": p.ts[r], "seq": p.seq[r], "cpu": p.cpu[r],
                             "n": self.n})

    def counts(self, ceiling: int = FLUSH_CEILING) -> dict[str, I64]:
        """PER_CPU_COUNTERS per traced CPU, with requests of more than ``ceiling`` pages
        full (a kunmap request is one page, a refill request always full)."""
        ua, m = self.prepared.user_allocs, self.marked
        small = ua.small(ceiling)
        out = dict(self.fixed)
        out["full_requests"] = ua.by_cpu.count(m & ~small) + self.fixed["refill_requests"]
        out["local_invlpg_pages"] = ua.pages_per_cpu(m & small) + self.fixed["kunmap_requests"]
        return out


def _prev(f: Frames, after: BOOL) -> BOOL:
    """The state after the previous row of the same frame (clear at a frame's start)."""
    out = np.zeros(len(after), dtype=bool)
    np.logical_and(after[:-1], f.kinds.not_first[1:], out=out[1:])
    return out


def _carry(f: Frames, value: I8) -> BOOL:
    """``value`` (1 set, 0 clear, -1 unchanged) forward-filled within each frame from a
    clear state: the value of the last row at or before each row that set one."""
    sets = (value >= 0) | f.first
    last = np.where(sets, f.index, 0)
    np.maximum.accumulate(last, out=last)
    out: BOOL = value[last] == 1
    return out


def _tristate(one: BOOL, keep: BOOL) -> I8:
    """1 where ``one``, -1 (unchanged) where ``keep``, else 0 (``one`` and ``keep``
    disjoint)."""
    out: I8 = one.view(np.int8) - keep.view(np.int8)
    return out


def _frame_counters(f: Frames, lazy: bool, n_actions: int, counted: BOOL | None = None
                    ) -> tuple[BOOL, I64, I64, I64]:
    """Whether each action marks a frame; unmaps, remaps and direct-map entry writes
    (``pte_writes``, docs/model.md section 5) per CPU, of the frame rows ``counted``
    selects (None: all)."""
    k = f.kinds

    def count(mask: BOOL) -> I64:
        return f.by_cpu.count(mask if counted is None else mask & counted)

    zero = k.zero_per_cpu if counted is None else count(k.zero_alloc)
    if lazy:  # one bit S = user = unmapped
        s_prev = _prev(f, _carry(f, _tristate(k.sets_user, ~(k.sets_user | k.clears))))
        mark = k.sets_user & ~s_prev
        unmaps = count(mark) + zero
        remaps = zero + count(k.clears & s_prev)
        pte = unmaps + remaps
    else:
        u_prev = _prev(f, k.sets_user)
        # unmapped: set by a zero-filled user allocation or a movable refill, unchanged by
        # another user allocation, cleared by everything else
        plain_alloc = k.user_alloc & ~k.zero_alloc
        m_prev = _prev(f, _carry(f, _tristate(k.zero_alloc | k.refill_movable, plain_alloc)))
        refill_new = k.refill_movable & ~m_prev
        sets_user = k.user_alloc & ~u_prev  # these frames leave the direct map too
        mark = sets_user | refill_new
        unmaps = zero + count(refill_new)
        remaps = count(m_prev & ~plain_alloc & ~k.refill_movable)
        pte = unmaps + remaps + count(sets_user)
    # an action marks when any of its frames does
    marked = np.zeros(n_actions, dtype=bool)
    marked[np.compress(mark, f.aidx)] = True
    return marked, unmaps, remaps, pte


def state_pass(p: Prepared, *, batch: bool, lazy: bool,
               selected: BOOL | None = None) -> StateResult:
    """Apply the page-state rules of one variant; return its requests and counters.

    ``selected`` (per event, in replay order; None: all) limits what is *counted* and
    *requested* to the selected events (``--only``); every event still changes the page
    state (and every mm switch still flushes)."""
    a, ua = p.actions, p.user_allocs
    frames = p.frames if batch else p.frames_without_refills
    act_sel = None if selected is None else np.take(selected, a.rank)
    frame_sel = None if act_sel is None else np.take(act_sel, frames.aidx)
    marked, unmaps, remaps, pte = _frame_counters(frames, lazy, len(a), frame_sel)
    # alloc and kunmap requests: on the user allocations themselves
    m = marked[ua.rows]
    kunmap, kunmap_per_cpu = ua.kunmap, ua.kunmap_per_cpu
    users, kernel = ua.by_cpu.rows(), ua.kernel_per_cpu
    if act_sel is not None:
        ua_sel = np.take(act_sel, ua.rows)
        m &= ua_sel
        kunmap = np.where(ua_sel, kunmap, 0)
        kunmap_per_cpu = ua.by_cpu.total(kunmap)
        users = ua.by_cpu.count(ua_sel)
        kernel = per_cpu(np.compress((a.kind == KERNEL_ALLOC) & act_sel, a.cpu), p.cpus)
    counts = {
        "alloc_requests": ua.by_cpu.count(m),
        "kunmap_requests": kunmap_per_cpu,
        "user_allocs": users,
        "kernel_allocs": kernel,
        "unmaps": unmaps,
        "remaps": remaps,
        "pte_writes": pte,
        "refill_requests": np.zeros(p.cpus, dtype=np.int64),
        "refill_runs": np.zeros(p.cpus, dtype=np.int64),
    }
    n = m + kunmap
    rows = n > 0
    rank, req_n = np.compress(rows, ua.rank), np.compress(rows, n)
    if batch and len(p.runs):
        # one full request per marked run, at the run's last event
        run_marked = np.zeros(len(p.runs), dtype=bool)
        run_marked[a.run[marked & (a.run >= 0)]] = True  # (run >= 0: the refill actions)
        r = p.runs
        run_sel = np.ones(len(r), dtype=bool) if selected is None else selected[r.rank]
        run_marked &= run_sel  # a run is its last event's task's
        counts["refill_requests"] = per_cpu(r.cpu[run_marked], p.cpus)
        counts["refill_runs"] = per_cpu(r.cpu[run_sel], p.cpus)
        # merge the (few) run ends into the allocations' ranks, both ascending
        ends = np.sort(r.rank[run_marked])
        at = np.searchsorted(rank, ends)
        rank, req_n = np.insert(rank, at, ends), np.insert(req_n, at, 1)
    counts["requests"] = (counts["alloc_requests"] + counts["kunmap_requests"]
                          + counts["refill_requests"])
    return StateResult(rank=rank, n=req_n.astype(np.int64, copy=False), fixed=counts,
                       marked=m, prepared=p)
