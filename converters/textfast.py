"""A compiled fast path for tracefs and ``trace-cmd report`` event lines.

The Polars string expressions of :mod:`converters.textbase` cost about 2.4 µs per
line, which caps text conversion near 0.4 M events/s. This module scans a chunk's
bytes once with a Numba-compiled kernel that reads the same fields by the same rules
(the anchor ``[CPU] [flags] SEC.FRAC: event:``, the ``comm-pid`` head, and each
event's ``key=value`` fields, leftmost match first, as the regular expressions do).

It is deliberately partial: a line is *accepted* only when it is printable ASCII,
the anchor matches at its first ``[``, and every field the replay needs is well
formed. Everything else (headers, markers, garbage, non-ASCII names, the plugin
form of ``sched_switch``, malformed fields, numbers that could overflow) is
*rejected* and parsed by the Polars path, which stays the single definition of the
format. So the fast path can make a conversion faster but never different; the
tests compare both on real and generated lines.

Numba is imported lazily, and only here; when it is missing or
``XPFOTRACE_NO_JIT=1`` is set, :func:`available` is False and every line takes the
Polars path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from xpfotrace import schema

#: Event codes of the kernel; 0 is any other event (fields all null).
EVENTS = ("", "mm_page_alloc", "mm_page_free", "mm_page_free_batched",
          "mm_page_alloc_zone_locked", "mm_page_pcpu_drain", "sched_switch", "tlb_flush")

#: A chunk's rows before numbering: EVENT_SCHEMA without ``seq``, with the line number.
ROWS_SCHEMA = pa.schema([f for f in schema.EVENT_SCHEMA if f.name != "seq"]
                        + [pa.field("ln", pa.int64(), nullable=False)])

_kernel: Callable[..., Any] | None = None
_failed = False


def available() -> bool:
    """True when the compiled kernel can be used (Numba importable, not disabled)."""
    return _get() is not None


def _get() -> Callable[..., Any] | None:
    global _kernel, _failed
    if _kernel is None and not _failed:
        if os.environ.get("XPFOTRACE_NO_JIT", "") not in ("", "0"):
            return None
        try:
            from . import _textkernel

            # the first call compiles the kernel, or loads it from Numba's cache
            sample = np.frombuffer(b"a-1 [0] 1.5: tlb_flush: pages:1 (0)", dtype=np.uint8)
            _textkernel.scan(sample, *_textkernel.lines(sample))
        except Exception:  # numba missing, too old or broken: the Polars path serves
            _failed = True
            return None
        _kernel = _textkernel.scan
    return _kernel


class FastChunk:
    """What the kernel made of one chunk: the accepted rows as an Arrow table of
    EVENT_SCHEMA less ``seq`` (plus ``ln``), and the rejected lines for the Polars path."""

    __slots__ = ("lines", "rejected", "rejected_ln", "table")

    def __init__(self, table: pa.Table, rejected: bytes, rejected_ln: np.ndarray,
                 lines: int) -> None:
        self.table = table
        self.rejected = rejected
        self.rejected_ln = rejected_ln
        self.lines = lines


def _bitmap(valid: np.ndarray) -> tuple[pa.Buffer | None, int]:
    nulls = int(valid.size - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def _ints(values: np.ndarray, valid: np.ndarray | None, typ: pa.DataType) -> pa.Array:
    if valid is None:
        return pa.Array.from_buffers(typ, values.size, [None, pa.py_buffer(values)])
    bitmap, nulls = _bitmap(valid)
    return pa.Array.from_buffers(typ, values.size, [bitmap, pa.py_buffer(values)], nulls)


def _strings(offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    n = offsets.size - 1
    bitmap, nulls = (None, 0) if valid is None else _bitmap(valid)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data),
                                       bitmap, nulls)


def parse(buf: bytes | memoryview) -> FastChunk:
    """Scan one chunk of whole lines (no final newline); see the module text. Line
    numbers (``ln``, ``rejected_ln``) count from 0 within the chunk."""
    kernel = _get()
    assert kernel is not None, "textfast.parse called without the kernel"
    from . import _textkernel

    arr = np.frombuffer(buf, dtype=np.uint8)
    starts, ends, clean = _textkernel.lines(arr)
    (rows, ln, ev, ts, cpu, pid, pfn, pfn_ok, order, order_ok, mig, mig_ok, refill,
     refill_ok, prev_pid, next_pid, tlb_pages, tlb_pages_ok, tlb_reason, spans,
     rejected) = kernel(arr, starts, ends, clean)
    sl = slice(0, rows)
    is_switch = ev[sl] == 6
    is_tlb = ev[sl] == 7
    codes = ev[sl]
    strings = {}
    for name, col in (("comm", 0), ("event", 1), ("gfp_flags", 2), ("prev_comm", 3),
                      ("next_comm", 4)):
        s, e = spans[col, sl], spans[col + 5, sl]
        valid = s >= 0
        offsets, data = _gather(arr, s, e, valid)
        strings[name] = _strings(offsets, data, None if valid.all() else valid)
    is_page = (codes >= 1) & (codes <= 5)
    cols = {
        "ts": _ints(ts[sl], None, pa.int64()),
        "cpu": _ints(cpu[sl], None, pa.int32()),
        "pid": _ints(pid[sl], None, pa.int32()),
        "comm": strings["comm"],
        "event": strings["event"],
        "pfn": _ints(pfn[sl], pfn_ok[sl], pa.uint64()),
        "order": _ints(order[sl], order_ok[sl] & is_page, pa.int32()),
        "gfp_flags": strings["gfp_flags"],
        "migratetype": _ints(mig[sl], mig_ok[sl], pa.int32()),
        "percpu_refill": _ints(refill[sl], refill_ok[sl], pa.int32()),
        "prev_pid": _ints(prev_pid[sl], is_switch, pa.int32()),
        "prev_comm": strings["prev_comm"],
        "next_pid": _ints(next_pid[sl], is_switch, pa.int32()),
        "next_comm": strings["next_comm"],
        "tlb_pages": _ints(tlb_pages[sl], tlb_pages_ok[sl], pa.int64()),
        "tlb_reason": _ints(tlb_reason[sl], is_tlb, pa.int32()),
    }
    cols["ln"] = pa.array(ln[sl])
    table = pa.Table.from_arrays([cols[n] for n in ROWS_SCHEMA.names], schema=ROWS_SCHEMA)
    rej = rejected
    if rej.size:
        parts = [buf[starts[i]:ends[i]] for i in rej.tolist()]  # rare: headers, oddities
        rejected_bytes = b"\n".join(parts)
    else:
        rejected_bytes = b""
    return FastChunk(table, rejected_bytes, rej, starts.size)


def _gather(arr: np.ndarray, s: np.ndarray, e: np.ndarray,
            valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Arrow string buffers (int32 offsets, bytes) of the spans [s, e) of ``arr``."""
    lengths = np.where(valid, e - s, 0)
    offsets = np.zeros(lengths.size + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    from . import _textkernel
    data = _textkernel.gather(arr, s, lengths, offsets)
    return offsets, data
