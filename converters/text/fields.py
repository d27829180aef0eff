"""The event fields of text lines, by Polars string expressions: the one definition
of each field's reading (the compiled fast path accepts a line only when it reads it
the same way)."""

from __future__ import annotations

import polars as pl
import pyarrow as pa
from polars.datatypes import IntegerType

from xpfotrace.core import schema
from xpfotrace.core.arrowops import cast_table
from xpfotrace.core.events import MAX_ORDER, PAGE_EVENTS


def _int(expr: pl.Expr, dtype: type[IntegerType] | IntegerType) -> pl.Expr:
    return expr.str.to_integer(base=10, dtype=dtype, strict=False)


def _pfn(expr: pl.Expr) -> pl.Expr:
    """Hex (``0x…``, kernels since ~5.14) or decimal, parsed once with a per-row base."""
    hexa = expr.str.starts_with("0x") | expr.str.starts_with("0X")
    digits = expr.str.strip_prefix("0x").str.strip_prefix("0X")
    base = pl.when(hexa).then(16).otherwise(10)
    return digits.str.to_integer(base=base, dtype=pl.UInt64, strict=False)


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


def as_table(df: pl.DataFrame, sch: pa.Schema) -> pa.Table:
    """The columns of ``sch`` as an Arrow table of that schema; columns the frame lacks
    are null (untyped here, typed by the cast)."""
    missing = [pl.lit(None).alias(name) for name in sch.names if name not in df.columns]
    return cast_table(df.with_columns(missing).select(sch.names).to_arrow(), sch)


def to_arrow(df: pl.DataFrame) -> pa.Table:
    """Select and cast the schema's columns into an Arrow table of EVENT_SCHEMA."""
    return as_table(df, schema.EVENT_SCHEMA)
