"""The trace's numeric columns as NumPy views of their Arrow chunks (no copies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from ..core.arrays import BOOL, I64


class ColumnChunk:
    """One chunk of a numeric column: its rows ``start:stop``, its values (undefined
    where null) and where it is not null (None: nowhere null), all views."""

    def __init__(self, start: int, arr: pa.Array) -> None:
        n = len(arr)
        self.start, self.stop = start, start + n
        if pa.types.is_null(arr.type):  # an untyped all-null column has no value buffer
            self.values: npt.NDArray[Any] = np.zeros(n, dtype=np.int64)
            self.valid: BOOL | None = np.zeros(n, dtype=bool)
            return
        data, bitmap = arr.buffers()[1], arr.buffers()[0]
        self.values = np.frombuffer(data, dtype=arr.type.to_pandas_dtype(),
                                    count=n + arr.offset)[arr.offset:]
        self.valid = None
        if bitmap is not None and arr.null_count:
            bits = np.unpackbits(np.frombuffer(bitmap, dtype=np.uint8), bitorder="little")
            self.valid = bits[arr.offset:arr.offset + n].view(np.bool_)


class Columns:
    """The numeric columns ``prepare`` reads, chunk by chunk.

    A Parquet file of several row groups reads as columns of several chunks; a
    contiguous copy of each (what ``to_numpy`` makes) costs fresh memory, and the
    page faults of fresh memory are a good part of a replay's time. Only the columns
    needed whole (ts, cpu) are made contiguous, once; the others are read
    through views of their chunks into the (narrower) arrays prepare keeps."""

    def __init__(self, df: pl.DataFrame) -> None:
        self.df = df
        self._whole: dict[str, npt.NDArray[Any]] = {}

    def chunks(self, name: str) -> list[ColumnChunk]:
        out, start = [], 0
        for part in self.df.get_column(name).get_chunks():
            out.append(ColumnChunk(start, part.to_arrow()))
            start += len(part)
        return out

    def whole(self, name: str) -> npt.NDArray[Any]:
        """A column without nulls as one array (a copy only if it has several chunks)."""
        if name not in self._whole:
            self._whole[name] = self.df.get_column(name).to_numpy()
        return self._whole[name]

    def test(self, name: str, fn: Callable[[npt.NDArray[Any]], BOOL]) -> BOOL:
        """``fn`` of the values where the column is not null; False where it is null."""
        out = np.empty(self.df.height, dtype=bool)
        for c in self.chunks(name):
            part = out[c.start:c.stop]
            part[:] = fn(c.values)
            if c.valid is not None:
                part &= c.valid
        return out

    def test_at(self, name: str, rows: I64,
                fn: Callable[[npt.NDArray[Any]], BOOL]) -> BOOL:
        """``test`` at the (ascending) ``rows`` only."""
        out = np.zeros(len(rows), dtype=bool)
        for c in self.chunks(name):
            lo, hi = np.searchsorted(rows, (c.start, c.stop))
            at = rows[lo:hi] - c.start
            part = fn(np.take(c.values, at))
            if c.valid is not None:
                part &= np.take(c.valid, at)
            out[lo:hi] = part
        return out

    def valid(self, name: str) -> BOOL | None:
        """Where the column is not null (None: nowhere null)."""
        chunks = self.chunks(name)
        if all(c.valid is None for c in chunks):
            return None
        out = np.ones(self.df.height, dtype=bool)
        for c in chunks:
            if c.valid is not None:
                out[c.start:c.stop] = c.valid
        return out

    def compress(self, name: str, keep: BOOL, null: int, dtype: npt.DTypeLike,
                 lo: int | None = None, hi: int | None = None) -> npt.NDArray[Any]:
        """The values of the rows where ``keep``, ``null`` where the column is null,
        clipped to ``lo`` .. ``hi`` (if given) before they are cast to ``dtype``."""
        out = np.empty(int(np.count_nonzero(keep)), dtype=dtype)
        at = 0
        for c in self.chunks(name):
            k = keep[c.start:c.stop]
            part = np.compress(k, c.values)
            if c.valid is not None:
                part[~np.compress(k, c.valid)] = null
            if lo is not None:
                np.clip(part, lo, hi, out=part)
            out[at:at + len(part)] = part
            at += len(part)
        return out
