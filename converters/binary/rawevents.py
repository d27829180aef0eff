"""Raw tracepoint payloads (trace.dat records, perf.data PERF_SAMPLE_RAW) to the event schema.

Fields are located with the event format texts, so any kernel's layout works;
each field is gathered for all records of an event at once with numpy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from xpfotrace.core import schema

from .eventformat import EventFormat, Field, format_flags

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

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


def short_payloads(length: I64, ev_id: I64, formats: dict[int, EventFormat]) -> BOOL:
    """Records whose payload is shorter than the fixed fields of their event's format:
    damaged records (reading their fields would run into the next record, or past the
    data). Events without a format have nothing read from them."""
    if not formats or not len(length):
        return np.zeros(len(length), bool)
    keys = np.array(sorted(formats), np.int64)
    needs = np.array([max((f.offset + f.size for f in formats[int(k)].fields.values()),
                          default=0) for k in keys], np.int64)
    idx = np.minimum(np.searchsorted(keys, ev_id), len(keys) - 1)
    need = np.where(keys[idx] == ev_id, needs[idx], 0)
    out: BOOL = length < need
    return out


def damaged_payloads(length: I64, ev_id: I64, known: list[int],
                     formats: dict[int, EventFormat]) -> BOOL:
    """Records that cannot be what they claim: shorter than their format
    (:func:`short_payloads`), or, when such records are rare (under 1 %: a file whose
    formats cover its events), of an event ID the file has no format for (``known``:
    the IDs it has), which is what a damaged record header or payload gives."""
    out = short_payloads(length, ev_id, formats)
    unknown = ~np.isin(ev_id, np.array(known, np.int64))
    n_unknown = int(unknown.sum())
    if n_unknown and n_unknown * 100 < len(ev_id):
        out |= unknown
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


class _Sparse:
    """A column set on some rows only: int values with a validity mask, or strings
    gathered from a list of distinct values (null elsewhere)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.ints: dict[str, tuple[I64, npt.NDArray[np.bool_]]] = {}
        self.strs: dict[str, tuple[npt.NDArray[np.int64], list[pa.Array]]] = {}
        #: rows with a value out of its column's range (left null there): malformed
        self.out_of_range = np.zeros(n, bool)

    def set_int(self, name: str, rows: I64, values: I64) -> None:
        if name not in self.ints:
            self.ints[name] = (np.zeros(self.n, np.int64), np.zeros(self.n, bool))
        vals, valid = self.ints[name]
        vals[rows] = values
        valid[rows] = True

    def set_str(self, name: str, rows: I64, values: pa.Array, index: I64 | None = None) -> None:
        """Row ``rows[i]`` gets ``values[index[i]]`` (``values[i]`` without an index)."""
        if name not in self.strs:
            self.strs[name] = (np.full(self.n, -1, np.int64), [])
        idx, parts = self.strs[name]
        base = sum(len(p) for p in parts)
        idx[rows] = base + (np.arange(len(rows)) if index is None else index)
        parts.append(values)

    def int_array(self, name: str, typ: pa.DataType) -> pa.Array:
        if name not in self.ints:
            return pa.nulls(self.n, typ)
        vals, valid = self.ints[name]
        if pa.types.is_unsigned_integer(typ):
            return pa.array(vals.view(np.uint64), type=typ, mask=~valid)
        if typ.bit_width < 64:
            lim = 1 << (typ.bit_width - 1)
            wide = valid & ((vals < -lim) | (vals >= lim))
            if wide.any():
                self.out_of_range |= wide
                valid = valid & ~wide
                vals = np.where(wide, 0, vals)
        return pa.array(vals, mask=~valid).cast(typ)

    def str_array(self, name: str) -> pa.Array:
        if name not in self.strs:
            return pa.nulls(self.n, pa.string())
        idx, parts = self.strs[name]
        values = pa.concat_arrays([p.cast(pa.string()) for p in parts])
        return values.take(pa.array(idx, mask=idx < 0))


def decode(buf: U8, off: I64, ev_id: I64, ts: I64, cpu: I64, formats: dict[int, EventFormat],
           comms: dict[int, str], big_endian: bool = False, *,
           names: dict[int, str] | None = None) -> tuple[pa.Table, BOOL]:
    """Rows in the given order (``seq`` = position) as an EVENT_SCHEMA table, built as
    Arrow arrays directly: sparse columns carry validity masks, and string columns are
    gathered from their few distinct values. Also the rows with a field value beyond
    its column's type (null there): malformed records.

    ``names``: the event names of IDs without a format (perf.data samples of other
    events than tracepoints, which have no fields); others are ``unknown_event_ID``."""
    n = len(off)
    pid = np.zeros(n, np.int64)
    cols = _Sparse(n)
    ids, codes = _dense_codes(ev_id)
    names = names or {}
    id_names = [formats[int(i)].name if int(i) in formats
                else names.get(int(i), f"unknown_event_{int(i)}") for i in ids]
    order = np.argsort(codes.astype(np.uint16) if len(ids) < 1 << 16 else codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(ids) + 1))
    alloc_rows = np.zeros(0, np.int64)
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
        if fmt.name == "mm_page_alloc":
            alloc_rows = np.concatenate([alloc_rows, sel])
        for src, dst in _INT_FIELDS.items():
            f = fmt.fields.get(src)
            if f is None or f.array is not None:
                continue
            cols.set_int(dst, sel, read_int(buf, o, f, big_endian))
        for src in ("prev_comm", "next_comm"):
            f = fmt.fields.get(src)
            if f is not None:
                cols.set_str(src, sel, pa.array(read_str(buf, o, f)))
        if fmt.name == "mm_page_alloc" and "gfp_flags" in fmt.fields:
            raw = read_int(buf, o, fmt.fields["gfp_flags"], big_endian).astype(np.uint64)
            table = fmt.flag_table("gfp_flags") or []
            uniq, inv = _dense_codes(raw)
            text = [format_flags(int(u), table) if table else f"0x{int(u):x}"
                    for u in uniq]  # per distinct value, not event
            cols.set_str("gfp_flags", sel, pa.array(text, pa.string()), inv.ravel())
        if fmt.name == "mm_page_free_batched" and "order" not in fmt.fields:
            cols.set_int("order", sel, np.zeros(len(sel), np.int64))
    if "pfn" in cols.ints and len(alloc_rows):
        # the kernel prints a failed allocation's pfn (-1UL) as 0
        vals, valid = cols.ints["pfn"]
        failed = alloc_rows[valid[alloc_rows] & (vals[alloc_rows] == -1)]
        vals[failed] = 0
    uniq_pids, pid_code = _dense_codes(pid)
    comm = pa.array([comms.get(int(p), "<idle>" if p == 0 else "<...>") for p in uniq_pids],
                    pa.string()).take(pa.array(pid_code))
    arrays = {
        "ts": pa.array(ts, pa.int64()),
        "cpu": pa.array(cpu.astype(np.int32)),
        "seq": pa.array(np.arange(n, dtype=np.int64)),
        "pid": pa.array(pid.astype(np.int32)),
        "comm": comm,
        "event": pa.array(id_names, pa.string()).take(pa.array(codes.ravel())),
    }
    for field in schema.EVENT_SCHEMA:
        if field.name in arrays:
            continue
        if pa.types.is_string(field.type):
            arrays[field.name] = cols.str_array(field.name)
        else:
            arrays[field.name] = cols.int_array(field.name, field.type)
    return pa.Table.from_arrays([arrays[f.name] for f in schema.EVENT_SCHEMA],
                                schema=schema.EVENT_SCHEMA), cols.out_of_range
