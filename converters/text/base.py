"""Shared machinery of the text converters: chunked line reading and vectorized parsing.

A text format supplies a regular expression for its event lines (named groups
``comm pid cpu sec frac event rest``) and its header rules; everything else
(field extraction, timestamps, sequence numbers, skipped-line accounting) is
common and done with Polars string expressions over chunks of lines.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa
from polars.datatypes import IntegerType

from xpfotrace.core import schema
from xpfotrace.core.errors import InputError
from xpfotrace.core.events import MAX_ORDER, PAGE_EVENTS
from xpfotrace.core.reading import DEFAULT_CHUNK_BYTES, ProgressFn
from xpfotrace.core.traceinfo import TraceInfo

from ..compression import CountingReader
from ..sanity import CpuCheck
from . import fast
from .fast import ROWS_SCHEMA

# Lines that are legitimately not events in any text format (also the lines of the
# event above them: perf script's callchain entries, "\tADDR SYMBOL (DSO)"; the frames
# of ftrace's stack trace events, " => FUNCTION")
_NOISE = re.compile(
    r"^\s*$|^\s*#|^cpus=\d+|^version = |^CPU \d+ is empty|^\s*CPU:\d+ \[|^\s*TASK-PID|"
    r"^\s*\|\s*\||^\t *[0-9a-f]+ \S.* \(.*\)$|^\s*=> "
).pattern
_LOST = r"CPU:\d+ \[LOST (\d+) EVENTS\]"
_DROPPED = r"CPU:\d+ \[(\d+) EVENTS DROPPED\]"



@dataclass(frozen=True)
class TextFormat:
    """One text format.

    ``line_regex`` recognises a whole event line (format detection). Parsing finds
    ``anchor`` (no capture groups: the regex engine's fast path), the part from
    ``[CPU]`` to ``event:``; the text before it goes to ``head`` (comm and pid), the
    text after it is the event's fields. Capture groups cost several times a plain
    search per line, so none is used on the hot path.
    """

    name: str
    line_regex: str
    anchor: str
    head: Callable[[pl.Expr], tuple[pl.Expr, pl.Expr]]  # text before the anchor -> comm, pid
    header: Callable[[pl.DataFrame, TraceInfo], None]
    #: the mode in which the compiled kernel (``textfast``) reads this format's event
    #: lines (0: tracefs and trace-cmd report heads, 1: perf script's); None: Polars only
    kernel: int | None = None
    #: Lines of other events that ``anchor`` does not take (tracefs' syscall events,
    #: perf's samples of non-tracepoint events such as cpu-clock), tried only on the
    #: lines without ``anchor``: their anchor (from ``[CPU]`` to the event's text), the
    #: event's name from (that anchor, the rest) or null (no event: the line is garbage),
    #: and a whole-line regex for format detection. Their fields are not read: they
    #: are counted in ``event_counts`` by name, as every event is.
    other_anchor: str | None = None
    other_event: Callable[[pl.Expr, pl.Expr], pl.Expr] | None = None
    other_line_regex: str | None = None

    def split_lines(self, df: pl.DataFrame) -> pl.DataFrame:
        """Columns comm pid cpu sec frac event rest (null on lines that are no events).

        The lines of other events (``other_anchor``) come after the others; within
        each part the lines keep their order (the columns ``ln`` number them).
        """
        out = self._split(df, self.anchor, None)
        if self.other_anchor is None or self.other_event is None:
            return out
        miss = out.get_column("event").is_null()
        if not miss.any():
            return out
        rest = self._split(out.filter(miss).select(df.columns), self.other_anchor,
                           self.other_event)
        if rest.get_column("event").is_null().all():  # headers, garbage: nothing to add
            return out
        return pl.concat([out.filter(~miss), rest])

    def _split(self, df: pl.DataFrame, anchor_re: str,
               other: Callable[[pl.Expr, pl.Expr], pl.Expr] | None) -> pl.DataFrame:
        line = pl.col("line").str.replace_all("\x00", "\ufffd", literal=True)
        out = df.with_columns(
            line.str.replace(anchor_re, "\x00").str.splitn("\x00", 2)
            .struct.rename_fields(["pre", "rest"]).alias("p"),
            line.str.extract(anchor_re, 0).alias("anchor"),
        ).unnest("p")
        anchor, pre = pl.col("anchor"), pl.col("pre")
        # the anchor is "[CPU] ... SEC.FRAC: ... event: "
        stamp = anchor.str.extract(r"\d+\.\d+:", 0).str.strip_suffix(":").str.split_exact(".", 1)
        comm, pid = self.head(pre)
        head_ok = pre.str.contains(r"\s$")  # the head ends in whitespace in every format
        if other is None:
            event = anchor.str.extract(r"\w+:\s*$", 0).str.strip_chars_end().str.strip_suffix(":")
            found = anchor.is_not_null()
        else:
            event = pl.when(anchor.is_not_null()).then(other(anchor, pl.col("rest")))
            found = event.is_not_null()
        return out.with_columns(
            anchor.str.extract(r"\d+", 0).alias("cpu"),
            stamp.struct.field("field_0").alias("sec"),
            stamp.struct.field("field_1").alias("frac"),
            event.alias("event"),
            pl.when(head_ok).then(comm).alias("comm"),
            pl.when(head_ok).then(pid).alias("pid"),
            pl.when(found).then(pl.col("rest")).alias("rest"),
        ).drop("pre", "anchor")


def cut_suffix(text: pl.Expr, suffix: pl.Expr) -> pl.Expr:
    """``text`` without its last ``len(suffix)`` characters (null where suffix is null)."""
    return pl.when(suffix.is_not_null()).then(
        text.str.head(text.str.len_chars() - suffix.str.len_chars()))


#: The longest text line read (a trace line is under 1 KiB; kernel's trace_seq pages are 4 KiB
#: at most): a longer one is an error, before it can take the memory of a whole file.
MAX_LINE = 16 << 20


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
    bufs: list[bytearray] = []
    turn = 0
    pending = b""
    while True:
        need = len(pending) + chunk_bytes
        if turn == len(bufs):
            bufs.append(bytearray(need + slack))
        elif len(bufs[turn]) < need:  # a line longer than the slack
            bufs[turn] = bytearray(need + slack)
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


def _int(expr: pl.Expr, dtype: type[IntegerType] | IntegerType) -> pl.Expr:
    return expr.str.to_integer(base=10, dtype=dtype, strict=False)


def _pfn(expr: pl.Expr) -> pl.Expr:
    """Hex (``0x…``, kernels since ~5.14) or decimal, parsed once with a per-row base."""
    hexa = expr.str.starts_with("0x") | expr.str.starts_with("0X")
    digits = expr.str.strip_prefix("0x").str.strip_prefix("0X")
    base = pl.when(hexa).then(16).otherwise(10)
    return digits.str.to_integer(base=base, dtype=pl.UInt64, strict=False)


#: Events whose absence leaves the replay nothing to do.
REPLAY_EVENTS = ("mm_page_alloc", "mm_page_free", "mm_page_alloc_zone_locked", "sched_switch")
#: The events the replay acts on: a trace without any of them replays to zeros.
PAGE_ALLOCATION_EVENTS = REPLAY_EVENTS[:3]


def no_page_events(path: str, events: int, where: str = "") -> InputError:
    """The one-line error for a trace without page-allocation events (``where``: e.g.
    which buffer), naming the events to record."""
    return InputError(path, f"the trace holds no page-allocation events{where} (none of the "
                      f"events the replay reads: {', '.join(PAGE_ALLOCATION_EVENTS)}, among "
                      f"its {events:,} event(s)); record "
                      + ", ".join(f"kmem:{e}" for e in PAGE_ALLOCATION_EVENTS)
                      + " and sched:sched_switch")


_SW_RAW_PREV = r"prev_comm=(?P<c>.*?) prev_pid=(?P<p>-?\d+)"
_SW_RAW_NEXT = r"next_comm=(?P<c>.*?) next_pid=(?P<p>-?\d+)"
_SW_PLUGIN = r"^(?P<pc>.*):(?P<pp>-?\d+) \[-?\d+\] \S+ ==> (?P<nc>.*):(?P<np>-?\d+) \[-?\d+\]\s*$"


def _field(rest: pl.Expr, key: str, value: str, bounded: bool = True) -> pl.Expr:
    """The text of ``key=<value>`` in ``rest`` (``bounded``: between whitespace or the
    ends). The whole match is extracted and trimmed: extracting a capture group would
    run the regex engine's slow captures path on every line."""
    pattern = rf"{key}=(?:{value})"
    if bounded:
        pattern = rf"(?:^|\s){pattern}(?:\s|$)"
    return rest.str.extract(pattern, 0).str.strip_chars().str.strip_prefix(f"{key}=")


def _page_fields(df: pl.DataFrame) -> pl.DataFrame:
    rest = pl.col("rest")
    pfn_txt = _field(rest, "pfn", r"0[xX][0-9a-fA-F]+|\d+")
    # only an allocation can fail and print a (null) page
    page_null = rest.str.contains(r"page=\(null\)") & (pl.col("event") == "mm_page_alloc")
    return df.with_columns(
        pl.when(page_null).then(None).otherwise(_pfn(pfn_txt)).cast(pl.UInt64).alias("pfn"),
        # the kernel prints mm_page_free_batched's order as a literal 0; -R omits it
        pl.coalesce(_int(_field(rest, "order", r"-?\d+"), pl.Int32),
                    pl.when(pl.col("event") == "mm_page_free_batched").then(pl.lit(0, pl.Int32)))
        .alias("order"),
        _field(rest, "gfp_flags", r"\S+", bounded=False).alias("gfp_flags"),
        _int(_field(rest, "migratetype", r"-?\d+(?:\s|$)", bounded=False), pl.Int32)
        .alias("migratetype"),
        _int(_field(rest, "percpu_refill", r"-?\d+(?:\s|$)", bounded=False), pl.Int32)
        .alias("percpu_refill"),
        # a line is well formed when what the replay reads is there
        (pfn_txt.is_not_null() | page_null).alias("_ok"),
    ).with_columns(
        (pl.col("_ok")
         & pl.col("order").is_between(0, MAX_ORDER)
         & ((pl.col("event") != "mm_page_alloc") | pl.col("gfp_flags").is_not_null())
         & ((pl.col("event") != "mm_page_alloc_zone_locked")
            | (pl.col("migratetype").is_not_null() & pl.col("percpu_refill").is_not_null())))
        .alias("_ok")
    )


def _switch_fields(df: pl.DataFrame) -> pl.DataFrame:
    rest = pl.col("rest")
    plug = rest.str.extract_groups(_SW_PLUGIN)  # comm:pid [prio] S ==> comm:pid [prio]
    prev = rest.str.extract_groups(_SW_RAW_PREV)  # prev_comm=… prev_pid=… (-R, tracefs, perf)
    nxt = rest.str.extract_groups(_SW_RAW_NEXT)
    return df.with_columns(
        pl.coalesce(prev.struct.field("c"), plug.struct.field("pc")).alias("prev_comm"),
        _int(pl.coalesce(prev.struct.field("p"), plug.struct.field("pp")),
             pl.Int32).alias("prev_pid"),
        pl.coalesce(nxt.struct.field("c"), plug.struct.field("nc")).alias("next_comm"),
        _int(pl.coalesce(nxt.struct.field("p"), plug.struct.field("np")),
             pl.Int32).alias("next_pid"),
    ).with_columns((pl.col("next_pid").is_not_null() & pl.col("next_comm").is_not_null())
                   .alias("_ok"))


def _tlb_fields(df: pl.DataFrame) -> pl.DataFrame:
    rest = pl.col("rest")
    reason = pl.coalesce(rest.str.extract(r"\((-?\d+)\)\s*$", 1),
                         rest.str.extract(r"reason[:=](-?\d+)\b", 1))
    return df.with_columns(
        _int(rest.str.extract(r"pages[:=](-?\d+)(?:\s|$)", 1), pl.Int64).alias("tlb_pages"),
        _int(reason, pl.Int32).alias("tlb_reason"),
    ).with_columns(pl.col("tlb_reason").is_not_null().alias("_ok"))


def parse_event_fields(ev: pl.DataFrame) -> pl.DataFrame:
    """Typed fields of every event row (columns comm pid cpu sec frac event rest ln).

    Returns the rows in input order with a boolean ``_ok`` (False: a known event
    whose fields the replay needs are missing or malformed).
    """
    evcol = pl.col("event")
    parts = [
        _page_fields(ev.filter(evcol.is_in(PAGE_EVENTS))),
        _switch_fields(ev.filter(evcol == "sched_switch")),
        _tlb_fields(ev.filter(evcol == "tlb_flush")),
        ev.filter(~evcol.is_in((*PAGE_EVENTS, "sched_switch", "tlb_flush")))
        .with_columns(pl.lit(True).alias("_ok")),
    ]
    out = pl.concat(parts, how="diagonal_relaxed").sort("ln")
    frac = pl.col("frac").str.slice(0, 9).str.pad_end(9, "0")
    return out.with_columns(
        (_int(pl.col("sec"), pl.Int64) * 1_000_000_000 + _int(frac, pl.Int64)).alias("ts"),
        _int(pl.col("cpu"), pl.Int32).alias("cpu"),
        _int(pl.col("pid"), pl.Int32).alias("pid"),
        pl.col("comm").str.strip_chars(),
    ).with_columns((pl.col("_ok") & pl.col("ts").is_not_null() & pl.col("cpu").is_not_null()
                    & pl.col("pid").is_not_null())
                   .fill_null(False).alias("_ok"))


def _as_table(df: pl.DataFrame, sch: pa.Schema) -> pa.Table:
    """The columns of ``sch`` as an Arrow table of that schema; columns the frame lacks
    are null (untyped here, typed by the cast)."""
    missing = [pl.lit(None).alias(name) for name in sch.names if name not in df.columns]
    return df.with_columns(missing).select(sch.names).to_arrow().cast(sch)


def to_arrow(df: pl.DataFrame) -> pa.Table:
    """Select and cast the schema's columns into an Arrow table of EVENT_SCHEMA."""
    return _as_table(df, schema.EVENT_SCHEMA)


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
    return _Chunk(None, parse_event_fields(df.filter(is_ev).drop("line")), df.filter(~is_ev),
                  lines.len())


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
    names: set[str] = set()
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
                parts.append(_as_table(good, ROWS_SCHEMA))
        parts = [t for t in parts if t.num_rows]
        if not parts:
            return []
        rows = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        if len(parts) > 1:  # the fast path's rows and the others, back in line order
            rows = rows.take(np.argsort(rows.column("ln").to_numpy(), kind="stable"))
        where = rows.column("ln").to_numpy().astype(np.int64) + first
        return check.feed(rows, where)

    def number(rows: pa.Table) -> pa.Table:
        """Kept rows, in file order: numbered, and their facts recorded."""
        nonlocal seq
        n = rows.num_rows
        facts = pl.from_arrow(rows.select(["cpu", "ts", "event"]))
        assert isinstance(facts, pl.DataFrame)
        info.max_cpu = max(info.max_cpu, facts.select(pl.col("cpu").max()).item())
        names.update(facts["event"].unique().to_list())
        _track_order(facts, info, last_ts)
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
    if not names & set(PAGE_ALLOCATION_EVENTS):
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
    counts = other.select(pl.concat_list(line.str.extract(_LOST, 1),
                                         line.str.extract(_DROPPED, 1)).alias("n")
                          ).explode("n").drop_nulls()
    info.add_lost(sum(int(x) for x in counts["n"].to_list()))
    if info.overflow is None and other.select(
            line.str.contains(r"^##### CPU \d+ buffer started").any()).item():
        info.overflow = "unknown"
    garbage = other.filter(~line.str.contains(_NOISE))
    if garbage.height:
        _skip(info, garbage.height, garbage.select(pl.col("ln").min()).item())
