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

#: tlb_single_page_flush_ceiling: requests of more pages are full flushes.
FLUSH_CEILING = 33

PER_CPU_COUNTERS: tuple[str, ...] = (
    "requests", "alloc_requests", "kunmap_requests", "refill_requests", "full_requests",
    "local_invlpg_pages", "user_allocs", "kernel_allocs", "unmaps", "remaps", "refill_runs",
)


@dataclass
class StateResult:
    """Outcome of the state pass for one (batch, lazy) variant."""

    requests: pl.DataFrame  # one row per requesting event, by rank: rank ts seq cpu n
    per_cpu: pl.DataFrame  # cpu + PER_CPU_COUNTERS


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
    last = np.where(sets, np.arange(len(value), dtype=np.int64), 0)
    np.maximum.accumulate(last, out=last)
    out: BOOL = value[last] == 1
    return out


def _frame_counters(f: Frames, lazy: bool, n_actions: int,
                    n_cpus: int) -> tuple[BOOL, I64, I64]:
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
        unmap = mark.astype(np.int64) + zero_alloc
        remap = zero_alloc.astype(np.int64) + (clears & s_prev)
    else:
        u_prev = _prev(f, sets_user)
        unmapped = np.where(user_alloc & ~zero, -1, sets_user | zero_alloc).astype(np.int8)
        m_prev = _prev(f, _carry(f, unmapped))
        refill_new = (kind == REFILL_MOVABLE) & ~m_prev
        mark = (user_alloc & ~u_prev) | refill_new
        unmap = zero_alloc.astype(np.int64) + refill_new
        remap = ((zero_alloc | (kind == KERNEL_ALLOC) | (kind == FREE)
                   | (kind == REFILL_OTHER)) & m_prev).astype(np.int64)
    # an action marks when any of its frames does
    marked = np.zeros(n_actions, dtype=bool)
    marked[f.aidx[mark]] = True
    return marked, _per_cpu(f.cpu, n_cpus, unmap), _per_cpu(f.cpu, n_cpus, remap)


def _per_cpu(cpu: I64, n_cpus: int, weights: I64 | BOOL | None = None) -> I64:
    """Sum of ``weights`` (or the count) per CPU 0 .. n_cpus-1; CPUs past N_trace do not
    replay."""
    out = np.bincount(cpu, weights=weights, minlength=n_cpus)[:n_cpus]
    return np.rint(out).astype(np.int64) if out.dtype.kind == "f" else out.astype(np.int64)


def state_pass(p: Prepared, *, batch: bool, lazy: bool) -> StateResult:
    """Apply the page-state rules of one variant; return its requests and counters."""
    a, n = p.actions, p.cpus
    frames = p.frames if batch else p.frames_without_refills
    marked, unmaps, remaps = _frame_counters(frames, lazy, len(a), n)
    # alloc and kunmap requests: on the user allocations themselves
    ua = np.flatnonzero(a.kind == USER_ALLOC)
    pages = np.left_shift(np.int64(1), a.order[ua])
    alloc_req = marked[ua].astype(np.int64)
    kunmap = np.where(a.zero[ua], pages, 0)
    full = alloc_req & (pages > FLUSH_CEILING)
    ucpu = a.cpu[ua]
    counts = {
        "alloc_requests": _per_cpu(ucpu, n, alloc_req),
        "kunmap_requests": _per_cpu(ucpu, n, kunmap),
        "full_requests": _per_cpu(ucpu, n, full),
        "local_invlpg_pages": _per_cpu(ucpu, n, (alloc_req - full) * pages + kunmap),
        "user_allocs": _per_cpu(ucpu, n),
        "kernel_allocs": _per_cpu(a.cpu[a.kind == KERNEL_ALLOC], n),
        "unmaps": unmaps,
        "remaps": remaps,
        "refill_requests": np.zeros(n, dtype=np.int64),
        "refill_runs": np.zeros(n, dtype=np.int64),
    }
    per_alloc = alloc_req + kunmap
    rows = ua[per_alloc > 0]
    parts = [(a.rank[rows], a.ts[rows], a.seq[rows], a.cpu[rows], per_alloc[per_alloc > 0])]
    if batch and len(p.runs):
        # one full request per marked run, at the run's last event
        refills = (a.kind == REFILL_MOVABLE) | (a.kind == REFILL_OTHER)
        run_marked = np.zeros(len(p.runs), dtype=bool)
        run_marked[a.run[refills & marked]] = True
        r = p.runs
        counts["refill_requests"] = _per_cpu(r.cpu[run_marked], n)
        counts["refill_runs"] = _per_cpu(r.cpu, n)
        counts["full_requests"] = counts["full_requests"] + counts["refill_requests"]
        parts.append((r.rank[run_marked], r.ts[run_marked], r.seq[run_marked],
                      r.cpu[run_marked], np.ones(int(run_marked.sum()), dtype=np.int64)))
    counts["requests"] = (counts["alloc_requests"] + counts["kunmap_requests"]
                          + counts["refill_requests"])
    rank, ts, seq, cpu, req_n = (np.concatenate(col) for col in zip(*parts, strict=True))
    by_rank = np.argsort(rank, kind="stable")
    requests = pl.DataFrame({"rank": rank[by_rank], "ts": ts[by_rank], "seq": seq[by_rank],
                             "cpu": cpu[by_rank].astype(np.int32), "n": req_n[by_rank]})
    per_cpu = pl.DataFrame({"cpu": np.arange(n, dtype=np.int32),
                            **{c: counts[c] for c in PER_CPU_COUNTERS}})
    return StateResult(requests=requests, per_cpu=per_cpu)
