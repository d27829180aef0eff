"""Put a trace in replay order and classify what each event does (docs/model.md 1-3).

Everything downstream works on the NumPy arrays built here once per trace: the
page-acting events (``Actions``), one row per (action, frame) sorted by
(frame, action) (``Frames``), the refill runs (``Runs``) and the mm switches.
An event's ``rank`` is its position in (ts, seq) order.

Rows are classified by one lookup in an (event, gfp) table on the columns'
dictionary codes (``Trace.codes``), or, without codes, by Polars string
comparisons in one parallel ``select``. NumPy does the rest: per-CPU refill runs
from a radix sort on the CPU number, frame expansion by ``repeat``, and the
(frame, action) order from one sort of a packed 64-bit key. Numeric columns are
read through views of their chunks (``_Columns``): on this project's VMs fresh
memory costs microseconds per page, so copies and full-size temporaries are
avoided where a view or a blocked pass does.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

import numpy as np
import numpy.ma  # (see below)
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from .. import gfp
from ..trace import Codes
from .percpu import BLOCK, CpuCounts, bincount, per_cpu, weighted

# numpy.ma is imported with the engine, not inside a replay: Polars' NumPy-to-Series
# conversion asks for np.ma, whose first (lazy) import costs about 15 ms.

T = TypeVar("T")


class lazy(Generic[T]):
    """``functools.cached_property`` without its lock: Python 3.11 holds one lock per
    property for *all* instances, which would make the variants' threads wait for each
    other's frame masks. Two threads may both compute a value the first time; they get
    equal ones, and one is kept."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn, self.name, self.__doc__ = fn, fn.__name__, fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> lazy[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | lazy[T]:
        if obj is None:
            return self
        value: T = self.fn(obj)
        obj.__dict__[self.name] = value  # found before this descriptor from now on
        return value


I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U64 = npt.NDArray[np.uint64]
I8 = npt.NDArray[np.int8]
BOOL = npt.NDArray[np.bool_]

# kind codes of page-acting events
USER_ALLOC, KERNEL_ALLOC, FREE, REFILL_MOVABLE, REFILL_OTHER = 0, 1, 2, 3, 4

#: tlb_single_page_flush_ceiling: requests of more pages are full flushes (docs/model.md
#: section 3; a strategy's ``ceiling`` parameter changes it, section 8).
FLUSH_CEILING = 33
#: Orders are clipped to this (2^62 frames: beyond any real allocation, inside int64).
MAX_SHIFT = 62

#: next_comm prefixes of kernel threads (docs/model.md section 4); exact list.
KTHREAD_PREFIXES: tuple[str, ...] = (
    "swapper", "kworker/", "ksoftirqd/", "migration/", "rcu", "cpuhp/", "idle_inject/",
    "irq/", "kthreadd", "kswapd", "kcompactd", "khugepaged", "ksmd", "watchdog", "jbd2/",
    "oom_reaper", "kauditd", "khungtaskd", "writeback", "kblockd",
)


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


