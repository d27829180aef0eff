"""A compiled fast path for the event lines of tracefs, ``trace-cmd report`` and
``perf script`` text.

The Polars string expressions of :mod:`.fields` read each line in several passes
(the README's performance section has the costs). This module scans a chunk's bytes
once with a compiled kernel (the C extension ``_ctext``, built from Cython by
``pip install``) that reads the same fields by the same rules (the
anchor ``[CPU] [flags] SEC.FRAC: event:`` or perf's ``[CPU] SEC.FRAC: [period]
system:event:``, the ``comm-pid`` or ``comm pid[/tid]`` head, and each event's
``key=value`` fields, leftmost match first, as the regular expressions do).

It is deliberately partial: a line is *accepted* only when it is printable ASCII,
the anchor matches at its first ``[``, and every field the replay needs is well
formed. Everything else (headers, markers, garbage, non-ASCII names, the plugin
form of ``sched_switch``, malformed fields, numbers that could overflow) is
*rejected* and parsed by the Polars path, which stays the single definition of the
format. So the fast path can make a conversion faster but never different; the
tests compare both on real and generated lines.

The extension is optional: when it was not built (no C compiler at install time) a
single RuntimeWarning says so and every line takes the Polars path; with
``XPFOTRACE_NO_NATIVE=1`` (all compiled code; ``=text`` this kernel only, ``=binary``
the binary readers' only) or its older name ``XPFOTRACE_NO_JIT=1`` it is not used.
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import pyarrow as pa

from xpfotrace.core import schema

#: The kernel's offsets are 32-bit: larger chunks take the Polars path.
MAX_CHUNK = (1 << 31) - 1

#: A chunk's rows before numbering: EVENT_SCHEMA without ``seq``, with the line number.
ROWS_SCHEMA = pa.schema([f for f in schema.EVENT_SCHEMA if f.name != "seq"]
                        + [pa.field("ln", pa.int32(), nullable=False)])

#: Environment variables that turn the compiled kernel off (any value but "" or "0").
DISABLE_VARS = ("XPFOTRACE_NO_NATIVE", "XPFOTRACE_NO_JIT")

_kernel: ModuleType | None = None  # the extension, once imported
_missing = False  # it cannot be imported (and that was said once)
_loading = threading.Lock()  # the two parsing threads ask at once: one imports and warns


def _disabled() -> bool:
    return any(os.environ.get(name, "") not in ("", "0", "binary") for name in DISABLE_VARS)


def _load() -> ModuleType | None:
    """The extension, imported on first use; None (after one warning) when it is missing."""
    global _kernel, _missing
    if _kernel is not None or _missing:
        return _kernel
    with _loading:
        if _kernel is None and not _missing:
            try:
                from . import _ctext
            except ImportError as exc:
                _missing = True
                warnings.warn("xpfotrace: the compiled text parser (xpfotrace.converters.text."
                              f"_ctext) is unavailable ({exc}); text traces are read by the slower "
                              "Polars path", RuntimeWarning, stacklevel=3)
            else:
                _kernel = _ctext
    return _kernel


def available() -> bool:
    """True when the compiled kernel can be used (the extension imports, not disabled)."""
    return not _disabled() and _load() is not None


def wanted(text_bytes: int) -> bool:
    """Whether to read about ``text_bytes`` of text with the kernel: whenever it is
    available (there is nothing to compile first)."""
    return available()


@dataclass(frozen=True)
class FastChunk:
    """What the kernel made of one chunk: the accepted rows as an Arrow table of
    ROWS_SCHEMA, the rejected lines (joined by newlines) and their numbers for the
    Polars path, and the chunk's number of lines."""

    table: pa.Table
    rejected: bytes
    rejected_ln: np.ndarray
    lines: int


def _empty(shape: tuple[int, ...], dtype: type[np.generic]) -> tuple[np.ndarray, pa.Buffer]:
    """An uninitialised array in Arrow's memory pool, and its buffer.

    The pool keeps memory that tables free after their write and hands it to the next
    chunk; NumPy's allocations came back as fresh pages on every chunk, and fresh
    memory is what a chunk cost most (a fault per 4 KiB page).
    """
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    buf = pa.allocate_buffer(size)
    return np.frombuffer(buf, dtype=dtype).reshape(shape), buf


def _bitmap(valid: np.ndarray) -> tuple[pa.Buffer | None, int]:
    nulls = int(valid.size - np.count_nonzero(valid))
    if nulls == 0:
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), nulls


