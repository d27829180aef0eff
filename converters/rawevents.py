"""Raw tracepoint payloads (trace.dat records, perf.data PERF_SAMPLE_RAW) to the event schema.

Fields are located with the event format texts, so any kernel's layout works;
each field is gathered for all records of an event at once with numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from .eventformat import EventFormat, Field, format_flags
from .textbase import to_arrow

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]

_PAGE_EVENTS = ("mm_page_alloc", "mm_page_free", "mm_page_free_batched",
                "mm_page_alloc_zone_locked", "mm_page_pcpu_drain")
_INT_FIELDS = {"pfn": "pfn", "order": "order", "migratetype": "migratetype",
               "percpu_refill": "percpu_refill", "prev_pid": "prev_pid", "next_pid": "next_pid",
               "reason": "tlb_reason", "pages": "tlb_pages"}


def read_int(buf: U8, off: I64, f: Field, big_endian: bool = False) -> I64:
    """Field ``f`` of the payloads at ``off`` as int64 (u64 values keep their bits).

    Ring-buffer records and perf raw payloads are 4-byte aligned, so 4- and 8-byte
    fields are one or two gathers from a 32-bit view; anything else gathers bytes.
    """
    at = off + f.offset
    kind = ("i" if f.signed else "u") + str(f.size)
    if not big_endian and len(buf) % 4 == 0 and f.size in (4, 8) and not (at % 4).any():
        words = buf.view("<u4")
        lo = words[at // 4].astype(np.int64)
        if f.size == 4:
            return lo - ((lo >> 31) << 32) if f.signed else lo
        hi = words[at // 4 + 1].astype(np.int64)
        return (hi << 32) | lo  # wraps to the signed reinterpretation, as wanted
    dt = np.dtype(("<" if not big_endian else ">") + kind)
    raw = buf[at[:, None] + np.arange(f.size)]
    out: I64 = raw.view(dt).ravel().astype(np.int64)
    return out


def read_str(buf: U8, off: I64, f: Field) -> npt.NDArray[np.str_]:
    raw = np.ascontiguousarray(buf[(off + f.offset)[:, None] + np.arange(f.size)])
    return np.char.decode(raw.view(f"S{f.size}").ravel(), "utf-8", errors="replace")


def _dense_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, each value's index among them), like ``np.unique(...,
    return_inverse=True)`` but without sorting every value: a table for small
    non-negative ranges, else a hash unique and a search among the few distinct ones."""
    if not len(values):
        return values[:0], np.zeros(0, np.int64)
    if values.dtype.kind in "iu" and int(values.min()) >= 0 and int(values.max()) < 1 << 20:
        present = np.bincount(values.astype(np.int64)) > 0
        distinct = np.flatnonzero(present).astype(values.dtype)
        return distinct, (np.cumsum(present) - 1)[values.astype(np.int64)]
    distinct = np.sort(pl.Series(values).unique().to_numpy())
    return distinct, np.searchsorted(distinct, values)


def _int_column(cols: dict[str, np.ndarray], name: str, n: int) -> np.ndarray:
    """The column ``name``, made (all null) on first use; not a setdefault, which would
    build a full column on every call."""
    if name not in cols:
        cols[name] = np.full(n, np.iinfo(np.int64).min, np.int64)
    return cols[name]


def _str_column(strs: dict[str, pl.Series], name: str, n: int) -> pl.Series:
    if name not in strs:
        strs[name] = pl.repeat(None, n, dtype=pl.String, eager=True).alias(name)
    return strs[name]


def decode(buf: U8, off: I64, ev_id: I64, ts: I64, cpu: I64, formats: dict[int, EventFormat],
           comms: dict[int, str], big_endian: bool = False) -> pa.Table:
    """Rows in the given order (``seq`` = position) as an EVENT_SCHEMA table."""
    n = len(off)
    pid = np.zeros(n, np.int64)
    cols: dict[str, np.ndarray] = {}
    strs: dict[str, pl.Series] = {}
    ids, codes = _dense_codes(ev_id)
    id_names = [formats[int(i)].name if int(i) in formats else f"unknown_event_{int(i)}"
                for i in ids]
    order = np.argsort(codes.astype(np.uint16) if len(ids) < 1 << 16 else codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(ids) + 1))
    for k, eid in enumerate(ids):
        sel = order[bounds[k]:bounds[k + 1]]
        fmt = formats.get(int(eid))
        if fmt is None:
            continue
        o = off[sel]
        if "common_pid" in fmt.fields:
            pid[sel] = read_int(buf, o, fmt.fields["common_pid"], big_endian)
        wanted = fmt.name in _PAGE_EVENTS or fmt.name in ("sched_switch", "tlb_flush")
        if not wanted:
            continue
        for src, dst in _INT_FIELDS.items():
            f = fmt.fields.get(src)
            if f is None or f.array is not None:
                continue
            col = _int_column(cols, dst, n)
            col[sel] = read_int(buf, o, f, big_endian)
        for src in ("prev_comm", "next_comm"):
            f = fmt.fields.get(src)
            if f is not None:
                col_s = _str_column(strs, src, n)
                col_s.scatter(sel, pl.Series(read_str(buf, o, f)))  # numpy str -> String
        if fmt.name == "mm_page_alloc" and "gfp_flags" in fmt.fields:
            raw = read_int(buf, o, fmt.fields["gfp_flags"], big_endian).astype(np.uint64)
            table = fmt.flag_table("gfp_flags") or []
            uniq, inv = _dense_codes(raw)
            text = np.array([format_flags(int(u), table) if table else f"0x{int(u):x}"
                             for u in uniq], dtype=object)  # per distinct value, not event
            g = _str_column(strs, "gfp_flags", n)
            g.scatter(sel, pl.Series(text.tolist(), dtype=pl.String).gather(inv.ravel()))
        if fmt.name == "mm_page_free_batched" and "order" not in fmt.fields:
            col = _int_column(cols, "order", n)
            col[sel] = 0

    null = np.iinfo(np.int64).min
    data: dict[str, pl.Series] = {
        "ts": pl.Series(ts),
        "cpu": pl.Series(cpu.astype(np.int32)),
        "seq": pl.Series(np.arange(n, dtype=np.int64)),
        "pid": pl.Series(pid.astype(np.int32)),
        "event": pl.Series(id_names, dtype=pl.String).gather(codes.ravel()),
    }
    for name, col in cols.items():
        series = pl.Series(name, col)
        data[name] = series.set(series == null, None)
    for name, series in strs.items():
        data[name] = series
    df = pl.DataFrame(data)
    uniq_pids = df["pid"].unique().to_list()
    comm_map = pl.DataFrame({"pid": uniq_pids,
                             "comm": [comms.get(p, "<idle>" if p == 0 else "<...>")
                                      for p in uniq_pids]},
                            schema={"pid": pl.Int32, "comm": pl.String})
    df = df.join(comm_map, on="pid", how="left", maintain_order="left")
    if "pfn" in df.columns:
        # the kernel prints a failed allocation's pfn (-1UL) as 0
        df = df.with_columns(
            pl.when((pl.col("event") == "mm_page_alloc") & (pl.col("pfn") == -1))
            .then(0).otherwise(pl.col("pfn")).cast(pl.UInt64, wrap_numerical=True)
            .alias("pfn"))
    return to_arrow(df)