@dataclass
class Prepared:
    """A trace ready for the state and remote passes."""

    ts: I64  # every event, in replay order (index = rank)
    seq_column: pl.Series  # (seq by rank is made when asked for: ``seq``)
    cpu: I32
    actions: Actions
    frames: Frames  # every action's frames
    switches: I64  # ranks of the mm switches
    runs: Runs
    user_allocs: UserAllocs
    cpus: int  # N_trace
    t0: int
    duration_ns: int
    perm: I64 | None = None  # the rows of the trace in replay order (None: in order)

    def by_rank(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """A per-row array of the trace (in its row order) in replay order."""
        return values if self.perm is None else np.take(values, self.perm)

    @lazy
    def seq(self) -> I64:
        """Every event's seq, in replay order."""
        out: I64 = self.seq_column.to_numpy()
        return out

    @lazy
    def frames_without_refills(self) -> Frames:
        """The frames of allocations and frees only (what a variant without batch sees)."""
        return self.frames.subset(self.frames.kind < REFILL_MOVABLE)


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


def is_mm_switch(next_pid: pl.Expr, next_comm: pl.Expr) -> pl.Expr:
    """True where the next task has a user address space."""
    kthread = pl.lit(False)
    for prefix in KTHREAD_PREFIXES:
        kthread = kthread | next_comm.str.starts_with(prefix)
    return (next_pid != 0) & ~kthread.fill_null(False)


class _Chunk:
    """One chunk of a numeric column: its rows ``start:stop``, its values (undefined
    where null) and where it is not null (None: nowhere null), all views."""

    def __init__(self, start: int, arr: pa.Array) -> None:
        n = len(arr)
        self.start, self.stop = start, start + n
        if pa.types.is_null(arr.type):  # an untyped all-null column has no value buffer
            self.values: npt.NDArray[Any] = np.zeros(n, dtype=np.int64)
            self.valid: BOOL | None = np.zeros(n, dtype=bool)
            return
        data, bitmap = arr.buffers()[1], arr.buffers()[0]
        self.values = np.frombuffer(data, dtype=arr.type.to_pandas_dtype(),
                                    count=n + arr.offset)[arr.offset:]
        self.valid = None
        if bitmap is not None and arr.null_count:
            bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
            self.valid = bits[arr.offset:arr.offset + n].view(np.bool_)


class _Columns:
    """The numeric columns ``prepare`` reads, chunk by chunk.

    A Parquet file of several row groups reads as columns of several chunks; a
    contiguous copy of each (what ``to_numpy`` makes) costs fresh memory, and the
    page faults of fresh memory are a good part of a replay's time. Only the columns
    needed whole (ts, cpu) are made contiguous, once; the others are read
    through views of their chunks into the (narrower) arrays prepare keeps."""

    def __init__(self, df: pl.DataFrame) -> None:
        self.df = df
        self._whole: dict[str, npt.NDArray[Any]] = {}

    def chunks(self, name: str) -> list[_Chunk]:
        out, start = [], 0
        for part in self.df.get_column(name).get_chunks():
            out.append(_Chunk(start, part.to_arrow()))
            start += len(part)
        return out

    def whole(self, name: str) -> npt.NDArray[Any]:
        """A column without nulls as one array (a copy only if it has several chunks)."""
        if name not in self._whole:
            self._whole[name] = self.df.get_column(name).to_numpy()
        return self._whole[name]

    def test(self, name: str, fn: Callable[[npt.NDArray[Any]], BOOL]) -> BOOL:
        """``fn`` of the values where the column is not null; False where it is null."""
        out = np.empty(self.df.height, dtype=bool)
        for c in self.chunks(name):
            part = out[c.start:c.stop]
            part[:] = fn(c.values)
            if c.valid is not None:
                part &= c.valid
        return out

    def test_at(self, name: str, rows: I64,
                fn: Callable[[npt.NDArray[Any]], BOOL]) -> BOOL:
        """``test`` at the (ascending) ``rows`` only."""
        out = np.zeros(len(rows), dtype=bool)
        for c in self.chunks(name):
            lo, hi = np.searchsorted(rows, (c.start, c.stop))
            at = rows[lo:hi] - c.start
            part = fn(np.take(c.values, at))
            if c.valid is not None:
                part &= np.take(c.valid, at)
            out[lo:hi] = part
        return out

    def valid(self, name: str) -> BOOL | None:
        """Where the column is not null (None: nowhere null)."""
        chunks = self.chunks(name)
        if all(c.valid is None for c in chunks):
            return None
        out = np.ones(self.df.height, dtype=bool)
        for c in chunks:
            if c.valid is not None:
                out[c.start:c.stop] = c.valid
        return out

    def compress(self, name: str, keep: BOOL, null: int, dtype: npt.DTypeLike,
                 lo: int | None = None, hi: int | None = None) -> npt.NDArray[Any]:
        """The values of the rows where ``keep``, ``null`` where the column is null,
        clipped to ``lo`` .. ``hi`` (if given) before they are cast to ``dtype``."""
        out = np.empty(int(np.count_nonzero(keep)), dtype=dtype)
        at = 0
        for c in self.chunks(name):
            k = keep[c.start:c.stop]
            part = np.compress(k, c.values)
            if c.valid is not None:
                part[~np.compress(k, c.valid)] = null
            if lo is not None:
                np.clip(part, lo, hi, out=part)
            out[at:at + len(part)] = part
            at += len(part)
        return out


def _in_order(ts: I64, seq: list[_Chunk]) -> bool:
    """Whether (ts, seq) strictly increases, checked block by block (``seq`` in its
    chunks: only ts is needed whole later)."""
    seq = [c for c in seq if c.stop > c.start]
    for c in seq:
        for start in range(c.start, c.stop - 1, BLOCK):  # a loop over blocks, not rows
            end = min(start + BLOCK + 1, c.stop)
            t, q = ts[start:end], c.values[start - c.start:end - c.start]
            ahead, behind = t[1:], t[:-1]
            if not ((ahead > behind) | ((ahead == behind) & (q[1:] > q[:-1]))).all():
                return False
    for c, d in itertools.pairwise(seq):  # where one chunk meets the next
        i = c.stop - 1
        if (ts[i], c.values[-1]) >= (ts[i + 1], d.values[0]):
            return False
    return True


def _replay_order(ts: I64, seq: list[_Chunk]) -> I64 | None:
    """The permutation that sorts events by (ts, seq), or None if they are in that order
    already (most traces are, and checking is cheap)."""
    if _in_order(ts, seq):
        return None
    seq_whole = np.concatenate([c.values for c in seq]) if seq else np.zeros(0, np.int64)
    order = pl.DataFrame({"ts": ts, "seq": seq_whole}).select(pl.arg_sort_by("ts", "seq"))
    return order.to_series().to_numpy().astype(np.int64)


def _gfp_sets(ev: pl.DataFrame) -> tuple[list[str], list[str]]:
    """The distinct printed gfp values that are user, and those that are zero-filled."""
    keys, user, zero = gfp.classify(ev.get_column("gfp_flags").unique().drop_nulls().to_list())
    return ([k for k, u in zip(keys, user, strict=True) if u and k is not None],
            [k for k, z in zip(keys, zero, strict=True) if z and k is not None])


def _named(c: Codes, name: str) -> BOOL:
    """Rows whose coded value is ``name``."""
    if name not in c.values:
        return np.zeros(len(c.codes), bool)
    out: BOOL = c.codes == c.values.index(name)
    return out


def _one(values: npt.NDArray[Any]) -> BOOL:
    out: BOOL = values == 1
    return out


def _nonzero(values: npt.NDArray[Any]) -> BOOL:
    out: BOOL = values != 0
    return out


def _classify_coded(cols: _Columns, codes: dict[str, Codes]) -> tuple[I8, BOOL, BOOL]:
    """``_classify`` on dictionary codes: the strings are looked at once per distinct
    value, the rows only as small integers.

    One table lookup on (event, gfp) gives each row's kind as its names say; then
    allocations without a pfn (or pfn 0) act on nothing, and the few
    mm_page_alloc_zone_locked rows are checked for percpu_refill and migratetype."""
    event, flags = codes["event"], codes["gfp_flags"]
    bits = [gfp.decode(v) for v in flags.values]
    zero = np.array([gfp.is_zero(x) for x in bits] + [False])[flags.codes]  # -1: null
    width = len(flags.values) + 1  # column 0: null gfp_flags; row 0: null event
    table = np.full((len(event.values) + 1, width), -1, dtype=np.int8)
    names = {v: i + 1 for i, v in enumerate(event.values)}
    if "mm_page_alloc" in names:
        table[names["mm_page_alloc"]] = [KERNEL_ALLOC] + [
            USER_ALLOC if gfp.is_user(x) else KERNEL_ALLOC for x in bits]
    if "mm_page_free" in names:
        table[names["mm_page_free"]] = FREE
    if "mm_page_alloc_zone_locked" in names:
        table[names["mm_page_alloc_zone_locked"]] = REFILL_OTHER
    cell = event.codes + 1
    cell *= width
    cell += flags.codes
    cell += 1
    kind: I8 = np.take(table.ravel(), cell)
    # kinds 0 and 1 (the allocations; -1 reads as 255 unsigned) need a pfn other than 0
    np.putmask(kind, (kind.view(np.uint8) <= KERNEL_ALLOC) & ~cols.test("pfn", _nonzero), -1)
    locked = np.flatnonzero(kind == REFILL_OTHER)
    is_refill = cols.test_at("percpu_refill", locked, _one)
    movable = cols.test_at("migratetype", locked, _one)
    kind[np.compress(~is_refill, locked)] = -1
    kind[np.compress(is_refill & movable, locked)] = REFILL_MOVABLE
    refill = np.zeros(len(kind), dtype=bool)
    refill[np.compress(is_refill, locked)] = True
    return kind, zero, refill


def _classify(ev: pl.DataFrame) -> tuple[I8, BOOL, BOOL]:
    """Per event: kind (-1: acts on no page), zero-filled, and refill (percpu_refill=1)."""
    user_keys, zero_keys = _gfp_sets(ev)
    name, pfn, flags = pl.col("event"), pl.col("pfn"), pl.col("gfp_flags")
    alloc_ok = (name == "mm_page_alloc") & pfn.is_not_null() & (pfn != 0)
    refill = ((name == "mm_page_alloc_zone_locked") & (pl.col("percpu_refill") == 1)
              ).fill_null(False)
    user = flags.is_in(user_keys).fill_null(False)
    kind = (
        pl.when(alloc_ok & user).then(pl.lit(USER_ALLOC))
        .when(alloc_ok).then(pl.lit(KERNEL_ALLOC))
        .when(name == "mm_page_free").then(pl.lit(FREE))
        .when(refill & (pl.col("migratetype") == 1).fill_null(False))
        .then(pl.lit(REFILL_MOVABLE))
        .when(refill).then(pl.lit(REFILL_OTHER))
        .otherwise(pl.lit(-1)).cast(pl.Int8)
    )
    cls = ev.select(kind.alias("kind"), flags.is_in(zero_keys).fill_null(False).alias("zero"),
                    refill.alias("refill"))
    return (cls.get_column("kind").to_numpy(), cls.get_column("zero").to_numpy(),
            cls.get_column("refill").to_numpy())


def cpu_sort_key(cpu: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.unsignedinteger[Any]]:
    """CPU numbers as the narrowest unsigned type: NumPy's stable sort of 8- and 16-bit
    keys is a linear-time radix sort (one pass per byte)."""
    top = int(cpu.max()) if len(cpu) else 0
    return cpu.astype(np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.uint32)


def _runs(refill: BOOL, cpu: I32, ts: I64) -> tuple[I64, I32, Runs]:
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


def _frames(a: Actions, cpus: int) -> Frames:
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


def _switches(ev: pl.DataFrame, event: Codes | None = None) -> I64:
    """Ranks of the mm switches: sched_switch to a task with an address space."""
    if event is not None:  # the sched_switch rows from the codes, then their next task
        rows = np.flatnonzero(_named(event, "sched_switch"))
        mm = ev.select("next_pid", "next_comm")[rows].select(
            is_mm_switch(pl.col("next_pid"), pl.col("next_comm"))).to_series().to_numpy()
        out: I64 = rows[mm].astype(np.int64)
        return out
    return (ev.select("event", "next_pid", "next_comm").with_row_index("rank")
            .filter(pl.col("event") == "sched_switch")
            .filter(is_mm_switch(pl.col("next_pid"), pl.col("next_comm")))
            .get_column("rank").to_numpy().astype(np.int64))


def prepare(df: pl.DataFrame, cpus: int, codes: dict[str, Codes] | None = None) -> Prepared:
    """Order, classify and expand the events of a trace with ``cpus`` CPUs.

    ``codes`` (``Trace.codes``, row-aligned with ``df``) spares the string comparisons
    where it has the event and gfp columns. The refill runs and the mm switches are
    found on other threads while this one expands and sorts the frames (NumPy and
    Polars release the GIL).
    """
    cols = _Columns(df)
    coded = {c: v for c, v in (codes or {}).items() if len(v.codes) == df.height}
    perm = _replay_order(cols.whole("ts"), cols.chunks("seq"))
    ev = df
    if perm is not None:
        ev = df[perm]
        cols = _Columns(ev)
        coded = {c: Codes(np.take(v.codes, perm), v.values) for c, v in coded.items()}
    with ThreadPoolExecutor(2) as pool:
        switches = pool.submit(_switches, ev, coded.get("event"))
        if "event" in coded and "gfp_flags" in coded:
            kind, zero, refill = _classify_coded(cols, coded)
        else:
            kind, zero, refill = _classify(ev)
        ts, cpu = cols.whole("ts"), cols.whole("cpu")
        found_runs = pool.submit(_runs, refill, cpu, ts)
        is_action = kind >= 0
        has_pfn = cols.valid("pfn")
        if has_pfn is not None:
            is_action &= has_pfn
        act = np.flatnonzero(is_action)
        actions = Actions(rank=act, cpu=np.compress(is_action, cpu),
                          kind=np.compress(is_action, kind), zero=np.compress(is_action, zero),
                          pfn=cols.compress("pfn", is_action, 0, np.uint64),
                          order=cols.compress("order", is_action, 0, np.int8, 0, MAX_SHIFT),
                          run=np.full(len(act), -1, dtype=np.int32))
        users = pool.submit(user_allocs, actions, cpus)
        frames = _frames(actions, cpus)
        refill_ranks, refill_runs, runs = found_runs.result()
        # the refill events that are actions (they have a pfn) get their runs
        at = np.searchsorted(act, refill_ranks)
        hit = at < len(act)
        hit[hit] = act[at[hit]] == refill_ranks[hit]
        actions.run[at[hit]] = refill_runs[hit]
        t0 = int(ts[0]) if len(ts) else 0
        duration = int(ts[-1]) - t0 if len(ts) else 0
        return Prepared(ts=ts, seq_column=ev.get_column("seq"), cpu=cpu, actions=actions,
                        frames=frames, switches=switches.result(), runs=runs,
                        user_allocs=users.result(), cpus=cpus, t0=t0, duration_ns=duration,
                        perm=perm)
