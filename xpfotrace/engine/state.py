"""State pass (MODEL.md section 3): page bits, counters and flush requests per variant.

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
import numpy.typing as npt
import polars as pl

from .prepare import (
    BOOL,
    FREE,
    I8,
    I64,
    KERNEL_ALLOC,
    REFILL_MOVABLE,
    REFILL_OTHER,
    USER_ALLOC,
    Frames,
    Prepared,
)

PER_CPU_COUNTERS: tuple[str, ...] = (
    "requests", "alloc_requests", "kunmap_requests", "refill_requests", "full_requests",
    "local_invlpg_pages", "user_allocs", "kernel_allocs", "unmaps", "remaps", "refill_runs",
)


@dataclass
class StateResult:
    """Outcome of the state pass for one (batch, lazy) variant."""

    rank: I64  # the requesting events, ascending
    n: I64  # how many requests each makes
    counts: dict[str, I64]  # PER_CPU_COUNTERS, per traced CPU
    prepared: Prepared

    @property
    def per_cpu(self) -> pl.DataFrame:
        """cpu + PER_CPU_COUNTERS, one row per traced CPU."""
        return pl.DataFrame({"cpu": np.arange(self.prepared.cpus, dtype=np.int32),
                             **{c: self.counts[c] for c in PER_CPU_COUNTERS}})

    @property
    def requests(self) -> pl.DataFrame:
        """One row per requesting event, in replay order: rank ts seq cpu n."""
        p, r = self.prepared, self.rank
        return pl.DataFrame({"rank": r, "ts": p.ts[r], "seq": p.seq[r], "cpu": p.cpu[r],
                             "n": self.n})


def _prev(f: Frames, after: npt.NDArray[np.int8] | BOOL) -> BOOL:
    """The state after the previous row of the same frame (clear at a frame's start)."""
    out = np.zeros(len(after), dtype=bool)
    out[1:] = after[:-1] != 0
    out[f.first] = False
    return out


def _carry(f: Frames, value: I8) -> BOOL:
    """``value`` (1 set, 0 clear, -1 unchanged) forward-filled within each frame from a
    clear state: the value of the last row at or before each row that set one."""
    sets = (value >= 0) | f.first
    last = np.where(sets, f.index, 0)
    np.maximum.accumulate(last, out=last)
    out: BOOL = value[last] == 1
    return out


def _frame_counters(f: Frames, lazy: bool, p: Prepared) -> tuple[BOOL, I64, I64]:
    """Whether each action marks a frame; unmaps and remaps per CPU."""
    kind, zero = f.kind, f.zero
    user_alloc = kind == USER_ALLOC
    zero_alloc = user_alloc & zero
    sets_user = user_alloc | (kind == REFILL_MOVABLE)
    if lazy:  # one bit S = user = unmapped
        clears = (kind == KERNEL_ALLOC) | (kind == REFILL_OTHER)
        s_prev = _prev(f, _carry(f, np.where(sets_user, 1, np.where(clears, 0, -1))
                                 .astype(np.int8)))
        mark = sets_user & ~s_prev
        unmaps = p.per_cpu(f.cpu[mark]) + p.per_cpu(f.cpu[zero_alloc])
        remaps = p.per_cpu(f.cpu[zero_alloc]) + p.per_cpu(f.cpu[clears & s_prev])
    else:
        u_prev = _prev(f, sets_user)
        unmapped = np.where(user_alloc & ~zero, -1, sets_user | zero_alloc).astype(np.int8)
        m_prev = _prev(f, _carry(f, unmapped))
        refill_new = (kind == REFILL_MOVABLE) & ~m_prev
        mark = (user_alloc & ~u_prev) | refill_new
        unmaps = p.per_cpu(f.cpu[zero_alloc | refill_new])  # disjoint
        remaps = p.per_cpu(f.cpu[(zero_alloc | (kind == KERNEL_ALLOC) | (kind == FREE)
                                  | (kind == REFILL_OTHER)) & m_prev])
    # an action marks when any of its frames does
    marked = np.zeros(len(p.actions), dtype=bool)
    marked[f.aidx[mark]] = True
    return marked, unmaps, remaps


def state_pass(p: Prepared, *, batch: bool, lazy: bool) -> StateResult:
    """Apply the page-state rules of one variant; return its requests and counters."""
    a, ua = p.actions, p.user_allocs
    frames = p.frames if batch else p.frames_without_refills
    marked, unmaps, remaps = _frame_counters(frames, lazy, p)
    # alloc and kunmap requests: on the user allocations themselves
    m = marked[ua.rows]
    ranged = m & ua.small
    counts = {
        "alloc_requests": p.per_cpu(ua.cpu[m]),
        "kunmap_requests": p.per_cpu(ua.cpu, ua.kunmap),
        "full_requests": p.per_cpu(ua.cpu[m & ~ua.small]),
        "local_invlpg_pages": (p.per_cpu(ua.cpu[ranged], ua.pages[ranged])
                               + p.per_cpu(ua.cpu, ua.kunmap)),
        "user_allocs": p.per_cpu(ua.cpu),
        "kernel_allocs": p.per_cpu(a.cpu[a.kind == KERNEL_ALLOC]),
        "unmaps": unmaps,
        "remaps": remaps,
        "refill_requests": np.zeros(p.cpus, dtype=np.int64),
        "refill_runs": np.zeros(p.cpus, dtype=np.int64),
    }
    n = m + ua.kunmap
    rows = n > 0
    rank, req_n = a.rank[ua.rows[rows]], n[rows]
    if batch and len(p.runs):
        # one full request per marked run, at the run's last event
        refills = (a.kind == REFILL_MOVABLE) | (a.kind == REFILL_OTHER)
        run_marked = np.zeros(len(p.runs), dtype=bool)
        run_marked[a.run[refills & marked]] = True
        r = p.runs
        counts["refill_requests"] = p.per_cpu(r.cpu[run_marked])
        counts["refill_runs"] = p.per_cpu(r.cpu)
        counts["full_requests"] = counts["full_requests"] + counts["refill_requests"]
        # merge the (few) run ends into the allocations' ranks, both ascending
        ends = np.sort(r.rank[run_marked])
        at = np.searchsorted(rank, ends)
        rank, req_n = np.insert(rank, at, ends), np.insert(req_n, at, 1)
    counts["requests"] = (counts["alloc_requests"] + counts["kunmap_requests"]
                          + counts["refill_requests"])
    return StateResult(rank=rank, n=req_n.astype(np.int64), counts=counts, prepared=p)
