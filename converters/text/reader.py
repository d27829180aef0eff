"""Reading a text trace: chunks of whole lines, each parsed on a worker (the compiled
fast path first, the Polars path for the lines it leaves), then numbered, checked and
accounted (skipped lines, lost events, order) on the main thread.
"""

from __future__ import annotations

import mmap
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from xpfotrace.core import schema
from xpfotrace.core.arrowops import take_rows
from xpfotrace.core.errors import InputError
from xpfotrace.core.reading import DEFAULT_CHUNK_BYTES, ProgressFn
from xpfotrace.core.traceinfo import TraceInfo

from ..compression import CountingReader
from ..sanity import CpuCheck
from . import fast
from .base import (
    DROPPED_RE,
    LOST_RE,
    NOISE,
    TextFormat,
    has_page_events,
    no_page_events,
)
from .fast import ROWS_SCHEMA
from .fields import as_table, parse_event_fields

#: The longest text line read (a trace line is under 1 KiB; kernel's trace_seq pages are 4 KiB
#: at most): a longer one is an error, before it can take the memory of a whole file.
MAX_LINE = 16 << 20


def _scratch(size: int) -> mmap.mmap | bytearray:
    """A ring buffer: an anonymous private mapping, which nothing fills with zeros before
    the stream is read into it (a ``bytearray`` is zero-filled first: one more pass over
    memory the kernel has just cleared; 0.05 s of a 2 M-event conversion on the
    development VM). It supports what the ring uses of a ``bytearray``: slicing through a
    memoryview, and ``rfind``. (A system without such mappings gets a ``bytearray``.)"""
    private = getattr(mmap, "MAP_PRIVATE", None)
    anonymous = getattr(mmap, "MAP_ANONYMOUS", None)
    if private is None or anonymous is None:
        return bytearray(size)
    return mmap.mmap(-1, size, flags=private | anonymous)


def iter_line_chunks(reader: CountingReader, chunk_bytes: int,
                     on_cut: Callable[[], None] | None = None, *, ring: int = 3,
                     ) -> Iterator[memoryview]:
    """Yield bounded chunks of whole lines of a stream (without the last newline); the
    caller splits and numbers them (in a worker thread: that is real work).

    The stream is read straight into ``ring`` buffers that are used in turn, so a
    chunk costs no copy and no fresh memory: a yielded chunk stays valid until
    ``ring - 1`` more chunks have been yielded (``read_text`` is done with each
    chunk before the next one is read).

    A last line without its newline was cut off (traces end every line with one):
    it is not yielded but reported to ``on_cut`` (it is the line after the last chunk's).
    """
    slack = 1 << 16  # room for the start of a line that the last chunk cut
    bufs: list[mmap.mmap | bytearray] = []
    turn = 0
    pending = b""
    while True:
        need = len(pending) + chunk_bytes
        if turn == len(bufs):
            bufs.append(_scratch(need + slack))
        elif len(bufs[turn]) < need:  # a line longer than the slack
            bufs[turn] = _scratch(need + slack)
        buf = bufs[turn]
        view = memoryview(buf)
        view[:len(pending)] = pending
        got = reader.read_into(view[len(pending):need])
        if not got:
            break
        end = len(pending) + got
        cut = buf.rfind(b"\n", 0, end)
        pending = bytes(view[cut + 1:end])  # all of it when no newline came (a long line)
        if len(pending) > MAX_LINE:  # no trace has such lines: a bomb or not text at all
            start = reader.decompressed - len(pending)
            raise InputError(reader.path, f"a line of more than {MAX_LINE >> 20} MiB (from "
                             f"byte {start:,} of the text): not a trace")
        if cut < 0:
            continue
        yield view[:cut]
        turn = (turn + 1) % ring
    if pending.strip() and on_cut is not None:
        on_cut()


def _split(buf: bytes | memoryview) -> pl.Series:
    """Lines of a chunk. Valid UTF-8 (nearly every trace) is checked and split inside
    Polars without holding the GIL; anything else is decoded with U+FFFD replacements."""
    buf = bytes(buf)
    try:
        text = pl.Series("line", [buf], dtype=pl.Binary).cast(pl.String)
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError):
        text = pl.Series("line", [buf.decode("utf-8", errors="replace")])
    return text.str.split("\n").explode().str.strip_suffix("\r")


