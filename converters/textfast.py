"""A compiled fast path for the event lines of tracefs, ``trace-cmd report`` and
``perf script`` text.

The Polars string expressions of :mod:`converters.textbase` cost about 2.4 µs per
line, which caps text conversion near 0.4 M events/s. This module scans a chunk's
bytes once with a Numba-compiled kernel that reads the same fields by the same rules
(the anchor ``[CPU] [flags] SEC.FRAC: event:`` or perf's ``[CPU] SEC.FRAC: [period]
system:event:``, the ``comm-pid`` or ``comm pid[/tid]`` head, and each event's
``key=value`` fields, leftmost match first, as the regular expressions do).

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

import gc
import os
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from xpfotrace import schema

#: The kernel's offsets are 32-bit: larger chunks take the Polars path.
MAX_CHUNK = (1 << 31) - 1

#: A chunk's rows before numbering: EVENT_SCHEMA without ``seq``, with the line number.
ROWS_SCHEMA = pa.schema([f for f in schema.EVENT_SCHEMA if f.name != "seq"]
                        + [pa.field("ln", pa.int32(), nullable=False)])

_ready = False  # the kernel is loaded
_failed = False  # it cannot be (no Numba, or it failed to compile)
_loading = threading.Lock()  # the two parsing threads ask at once: one loads


def _disabled() -> bool:
    return os.environ.get("XPFOTRACE_NO_JIT", "") not in ("", "0")


def available() -> bool:
    """True when the compiled kernel can be used (Numba importable, not disabled)."""
    return _get()


def _get() -> bool:
    """Load the kernel on first use; whether it is loaded."""
    global _ready, _failed
    if _ready or _failed or _disabled():
        return _ready
    with _loading:
        if not _ready and not _failed:
            _ready = _load()
            _failed = not _ready
    return _ready


def _load() -> bool:
    # importing Numba makes some 10^5 objects: the full collections they would set off
    # take ~0.1 s and find nothing, so the collector waits until it is done
    collecting = gc.isenabled()
    gc.disable()
    try:
        import numba

        if getattr(numba.config, "DISABLE_JIT", False):  # the loops would run as Python
            return False
        # the first calls compile the kernel, or load it from Numba's cache
        parse(b"a-1 [0] 1.5: tlb_flush: pages:1 (0)\nb")
        parse(b"a 1 [0] 1.5: tlb:tlb_flush: pages:1 (0)\nb", 1)
        return True
    except ImportError:  # no numba: the Polars path serves
        return False
    except Exception as exc:  # a numba that cannot compile it: say so, then the same
        warnings.warn(f"xpfotrace: the compiled text parser is unavailable ({exc}); "
                      "text traces are read by the slower Polars path",
                      RuntimeWarning, stacklevel=3)
        return False
    finally:
        if collecting:
            gc.enable()


#: Text of at least this size is worth a first compile of the kernel (about 10 s, once per
#: install); smaller inputs take the Polars path until the kernel is in Numba's cache.
COMPILE_MIN_BYTES = 256 << 20


def wanted(text_bytes: int) -> bool:
    """Whether to read about ``text_bytes`` of text with the kernel: always once it is
    compiled; a first compile only for inputs where it pays for itself."""
    if _ready:
        return True
    if _failed or _disabled():
        return False
    return text_bytes >= COMPILE_MIN_BYTES or not will_compile()


def will_compile() -> bool:
    """True when the next use compiles the kernel (no Numba cache of it yet: about
    10 s, once per install)."""
    if _ready or _failed or _disabled():
        return False
    try:
        from . import _textkernel as K

        funcs: tuple[Any, ...] = (K.scan, K.lines, K.count_lines, K.gather)
        return not all(os.path.exists(f._cache._cache_file._index_path) for f in funcs)
    except Exception:  # no numba, or its cache layout changed: nothing to tell
        return False


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
    from . import _textkernel as K

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
