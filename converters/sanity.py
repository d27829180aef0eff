"""Plausibility rules every converter applies to its events: implausible CPU numbers, and
binary records whose fields the replay cannot use.

**CPU numbers.** One corrupted digit (``[001]`` -> ``[101]``) must not turn a 2-CPU trace
into a 102-CPU one: N_trace multiplies every sync flush. The events of a CPU are *set
aside* (not in the output, not numbered, not in ``event_counts``; counted in
``TraceInfo.cpu_outliers`` with a warning naming the first line or offset) when

* its number is absurd: negative, or ``MAX_CPUS`` (2^16) or more (always, even with
  ``trust_cpus``: no kernel numbers CPUs that high, and a replay would size arrays by it);
* the format's header *bounds* the CPU numbers (trace.dat and ``trace-cmd report``: one
  buffer per CPU, ``cpus=N``; perf.data: the highest present CPU of ``HEADER_NRCPUS``) and
  the number is at or beyond that bound;
* it is seen on fewer than ``SPARSE`` (8) events and lies beyond the header's CPU count
  (tracefs ``#P:N``, perf.data's online CPUs: online CPUs need not be numbered
  0..N-1, so a busy CPU beyond ``#P`` is kept, as before), or, without any header,
  beyond the highest CPU with ``SPARSE`` or more events (M) and either beyond 2M + 8
  or past CPU numbers with no event at all (real CPUs are numbered 0..N-1 and an idle
  one still logs a few events). A rare CPU M + 1, or one above idle CPUs with events,
  cannot be told from a real idle CPU and is kept.

``trust_cpus`` keeps everything but absurd numbers (N_trace is then the header's count or
the highest CPU + 1, as without this module). A header count of 0 or above ``MAX_CPUS``
is ignored, with a warning.

The text converters stream: whether a CPU seen on few events so far stays "few" is only
known at the end, so the rows from the first such event on are held back (in file
order, as they must be numbered) until the CPU is no longer in question, or the end.
On real traces every CPU passes ``SPARSE`` events within the first chunk and nothing
waits; a trace whose suspect CPU stays rare holds its rows until the end, but at most
``HOLD_ROWS`` of them: then the CPUs still in question are set aside from there on.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from xpfotrace.core.arrowops import filter_rows
from xpfotrace.core.events import MAX_ORDER, PAGE_EVENTS
from xpfotrace.core.traceinfo import MAX_CPUS, TraceInfo

from .binary.binfile import BinaryFormatError

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

#: Fewer events than this on a CPU is "a handful".
SPARSE = 8
#: At most this many rows are held back while a rare CPU is in question.
HOLD_ROWS = 1 << 21

Locate = Callable[[int], str]


def line_location(where: int) -> str:
    return f"line {where}"


def offset_location(where: int) -> str:
    return f"offset {where}"


def _outliers(counts: I64, soft: int | None, hard: int | None, trust: bool,
              final: bool) -> BOOL:
    """Per CPU number: set aside (``final``) or still in question (not ``final``).

    Not final, "in question" is the rule on the counts so far; it only shrinks as
    counts grow (a CPU reaching SPARSE events, a higher CPU becoming busy), and at the
    end it is the rule itself, so rows released while not in question stay released.
    """
    out = np.zeros(len(counts), bool)
    if trust:
        return out
    idx = np.arange(len(counts))
    seen = counts > 0
    sparse = seen & (counts < SPARSE)
    if hard is not None:
        out |= seen & (idx >= hard)
    if soft is not None:
        out |= sparse & (idx >= soft)
    elif hard is None:
        busy = np.flatnonzero(counts >= SPARSE)
        top = int(busy[-1]) if busy.size else -1  # M: the highest busy CPU
        if busy.size or not final:  # (at the end, a trace with no busy CPU: nothing)
            # CPUs between M and each CPU that have no event: real CPUs are numbered
            # 0..N-1, and an idle one still logs a few events
            below: I64 = np.cumsum(~seen) - ~seen  # CPUs with no event below each number
            gap = below - (below[top] if top >= 0 else 0) > 0  # (CPU M itself has events)
            out |= sparse & (idx > top) & ((idx > 2 * top + 8) | gap)
    return out


class CpuCheck:
    """The CPU rule over a stream of tables (file order), for one trace.

    ``feed(table, where)`` takes a table with a ``cpu`` column and each row's line
    number or byte offset; it returns the tables ready to go on (rows set aside
    removed, in file order), possibly none while rows are held. ``finish()`` returns
    the rest. The caller numbers the rows it is given.
    """

    def __init__(self, info: TraceInfo, *, trust: bool = False,
                 locate: Locate = line_location) -> None:
        self.info = info
        self.trust = trust
        self.locate = locate
        # per CPU number below MAX_CPUS, as far as the highest one seen
        self.counts = np.zeros(1, np.int64)
        self.forced = np.zeros(1, bool)  # set aside for good (HOLD_ROWS reached)
        self.held_cpus = np.zeros(1, bool)  # CPUs of the rows held back
        self.held: list[tuple[pa.Table, I64, npt.NDArray[np.int64]]] = []
        self.held_rows = 0
        self.first_at: int | None = None  # where of the first row set aside
        self.cpus_out: set[int] = set()

    def _bounds(self) -> tuple[int | None, int | None]:
        info = self.info
        if info.cpus_header is not None and not 0 < info.cpus_header <= MAX_CPUS:
            info.cpus_header_ignored = info.cpus_header
            info.cpus_header = None
        if info.cpu_bound is not None and not 0 < info.cpu_bound <= MAX_CPUS:
            info.cpu_bound = None
        return info.cpus_header, info.cpu_bound

    def feed(self, table: pa.Table, where: I64) -> list[pa.Table]:
        if not table.num_rows:
            return []
        cpu = table.column("cpu").to_numpy().astype(np.int64)
        absurd = (cpu < 0) | (cpu >= MAX_CPUS)
        present = np.bincount(cpu[~absurd], minlength=len(self.counts))
        if len(present) > len(self.counts):
            grow = len(present) - len(self.counts)
            self.counts = np.append(self.counts, np.zeros(grow, np.int64))
            self.forced = np.append(self.forced, np.zeros(grow, bool))
            self.held_cpus = np.append(self.held_cpus, np.zeros(grow, bool))
        self.counts += present
        self.held.append((table, where, cpu))
        self.held_rows += table.num_rows
        self.held_cpus |= present > 0
        soft, hard = self._bounds()
        question = _outliers(self.counts, soft, hard, self.trust, final=False)
        if (question & self.held_cpus).any():
            if self.held_rows < HOLD_ROWS:
                return []
            self.forced |= question & self.held_cpus
        return self._release(self.forced)

    def finish(self) -> list[pa.Table]:
        soft, hard = self._bounds()
        out = self._release(_outliers(self.counts, soft, hard, self.trust, final=True)
                            | self.forced)
        if self.first_at is not None:
            self.info.cpu_outlier_at = self.locate(self.first_at)
        self.info.cpu_outlier_cpus = sorted(self.cpus_out)
        return out

    def _release(self, aside_cpu: BOOL) -> list[pa.Table]:
        out = []
        for table, where, cpu in self.held:
            absurd = (cpu < 0) | (cpu >= MAX_CPUS)
            aside = absurd | aside_cpu[np.where(absurd, 0, cpu)]
            if aside.any():
                first = int(where[aside].min())
                if self.first_at is None or first < self.first_at:
                    self.first_at = first
                self.info.cpu_outliers += int(aside.sum())
                # (binary CPU fields are u32: shown as such, not as the int32 column)
                self.cpus_out.update((np.unique(cpu[aside]) % (1 << 32)).tolist())
                table = filter_rows(table, ~aside)
            if table.num_rows:
                out.append(table)
        self.held, self.held_rows = [], 0
        self.held_cpus[:] = False
        return out


def checked(table: pa.Table, where: I64, info: TraceInfo, *, trust_cpus: bool,
            locate: Locate, malformed: BOOL | None = None) -> pa.Table:
    """The last step of a binary reader, over the whole trace's table (in replay order,
    ``where`` each row's file offset): malformed records (``malformed``: a field beyond
    its column's type; a page order the replay cannot expand) skipped, the CPU rule,
    the rows numbered, and the trace facts taken from them."""
    bad = bad_orders(table)
    if malformed is not None:
        bad |= malformed
    if bad.any():
        info.skipped_records += int(bad.sum())
        info.skipped_record_at = locate(int(where[bad].min()))
        table, where = filter_rows(table, ~bad), where[~bad]
    check = CpuCheck(info, trust=trust_cpus, locate=locate)
    parts = check.feed(table, where) + check.finish()
    table = pa.concat_tables(parts) if parts else table.slice(0, 0)
    n = table.num_rows
    at = table.schema.get_field_index("seq")
    table = table.set_column(at, table.schema.field(at), pa.array(np.arange(n, dtype=np.int64)))
    info.events = n
    cpu = table.column("cpu").to_numpy()
    ts = table.column("ts").to_numpy()
    info.max_cpu = int(cpu.max()) if n else -1
    cpus, first = first_rows(cpu)  # in time order: each CPU's first
    info.cpu_first_ts = {int(c): int(ts[i]) for c, i in zip(cpus, first, strict=True)}
    if not n:
        raise_empty(info)
    return table


def first_rows(values: np.ndarray) -> tuple[np.ndarray, I64]:
    """The sorted distinct values and the row of each one's first occurrence, as
    ``np.unique(values, return_index=True)``; for small non-negative ints (CPU numbers)
    without sorting them all: the rows are searched in growing blocks from the start
    until every value present has been met (all CPUs log early in a trace)."""
    n = len(values)
    if not n or values.dtype.kind not in "iu" or int(values.min()) < 0 \
            or int(values.max()) >= MAX_CPUS:
        found: tuple[np.ndarray, I64] = np.unique(values, return_index=True)
        return found
    present = np.bincount(values.astype(np.int64)) > 0
    distinct = np.flatnonzero(present)
    first = np.full(len(present), -1, np.int64)
    missing, start, block = len(distinct), 0, 4096
    while missing:
        u, at = np.unique(values[start:start + block], return_index=True)
        new = first[u] < 0
        first[u[new]] = start + at[new]
        missing -= int(new.sum())
        start, block = start + block, block * 2
    return distinct.astype(values.dtype), first[distinct]


def raise_empty(info: TraceInfo) -> None:
    """No event left: say why (a binary reader's BinaryFormatError)."""
    why = []
    if info.cpu_outliers:
        why.append(f"{info.cpu_outliers:,} set aside for their CPU number, first at "
                   f"{info.cpu_outlier_at}; --trust-cpus keeps them")
    if info.skipped_records:
        why.append(f"{info.skipped_records:,} malformed, first at {info.skipped_record_at}")
    raise BinaryFormatError("no usable events" + (f" ({'; '.join(why)})" if why else ""), 0)


def out_of_line(group: I64, ts: I64) -> BOOL:
    """Rows (in file order) that break the time order of their group (a perf.data
    sample's CPU: each CPU's buffer is written in time order): where a row's time is
    below its predecessor's, the predecessor is blamed if it is also above the row
    after (it is ahead of both neighbours), else the row. A file whose groups are not
    in time order by design (more than 1 % of rows out of line) gets no blame."""
    out = np.zeros(len(ts), bool)
    if len(ts) < 3:
        return out
    by = np.argsort(group, kind="stable")
    g, t = group[by], ts[by]
    same = g[1:] == g[:-1]
    back = np.flatnonzero(same & (t[1:] < t[:-1])) + 1  # positions (in ``by``) running back
    if not len(back) or len(back) * 100 > len(ts):
        return out
    nxt = np.minimum(back + 1, len(t) - 1)
    ahead = (back + 1 < len(t)) & (g[nxt] == g[back]) & (t[back - 1] > t[nxt])
    out[by[np.where(ahead, back - 1, back)]] = True
    return out


def bad_orders(table: pa.Table) -> BOOL:
    """Rows of page events whose order is outside 0..MAX_ORDER (the text converters
    skip such lines as malformed; 2^order frames of a corrupted order would not fit in
    memory)."""
    df = pl.from_arrow(table.select(["event", "order"]))  # (Polars: no pyarrow.compute)
    assert isinstance(df, pl.DataFrame)
    order = pl.col("order")
    bad = pl.col("event").is_in(PAGE_EVENTS) & ((order < 0) | (order > MAX_ORDER))
    out: BOOL = df.select(bad.fill_null(False)).to_series().to_numpy()
    return out
