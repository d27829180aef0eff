"""Page-acting events and their frames (docs/model.md sections 2-3): ``Actions`` in
replay order, one ``Frames`` row per (action, frame) sorted by (frame, action), the
per-CPU refill ``Runs`` and the ``UserAllocs``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from ..core.arrays import BOOL, I8, I32, I64, U64
from ..core.lazy import lazy
from .classify import KERNEL_ALLOC, REFILL_MOVABLE, REFILL_OTHER, USER_ALLOC
from .percpu import BLOCK, CpuCounts, bincount, cpu_sort_key, per_cpu, weighted

#: Orders are clipped to this (2^62 frames: beyond any real allocation, inside int64).
MAX_SHIFT = 62


@dataclass
class Actions:
    """Page-acting events with a pfn, in replay order (row = action index)."""

    rank: I64
    cpu: I32
    kind: I8
    zero: BOOL  # zero-filled (meaningful for user allocations)
    pfn: U64
    order: I8  # clipped to 0 .. 62
    run: I32  # refill run of a refill event, else -1

    def __len__(self) -> int:
        return len(self.rank)


@dataclass
class FrameKinds:
    """What each frame row's event does, as masks (shared by the variants)."""

    user_alloc: BOOL
    zero_alloc: BOOL  # zero-filled user allocation
    refill_movable: BOOL
    sets_user: BOOL  # user allocation or movable refill
    clears: BOOL  # kernel allocation or other refill
    not_first: BOOL  # not the first row of its frame
    zero_per_cpu: I64  # zero-filled user allocation frames per CPU


@dataclass
class Frames:
    """One row per (action, frame), sorted by (frame, action)."""

    aidx: npt.NDArray[np.signedinteger[Any]]  # the action (int32 unless there are 2^31)
    first: BOOL  # the first row of its frame
    kind: I8  # the action's kind, zero flag and CPU, gathered once
    zero: BOOL
    cpu: I32
    cpus: int  # N_trace

    def __len__(self) -> int:
        return len(self.aidx)

    @lazy
    def index(self) -> npt.NDArray[np.signedinteger[Any]]:
        """0 .. rows-1 (int32 below 2^31 rows), shared by the variants' forward fills."""
        return np.arange(len(self), dtype=np.int32 if len(self) < 1 << 31 else np.int64)

    @lazy
    def by_cpu(self) -> CpuCounts:
        return CpuCounts(self.cpu, self.cpus)

    @lazy
    def kinds(self) -> FrameKinds:
        kind = self.kind
        user_alloc = kind == USER_ALLOC
        zero_alloc = user_alloc & self.zero
        refill_movable = kind == REFILL_MOVABLE
        return FrameKinds(user_alloc=user_alloc, zero_alloc=zero_alloc,
                          refill_movable=refill_movable,
                          sets_user=user_alloc | refill_movable,
                          clears=(kind == KERNEL_ALLOC) | (kind == REFILL_OTHER),
                          not_first=~self.first,
                          zero_per_cpu=self.by_cpu.count(zero_alloc))

    def subset(self, keep: BOOL) -> Frames:
        """The rows where ``keep``, still sorted, with frame starts recomputed."""
        # frame number of each kept row (from 1): a new frame starts where it changes
        rows = np.flatnonzero(keep)  # once: np.compress would find them for each array
        fp = np.take(np.cumsum(self.first, dtype=np.int32), rows)
        first = np.ones(len(fp), dtype=bool)
        first[1:] = fp[1:] != fp[:-1]
        out = Frames(np.take(self.aidx, rows), first, np.take(self.kind, rows),
                     np.take(self.zero, rows), np.take(self.cpu, rows), self.cpus)
        out.__dict__["index"] = self.index[:len(out)]  # 0 .. rows-1 as well: shared
        return out


@dataclass
class Runs:
    """Refill runs (docs/model.md section 3, ``batch``): run id = index; where each ends."""

    cpu: I32
    ts: I64
    rank: I64  # the run's last event

    def __len__(self) -> int:
        return len(self.rank)


@dataclass
class UserAllocs:
    """The user allocations among the actions, with what no variant changes."""

    rows: I64  # action indices
    rank: I64  # their events' ranks
    by_cpu: CpuCounts
    order: I8  # their orders (pages = 2^order)
    kunmap: I64  # kunmap requests: pages if zero-filled, else 0
    kunmap_per_cpu: I64
    multi: I64  # the (few) rows of more than one page, as row numbers here
    multi_cpu: I32
    multi_extra: I64  # their pages - 1
    kernel_per_cpu: I64  # kernel allocations per CPU (no variant changes them either)

    def small(self, ceiling: int) -> BOOL:
        """A range request when marked: pages <= ``ceiling`` (2^order <= C exactly when
        order <= floor(log2 C))."""
        out: BOOL = self.order <= ceiling.bit_length() - 1
        return out

    def pages_per_cpu(self, where: BOOL) -> I64:
        """Pages per CPU of the rows ``where`` selects: one per row, plus the extra
        pages of the larger rows (no full-size weights)."""
        few = np.take(where, self.multi)
        extra = weighted(np.compress(few, self.multi_cpu), np.compress(few, self.multi_extra),
                         self.by_cpu.n_cpus)
        return self.by_cpu.count(where) + extra