@dataclass
class _Chunk:
    """One parsed chunk: well-formed rows of the fast path (``fast``) and of the Polars
    path (``ev``, with ``_ok``), and the lines that are no events (``other``). Line
    numbers (``ln``) count from 0 within the chunk; the chunk has ``lines`` lines."""

    fast: pa.Table | None
    ev: pl.DataFrame
    other: pl.DataFrame
    lines: int


def _parse_lines(fmt: TextFormat, lines: pl.Series, ln: np.ndarray | None = None) -> _Chunk:
    """The Polars path over ``lines``, numbered 0, 1, ... or by ``ln``."""
    frame = pl.DataFrame({"line": lines})
    if ln is None:
        frame = frame.with_row_index("ln").with_columns(pl.col("ln").cast(pl.Int64))
    else:
        frame = frame.with_columns(pl.Series("ln", ln, dtype=pl.Int64))
    df = fmt.split_lines(frame)
    is_ev = pl.col("event").is_not_null()
    events = df.filter(is_ev)
    # (lines with no event at all, such as a header the fast path left, skip the fields'
    # expressions: on a handful of lines their fixed cost is what the chunk costs)
    ev = parse_event_fields(events.drop("line")) if events.height else pl.DataFrame()
    return _Chunk(None, ev, df.filter(~is_ev), lines.len())


def _parse_chunk(fmt: TextFormat, chunk: memoryview, kernel: bool) -> _Chunk:
    """Parse one chunk (with the compiled kernel if ``kernel``); no shared state, so
    chunks can be parsed concurrently (Polars and the kernel release the GIL)."""
    if (kernel and fmt.kernel is not None and len(chunk) < fast.MAX_CHUNK
            and fast.available()):
        fc = fast.parse(chunk, fmt.kernel)
        if fc.rejected_ln.size:
            out = _parse_lines(fmt, _split(fc.rejected), fc.rejected_ln)
        else:
            out = _Chunk(None, pl.DataFrame(), pl.DataFrame(), 0)
        out.fast = fc.table
        out.lines = fc.lines
        return out
    return _parse_lines(fmt, _split(chunk))


