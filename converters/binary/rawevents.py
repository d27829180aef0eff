"""Raw tracepoint payloads (trace.dat records, perf.data PERF_SAMPLE_RAW) to the event schema.

Fields are located with the event format texts, so any kernel's layout works;
each field is gathered for all records of an event at once with numpy, or the integer
fields of every record in one compiled pass (``xpfotrace.converters.binary._cbin``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from xpfotrace.core import schema

from .binfile import cbin, native
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
    got = (cbin.gather(buf, at, f.size, f.signed, big_endian)
           if native() and f.size in (1, 2, 4, 8) and at.dtype == np.int64 else None)
    if got is not None:
        return got
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
    """A fixed-size char array field (comm names) of each record, NULs at the end dropped;
    invalid UTF-8 replaced by U+FFFD."""
    raw = np.ascontiguousarray(buf[(off + f.offset)[:, None] + np.arange(f.size)])
    fixed = raw.view(f"S{f.size}").ravel()
    try:  # ASCII, nearly always: the same as the UTF-8 decoding below, without loading
        return fixed.astype(f"U{f.size}")  # numpy.char (about 25 ms)
    except UnicodeDecodeError:
        return np.char.decode(fixed, "utf-8", errors="replace")


def _small(values: np.ndarray) -> bool:
    """Non-negative ints below 2^20 (a table of them is small)."""
    return (values.dtype.kind in "iu" and bool(len(values)) and int(values.min()) >= 0
            and int(values.max()) < 1 << 20)


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values, as ``np.unique(values)``, without sorting them all
    when they are small non-negative ints (event IDs, pids): by a table."""
    if _small(values):
        return np.flatnonzero(np.bincount(values.astype(np.int64)) > 0).astype(values.dtype)
    return np.unique(values)


