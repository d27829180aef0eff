"""What the binary readers share: reading a (possibly compressed) file whole, and turning
format errors into one-line InputErrors with the byte offset."""

from __future__ import annotations

from collections.abc import Callable, Iterator

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
        data = b"".join(iter(lambda: reader.read(1 << 24), b""))
    try:
        yield convert(data, info)
    except BinaryFormatError as exc:
        raise InputError(path, str(exc), offset=exc.offset) from None