def _column(typ: pa.DataType, buf: pa.Buffer, row: int, n: int, rows: int,
            valid: np.ndarray | None = None) -> pa.Array:
    """Row ``row`` of a matrix of ``n`` columns in ``buf``, its first ``rows`` values."""
    width = typ.bit_width // 8
    data = buf.slice(row * n * width, rows * width)
    bitmap, nulls = (None, 0) if valid is None else _bitmap(valid)
    return pa.Array.from_buffers(typ, rows, [bitmap, data], nulls)


def parse(buf: bytes | memoryview, mode: int = 0) -> FastChunk:
    """Scan one chunk of whole lines (no final newline, under 2 GiB) of tracefs or
    ``trace-cmd report`` text (``mode`` 0) or ``perf script`` text (1); see the module
    text. Line numbers (``ln``, ``rejected_ln``) count from 0 within the chunk."""
    from . import _ctext as K

    arr = np.frombuffer(buf, dtype=np.uint8)
    n = K.count_lines(arr)
    starts, _ = _empty((n,), np.int32)
    ends, _ = _empty((n,), np.int32)
    clean, _ = _empty((n,), np.bool_)
    K.lines(arr, starts, ends, clean)
    i64, i64_buf = _empty((3, n), np.int64)
    i32, i32_buf = _empty((9, n), np.int32)
    oks, _ = _empty((5, n), np.bool_)
    ev, _ = _empty((n,), np.int8)
    spans, _ = _empty((10, n), np.int32)
    rows = K.scan(mode, arr, starts, ends, clean, i64, i64[K.I64_PFN].view(np.uint64), i32, oks,
                  ev, spans)
    codes = ev[:rows]
    strings = {}
    for name, col in (("comm", K.S_COMM), ("event", K.S_EVENT), ("gfp_flags", K.S_GFP),
                      ("prev_comm", K.S_PREV_COMM), ("next_comm", K.S_NEXT_COMM)):
        s, e = spans[col], spans[col + 5]
        offsets, offsets_buf = _empty((rows + 1,), np.int32)
        total = K.gather(arr, s, e, rows, offsets, None)
        data, data_buf = _empty((total,), np.uint8)
        K.gather(arr, s, e, rows, offsets, data)
        valid = s[:rows] >= 0
        bitmap, nulls = _bitmap(valid)
        strings[name] = pa.StringArray.from_buffers(rows, offsets_buf, data_buf, bitmap, nulls)

    def i64_col(row: int, typ: pa.DataType, valid: np.ndarray | None = None) -> pa.Array:
        return _column(typ, i64_buf, row, n, rows, valid)

    def i32_col(row: int, valid: np.ndarray | None = None) -> pa.Array:
        return _column(pa.int32(), i32_buf, row, n, rows, valid)

    cols = {
        "ts": i64_col(K.I64_TS, pa.int64()),
        "cpu": i32_col(K.I32_CPU),
        "pid": i32_col(K.I32_PID),
        "comm": strings["comm"],
        "event": strings["event"],
        "pfn": i64_col(K.I64_PFN, pa.uint64(), oks[K.OK_PFN, :rows]),
        "order": i32_col(K.I32_ORDER, oks[K.OK_ORDER, :rows]),
        "gfp_flags": strings["gfp_flags"],
        "migratetype": i32_col(K.I32_MIG, oks[K.OK_MIG, :rows]),
        "percpu_refill": i32_col(K.I32_REFILL, oks[K.OK_REFILL, :rows]),
        "prev_pid": i32_col(K.I32_PREV_PID, codes == K.EV_SWITCH),
        "prev_comm": strings["prev_comm"],
        "next_pid": i32_col(K.I32_NEXT_PID, codes == K.EV_SWITCH),
        "next_comm": strings["next_comm"],
        "tlb_pages": i64_col(K.I64_TLB_PAGES, pa.int64(), oks[K.OK_TLB_PAGES, :rows]),
        "tlb_reason": i32_col(K.I32_TLB_REASON, codes == K.EV_TLB),
        "ln": i32_col(K.I32_LN),
    }
    table = pa.Table.from_arrays([cols[c] for c in ROWS_SCHEMA.names], schema=ROWS_SCHEMA)
    # the lines not accepted (rare: headers, markers, oddities)
    rejected = np.ones(n, dtype=bool)
    rejected[i32[K.I32_LN, :rows]] = False
    rej = np.flatnonzero(rejected).astype(np.int32)
    rejected_bytes = b"\n".join(buf[starts[i]:ends[i]] for i in rej.tolist())
    return FastChunk(table, rejected_bytes, rej, n)