def dense_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, each value's index among them), like ``np.unique(...,
    return_inverse=True)`` but without sorting every value: a table for small
    non-negative ranges, else a hash unique and a search among the few distinct ones."""
    if not len(values):
        return values[:0], np.zeros(0, np.int64)
    if _small(values):
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
        """The column as ``typ`` (int64 values, or u64 bits for an unsigned type; a
        value beyond a narrower type is null, and its row counted out of range)."""
        if name not in self.ints:
            return pa.nulls(self.n, typ)
        vals, valid = self.ints[name]
        if pa.types.is_unsigned_integer(typ):
            data = vals.view(np.uint64)
        else:
            if typ.bit_width < 64:
                lim = 1 << (typ.bit_width - 1)
                wide = valid & ((vals < -lim) | (vals >= lim))
                if wide.any():
                    self.out_of_range |= wide
                    valid = valid & ~wide
            data = vals.astype(typ.to_pandas_dtype(), copy=False)  # (nulls: any bits)
        # the Arrow buffers directly: the validity bitmap, and the values
        valid_count = int(np.count_nonzero(valid))
        bitmap = (None if valid_count == self.n
                  else pa.py_buffer(np.packbits(valid, bitorder="little")))
        return pa.Array.from_buffers(typ, self.n, [bitmap, pa.py_buffer(data)],
                                     null_count=self.n - valid_count)

    def str_array(self, name: str) -> pa.Array:
        if name not in self.strs:
            return pa.nulls(self.n, pa.string())
        idx, parts = self.strs[name]
        values = pa.concat_arrays([as_string(p) for p in parts])
        return take_strings(values, idx)


def _wanted(fmt: EventFormat) -> bool:
    """Events whose fields (not only common_pid) are columns."""
    return fmt.name in _PAGE_EVENTS or fmt.name in ("sched_switch", "tlb_flush")


#: Events whose rows are needed one by one besides their integer fields: strings, gfp
#: text, a failed allocation's pfn, a batched free's order.
_NEED_ROWS = ("sched_switch", "mm_page_alloc", "mm_page_free_batched")
_GFP_RAW = "gfp_flags"


def _native_ints(buf: U8, off: I64, codes: I64, ids: np.ndarray,
                 formats: dict[int, EventFormat], big_endian: bool,
                 given_pid: bool) -> dict[str, tuple[I64, BOOL]] | None:
    """What the numpy loop of :func:`decode` reads per event ID with :func:`read_int`
    (common_pid, the integer columns and mm_page_alloc's raw gfp_flags), read by
    :func:`_cbin.read_fields` in one pass over the records: per column
    (``"pid"``, the columns, ``"gfp_flags"``: raw), values and where they were read.
    None when a field is not a plain 1/2/4/8-byte one, or lies outside the buffer (the
    numpy loop then runs, and raises as it does)."""
    names = ["pid", *_INT_FIELDS.values(), _GFP_RAW]
    present: dict[str, int] = {}
    spec: list[tuple[int, int, int, int]] = []
    starts = [0]
    for eid in ids:
        fmt = formats.get(int(eid))
        fields: list[tuple[str, Field]] = []
        if fmt is not None:
            if "common_pid" in fmt.fields and not given_pid:
                fields.append(("pid", fmt.fields["common_pid"]))
            if _wanted(fmt):
                fields += [(dst, f) for src, dst in _INT_FIELDS.items()
                           if (f := fmt.fields.get(src)) is not None and f.array is None]
                if fmt.name == "mm_page_alloc" and "gfp_flags" in fmt.fields:
                    fields.append((_GFP_RAW, fmt.fields["gfp_flags"]))
        for name, f in fields:
            if f.size not in (1, 2, 4, 8) or not 0 <= f.offset < 1 << 31:
                return None
            col = present.setdefault(name, len(present))
            spec.append((col, f.offset, f.size, int(f.signed)))
        starts.append(len(spec))
    if off.ndim != 1 or off.dtype != np.int64:
        return None
    got = cbin.read_fields(buf, np.ascontiguousarray(off),
                           np.ascontiguousarray(codes, dtype=np.int64),
                           np.array(starts, np.int64),
                           np.array(spec, np.int64).reshape(-1, 4), len(present), big_endian)
    if got is None:
        return None
    values, valid = got
    return {name: (values[present[name]], valid[present[name]].view(bool))
            for name in names if name in present}


def as_string(a: pa.Array) -> pa.Array:
    """``a`` as ``pa.string()``: cast only when it is not one (a cast loads
    ``pyarrow.compute``, a twentieth of a conversion's time)."""
    return a if a.type == pa.string() else a.cast(pa.string())


def take_strings(values: pa.Array, idx: I64) -> pa.Array:
    """``values.take(idx)``, null where ``idx`` is negative, as a string array: built by
    the compiled loop (pyarrow's take when that cannot, or without it)."""
    if native() and idx.ndim == 1 and idx.dtype == np.int64 and len(values) \
            and values.type == pa.string() and not values.null_count:
        bufs = values.buffers()
        offsets = np.frombuffer(bufs[1], np.int32, count=len(values) + 1,
                                offset=values.offset * 4)
        data = np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
        got = cbin.take_strings(offsets, data, idx)
        if got is not None:
            out_off, out_data, validity, nulls = got
            return pa.Array.from_buffers(
                pa.string(), len(idx),
                [None if validity is None else pa.py_buffer(validity), pa.py_buffer(out_off),
                 pa.py_buffer(out_data)], null_count=nulls)
    taken: pa.Array = values.take(pa.array(idx, mask=idx < 0))
    return taken


def decode(buf: U8, off: I64, ev_id: I64, ts: I64, cpu: I64, formats: dict[int, EventFormat],
           comms: dict[int, str], big_endian: bool = False, *,
           names: dict[int, str] | None = None, pid: I64 | None = None,
           comm: pa.Array | None = None) -> tuple[pa.Table, BOOL]:
    """Rows in the given order (``seq`` = position) as an EVENT_SCHEMA table, built as
    Arrow arrays directly: sparse columns carry validity masks, and string columns are
    gathered from their few distinct values. Also the rows with a field value beyond
    its column's type (null there): malformed records.

    ``names``: the event names of IDs without a format (perf.data samples of other
    events than tracepoints, which have no fields); others are ``unknown_event_ID``.
    ``pid`` and ``comm``, when given, are those columns (else each record's common_pid,
    and its name in ``comms``)."""
    n = len(off)
    given_pid = pid is not None
    pid = np.zeros(n, np.int64) if pid is None else pid
    cols = _Sparse(n)
    ids, codes = dense_codes(ev_id)
    names = names or {}
    id_names = [formats[int(i)].name if int(i) in formats
                else names.get(int(i), f"unknown_event_{int(i)}") for i in ids]
    fast = (_native_ints(buf, off, codes, ids, formats, big_endian, given_pid)
            if native() else None)
    if fast is not None:  # the integer fields read in one compiled pass
        for name, (vals, valid) in fast.items():
            if name == "pid":
                pid = vals
            else:
                cols.ints[name] = (vals, valid)

        def rows_of(k: int) -> I64:
            out: I64 = np.flatnonzero(codes == k)
            return out
    else:
        order = np.argsort(codes.astype(np.uint16) if len(ids) < 1 << 16 else codes,
                           kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(ids) + 1))

        def rows_of(k: int) -> I64:
            out: I64 = order[bounds[k]:bounds[k + 1]]
            return out
    alloc_rows = np.zeros(0, np.int64)
    for k, eid in enumerate(ids):
        fmt = formats.get(int(eid))
        if fmt is None:
            continue
        wanted = _wanted(fmt)
        if fast is not None and not (wanted and fmt.name in _NEED_ROWS):
            continue  # (all its fields are read)
        sel = rows_of(k)
        o = off[sel]
        if fast is None and "common_pid" in fmt.fields and not given_pid:
            pid[sel] = read_int(buf, o, fmt.fields["common_pid"], big_endian)
        if not wanted:
            continue
        if fmt.name == "mm_page_alloc":
            alloc_rows = np.concatenate([alloc_rows, sel])
        for src, dst in _INT_FIELDS.items():
            f = fmt.fields.get(src)
            if fast is not None or f is None or f.array is not None:
                continue
            cols.set_int(dst, sel, read_int(buf, o, f, big_endian))
        for src in ("prev_comm", "next_comm"):
            f = fmt.fields.get(src)
            if f is not None:
                cols.set_str(src, sel, pa.array(read_str(buf, o, f)))
        if fmt.name == "mm_page_alloc" and "gfp_flags" in fmt.fields:
            raw = (fast["gfp_flags"][0][sel] if fast is not None
                   else read_int(buf, o, fmt.fields["gfp_flags"], big_endian)).astype(np.uint64)
            table = fmt.flag_table("gfp_flags") or []
            uniq, inv = dense_codes(raw)
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
    if comm is None:
        uniq_pids, pid_code = dense_codes(pid)
        comm = take_strings(pa.array([comms.get(int(p), "<idle>" if p == 0 else "<...>")
                                      for p in uniq_pids], pa.string()), pid_code)
    arrays = {
        "ts": pa.array(ts, pa.int64()),
        "cpu": pa.array(cpu.astype(np.int32)),
        "seq": pa.array(np.arange(n, dtype=np.int64)),
        "pid": pa.array(pid.astype(np.int32)),
        "comm": comm,
        "event": take_strings(pa.array(id_names, pa.string()), codes.ravel()),
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
