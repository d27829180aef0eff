"""What the binary readers share: reading a (possibly compressed) file whole, and turning
format errors into one-line InputErrors with the byte offset."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import cast

import pyarrow as pa

from xpfotrace.errors import InputError
from xpfotrace.traceinfo import TraceInfo

from .compression import CountingReader


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
            data = b"".join(iter(lambda: reader.read(1 << 24), b""))
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