def read_text(path: str, fmt: TextFormat, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
              progress: ProgressFn | None = None, info: TraceInfo | None = None,
              trust_cpus: bool = False) -> Iterator[pa.Table]:
    """Parse a text trace in bounded chunks; ``info`` is complete when the iterator ends.

    Two chunks are parsed at a time on two threads; everything order-dependent
    (seq numbers, header facts, counts) happens here, in file order. Events on
    implausible CPUs are set aside before they are numbered (:mod:`converters.sanity`;
    ``trust_cpus`` keeps them).
    """
    info = info if info is not None else TraceInfo()
    info.source_format = fmt.name
    info.source_file = str(path)
    seq = 0
    page_events = False  # a page-allocation event was seen
    last_ts: dict[int, int] = {}
    check = CpuCheck(info, trust=trust_cpus)

    line_no = 1  # of the next chunk's first line
    cut_off = False

    def cut() -> None:
        nonlocal cut_off
        cut_off = True

    def finish(chunk: _Chunk) -> list[pa.Table]:
        """The chunk's header facts and skipped lines; its event rows (ROWS_SCHEMA, in
        line order) go through the CPU check, which returns those ready to number."""
        nonlocal line_no
        first, line_no = line_no, line_no + chunk.lines
        ev, other = chunk.ev, chunk.other  # line numbers from 0 in the chunk
        if other.height:
            other = other.with_columns(pl.col("ln") + first)
            fmt.header(other, info)
            _account_non_events(other, info)
        parts = [] if chunk.fast is None else [chunk.fast]
        if ev.height:
            bad = ev.filter(~pl.col("_ok"))
            if bad.height:
                _skip(info, bad.height, bad.select(pl.col("ln").min()).item() + first)
            good = ev.filter(pl.col("_ok"))
            if good.height:
                parts.append(as_table(good, ROWS_SCHEMA))
        parts = [t for t in parts if t.num_rows]
        if not parts:
            return []
        rows = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        if len(parts) > 1:  # the fast path's rows and the others, back in line order
            rows = take_rows(rows, np.argsort(rows.column("ln").to_numpy(), kind="stable"))
        where = rows.column("ln").to_numpy().astype(np.int64) + first
        return check.feed(rows, where)

    def number(rows: pa.Table) -> pa.Table:
        """Kept rows, in file order: numbered, and their facts recorded."""
        nonlocal seq, page_events
        n = rows.num_rows
        # the facts from NumPy views of the integer columns (no string conversion)
        cpu = rows.column("cpu").to_numpy()
        info.max_cpu = max(info.max_cpu, int(cpu.max()))
        if not page_events:  # (as a rule, settled by the first chunk)
            page_events = has_page_events(rows)
        _track_order(pl.DataFrame({"cpu": cpu, "ts": rows.column("ts").to_numpy()}), info,
                     last_ts)
        cols = [rows.column(name) if name != "seq"
                else pa.array(np.arange(seq, seq + n, dtype=np.int64))
                for name in schema.COLUMNS]
        seq += n
        return pa.Table.from_arrays(cols, schema=schema.EVENT_SCHEMA)

    with CountingReader(path) as reader, ThreadPoolExecutor(max_workers=2) as pool:
        kernel = fmt.kernel is not None and fast.wanted(reader.size_estimate)
        last_pos = 0
        pending: deque[Future[_Chunk]] = deque()
        for chunk in iter_line_chunks(reader, chunk_bytes, cut):
            pending.append(pool.submit(_parse_chunk, fmt, chunk, kernel))
            if len(pending) >= 2:  # at most two chunks in flight: memory stays bounded
                for rows in finish(pending.popleft().result()):
                    yield number(rows)
            if progress is not None:
                pos = reader.raw_pos
                progress(pos - last_pos)
                last_pos = pos
        while pending:
            for rows in finish(pending.popleft().result()):
                yield number(rows)
    for rows in check.finish():
        yield number(rows)
    if cut_off:
        info.cut_last_line = line_no
    info.events = seq
    if seq == 0:
        if info.cpu_outliers:
            raise InputError(path, f"no trace events on a plausible CPU ({info.cpu_outliers:,} "
                             f"set aside, first at {info.cpu_outlier_at}; --trust-cpus "
                             "keeps them)")
        raise InputError(path, f"no trace events found (read as {fmt.name})")
    if not page_events:
        raise no_page_events(path, seq)


def _track_order(ev: pl.DataFrame, info: TraceInfo, last_ts: dict[int, int]) -> None:
    """First ts per CPU, and events whose ts is below the previous one of their CPU."""
    per_cpu = ev.group_by("cpu").agg(
        pl.col("ts").first().alias("first"), pl.col("ts").last().alias("last"),
        (pl.col("ts").diff() < 0).sum().alias("back"))
    for cpu, first, last, back in per_cpu.iter_rows():  # one row per CPU, not per event
        info.cpu_first_ts.setdefault(cpu, first)
        if cpu in last_ts and first < last_ts[cpu]:
            back += 1
        info.out_of_order += back
        last_ts[cpu] = last


def _skip(info: TraceInfo, n: int, first: int) -> None:
    info.skipped_lines += n
    if info.first_skipped_line is None or first < info.first_skipped_line:
        info.first_skipped_line = first


def _account_non_events(other: pl.DataFrame, info: TraceInfo) -> None:
    if not other.height:
        return
    line = pl.col("line")
    # the (few) markers' counts as text, summed exactly in Python: a count beyond 64 bits
    # or a sum of large ones must not wrap (TraceInfo saturates it, with a warning)
    counts = other.select(pl.concat_list(line.str.extract(LOST_RE, 1),
                                         line.str.extract(DROPPED_RE, 1)).alias("n")
                          ).explode("n").drop_nulls()
    info.add_lost(sum(int(x) for x in counts["n"].to_list()))
    if info.overflow is None and other.select(
            line.str.contains(r"^##### CPU \d+ buffer started").any()).item():
        info.overflow = "unknown"
    garbage = other.filter(~line.str.contains(NOISE))
    if garbage.height:
        _skip(info, garbage.height, garbage.select(pl.col("ln").min()).item())
