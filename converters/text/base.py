"""What a text format is (``TextFormat``: its line grammar and header rules), the lines
that are no events in any format, and the page events every trace must have."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from xpfotrace.core.errors import InputError
from xpfotrace.core.traceinfo import TraceInfo

# Lines that are legitimately not events in any text format (also the lines of the
# event above them: perf script's callchain entries, "\tADDR SYMBOL (DSO)"; the frames
# of ftrace's stack trace events, " => FUNCTION")
NOISE = re.compile(
    r"^\s*$|^\s*#|^cpus=\d+|^version = |^CPU \d+ is empty|^\s*CPU:\d+ \[|^\s*TASK-PID|"
    r"^\s*\|\s*\||^\t *[0-9a-f]+ \S.* \(.*\)$|^\s*=> "
).pattern
LOST_RE = r"CPU:\d+ \[LOST (\d+) EVENTS\]"
DROPPED_RE = r"CPU:\d+ \[(\d+) EVENTS DROPPED\]"


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


#: Events whose absence leaves the replay nothing to do.
REPLAY_EVENTS = ("mm_page_alloc", "mm_page_free", "mm_page_alloc_zone_locked", "sched_switch")
#: The events the replay acts on: a trace without any of them replays to zeros.
PAGE_ALLOCATION_EVENTS = REPLAY_EVENTS[:3]


def has_page_events(table: pa.Table) -> bool:
    """Whether ``table`` (its ``event`` column) holds a page-allocation event. In Polars,
    given the table rather than the lone column: Polars converts a lone Arrow array
    through ``pyarrow.compute``, 50-90 ms to import."""
    events = pl.from_arrow(table.select(["event"]))
    assert isinstance(events, pl.DataFrame)
    return bool(events["event"].is_in(PAGE_ALLOCATION_EVENTS).any())


def no_page_events(path: str, events: int, where: str = "") -> InputError:
    """The one-line error for a trace without page-allocation events (``where``: e.g.
    which buffer), naming the events to record."""
    return InputError(path, f"the trace holds no page-allocation events{where} (none of the "
                      f"events the replay reads: {', '.join(PAGE_ALLOCATION_EVENTS)}, among "
                      f"its {events:,} event(s)); record "
                      + ", ".join(f"kmem:{e}" for e in PAGE_ALLOCATION_EVENTS)
                      + " and sched:sched_switch")