def user_allocs(a: Actions, cpus: int) -> UserAllocs:
    """The user allocations among ``a``, with what no variant changes."""
    rows = np.flatnonzero(a.kind == USER_ALLOC)
    cpu = np.take(a.cpu, rows)
    order = np.take(a.order, rows)
    pages = np.left_shift(np.int64(1), order)
    by_cpu = CpuCounts(cpu, cpus)
    kunmap = np.where(np.take(a.zero, rows), pages, 0)
    multi = np.flatnonzero(pages > 1)
    return UserAllocs(rows=rows, rank=np.take(a.rank, rows), by_cpu=by_cpu,
                      order=order, kunmap=kunmap,
                      kunmap_per_cpu=by_cpu.total(kunmap), multi=multi,
                      multi_cpu=np.take(cpu, multi), multi_extra=np.take(pages, multi) - 1,
                      kernel_per_cpu=per_cpu(np.compress(a.kind == KERNEL_ALLOC, a.cpu), cpus))


def refill_runs(refill: BOOL, cpu: I32, ts: I64) -> tuple[I64, I32, Runs]:
    """The refill events (ranks, ascending), the run of each, and the runs: maximal runs
    of refill events consecutive among their CPU's events, numbered in (CPU, rank) order."""
    n = len(refill)
    if not refill.any():
        empty = np.zeros(0, dtype=np.int64)
        return empty, np.zeros(0, dtype=np.int32), Runs(np.zeros(0, dtype=np.int32), empty,
                                                        empty)
    by_cpu = np.argsort(cpu_sort_key(cpu), kind="stable")  # each CPU's events in replay order
    r = np.take(refill, by_cpu)
    # a CPU's first event follows no event of its own
    starts = np.cumsum(bincount(cpu))[:-1]
    after_refill = np.zeros(n, dtype=bool)  # the CPU's previous event is a refill
    after_refill[1:] = r[:-1]
    after_refill[starts] = False
    before_refill = np.zeros(n, dtype=bool)  # the CPU's next event is a refill
    before_refill[:-1] = r[1:]
    before_refill[starts - 1] = False  # (index -1 when CPU 0 has no events: the last)
    at = np.flatnonzero(r)  # the refills, by (CPU, rank)
    ranks = by_cpu[at]
    ids = (np.cumsum(~after_refill[at]) - 1).astype(np.int32)
    last = np.compress(~before_refill[at], ranks).astype(np.int64)  # in run id order
    by_rank = np.argsort(ranks)
    return ranks[by_rank].astype(np.int64), ids[by_rank], Runs(cpu[last], ts[last], last)


def _pack(pfn: U64, shift: np.uint64, out: U64) -> None:
    """``out = pfn << shift | index``, built in blocks (no full-size index array)."""
    np.left_shift(pfn, shift, out=out)
    index = np.arange(BLOCK, dtype=np.uint64)
    for start in range(0, len(out), BLOCK):  # a loop over blocks, not rows
        part = out[start:start + BLOCK]
        part |= index[:len(part)] + np.uint64(start)


def expand(a: Actions, cpus: int) -> Frames:
    """Expand each action to its 2^order frames and sort by (frame, action)."""
    na = len(a)
    if na == 0:
        return Frames(np.zeros(0, dtype=np.int32), np.zeros(0, dtype=bool),
                      np.zeros(0, dtype=np.int8), np.zeros(0, dtype=bool),
                      np.zeros(0, dtype=np.int32), cpus)
    multi = np.flatnonzero(a.order > 0)
    pages = np.left_shift(np.int64(1), a.order[multi])
    top = int(a.pfn.max()) + (int(pages.max()) if len(pages) else 1)
    bits = max(na - 1, 1).bit_length()
    if top.bit_length() + bits <= 64 and na < 1 << 31:
        # one sort of a packed key (frame, action): every action's first frame, then the
        # other frames of the (few) larger ones. The unsorted key's buffer is reused as
        # scratch afterwards (fresh memory costs page faults)
        shift = np.uint64(bits)
        extra = pages - 1
        key = np.empty(na + int(extra.sum()), dtype=np.uint64)
        _pack(a.pfn, shift, key[:na])
        if len(key) > na:
            each = np.repeat(multi, extra)
            offset = (np.arange(1, len(each) + 1, dtype=np.int64)
                      - np.repeat(np.cumsum(extra) - extra, extra)).astype(np.uint64)
            np.add(np.take(key, each), offset << shift, out=key[na:])
        ordered = pl.Series(key).sort().to_numpy()
        aidx = np.bitwise_and(ordered, np.uint64((1 << bits) - 1), out=key).astype(np.int32)
        first = np.ones(len(key), dtype=bool)
        # a new frame where the frame bits differ: (k ^ previous k) >= 2^bits
        diff = np.bitwise_xor(ordered[1:], ordered[:-1], out=key[1:])
        np.greater_equal(diff, np.uint64(1 << bits), out=first[1:])
    else:  # no room to pack: a two-key sort
        all_pages = np.left_shift(np.int64(1), a.order)
        each = np.repeat(np.arange(na, dtype=np.int64), all_pages)
        offset = np.arange(len(each), dtype=np.int64) - np.repeat(
            np.cumsum(all_pages) - all_pages, all_pages)
        frame = np.take(a.pfn, each) + offset.astype(np.uint64)
        order = pl.DataFrame({"f": frame, "a": each}).select(
            pl.arg_sort_by("f", "a")).to_series().to_numpy()
        aidx, frame = np.take(each, order), np.take(frame, order)
        first = np.ones(len(frame), dtype=bool)
        first[1:] = frame[1:] != frame[:-1]
    return Frames(aidx, first, np.take(a.kind, aidx), np.take(a.zero, aidx),
                  np.take(a.cpu, aidx), cpus)
