"""What the binary readers share: reading a (possibly compressed) file whole, and turning
format errors into one-line InputErrors with the byte offset."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from typing import cast

import pyarrow as pa

from xpfotrace.core.errors import InputError
from xpfotrace.core.traceinfo import TraceInfo

from ..compression import CountingReader

__all__ = ["DECODE_ERRORS", "MAX_RATIO", "MIN_LIMIT", "BinaryFormatError", "binary_tables",
           "cbin", "native"]

try:  # the compiled loops (setup.py; optional: without them the numpy paths run)
    from . import _cbin as cbin
except ImportError:  # pragma: no cover (an install without a C compiler)
    cbin = None  # type: ignore[assignment]


def native() -> bool:
    """Whether the binary readers take their fast paths: the compiled loops
    (:mod:`xpfotrace.converters.binary._cbin`, as ``binfile.cbin``) and trace.dat's zstd chunks
    decompressed on all CPUs at once. They do when the loops are built and
    ``XPFOTRACE_NO_NATIVE`` is not set (or is "", "0", or "text": the text kernel only);
    with "1" (all compiled code) or "binary" the numpy paths run
    (and chunks are decompressed one by one), which give the same results."""
    return cbin is not None and os.environ.get("XPFOTRACE_NO_NATIVE", "") in ("", "0", "text")


class BinaryFormatError(Exception):
    """A malformed binary trace; ``offset`` is the byte offset (of the decompressed data)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


#: What decoding corrupt binary data can raise where a reader does not check a field
#: (a value out of its type's range, an index or length beyond the data): the input's
#: fault, so an input error naming the file, not an internal one.
DECODE_ERRORS = (struct.error, IndexError, ValueError, OverflowError, UnicodeDecodeError,
                 pa.ArrowException)


#: A compressed binary trace may decompress to this many times its size (real ones: 5 to
#: 50), and always to 1 GiB; beyond both it is a decompression bomb, not a trace.
MAX_RATIO = 1000
MIN_LIMIT = 1 << 30


def _memory_limit() -> int:
    """Half the machine's memory: what a stream (of unknown size) may decompress to."""
    try:
        return max(MIN_LIMIT, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError):  # pragma: no cover
        return 8 << 30


def _read_bounded(reader: CountingReader) -> bytes:
    """The whole decompressed content, or an error once it passes the bomb limit."""
    limit = (_memory_limit() if reader.is_stream
             else max(MIN_LIMIT, MAX_RATIO * reader.raw_size))
    parts, total = [], 0
    while piece := reader.read(1 << 24):
        total += len(piece)
        if total > limit:
            raise InputError(reader.path, f"decompresses to more than {limit >> 20:,} MiB "
                             + ("(half this machine's memory)" if reader.is_stream else
                                f"({MAX_RATIO} times its size)")
                             + ": a decompression bomb, not a trace")
        parts.append(piece)
    return b"".join(parts)


def binary_tables(path: str, info: TraceInfo,
                  convert: Callable[[bytes, TraceInfo], pa.Table]) -> Iterator[pa.Table]:
    """One table: ``convert`` applied to the whole file (.zst/.gz/.xz decompressed first;
    a pipe read to its end)."""
    with CountingReader(path) as reader:
        data: bytes | bytearray
        if reader.compression is None and not reader.is_stream:
            data = bytearray(reader.raw_size)  # one read into memory of the file's size
            got = reader.read_into(memoryview(data))
            del data[got:]  # in place (a file that shrank meanwhile); a slice would copy
        else:
            data = _read_bounded(reader)
    try:
        # a bytearray serves the readers as bytes do (slices, struct, numpy views)
        yield convert(cast(bytes, data), info)
    except BinaryFormatError as exc:
        raise InputError(path, str(exc), offset=exc.offset) from None
    except DECODE_ERRORS as exc:
        what = info.source_format if info.source_format != "unknown" else "binary"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(path, f"malformed {what} data: a field is out of range "
                         f"({type(exc).__name__}: {detail})") from exc
