"""What the binary readers share: reading a (possibly compressed) file whole, and turning
format errors into one-line InputErrors with the byte offset."""

from __future__ import annotations

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


def binary_tables(path: str, info: TraceInfo,
                  convert: Callable[[bytes, TraceInfo], pa.Table]) -> Iterator[pa.Table]:
    """One table: ``convert`` applied to the whole file (.zst/.gz/.xz decompressed first)."""
    with CountingReader(path) as reader:
        data: bytes | bytearray
        if reader.compression is None:  # one read into memory of the file's size
            data = bytearray(reader.raw_size)
            got = reader.read_into(memoryview(data))
            del data[got:]  # in place (a file that shrank meanwhile); a slice would copy
        else:
            data = b"".join(iter(lambda: reader.read(1 << 24), b""))
    try:
        # a bytearray serves the readers as bytes do (slices, struct, numpy views)
        yield convert(cast(bytes, data), info)
    except BinaryFormatError as exc:
        raise InputError(path, str(exc), offset=exc.offset) from None
