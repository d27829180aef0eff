"""A loaded trace: its events as a Polars DataFrame plus its TraceInfo."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from . import schema
from .errors import InputError
from .traceinfo import TraceInfo

DEFAULT_CHUNK_BYTES = 16 << 20
ProgressFn = Callable[[int], None]

#: Columns whose dictionary codes a Parquet file gives for free (few distinct values).
CODED_COLUMNS: tuple[str, ...] = ("event", "gfp_flags")


@dataclass(frozen=True)
class Codes:
    """A string column as dictionary codes: ``values[codes[i]]`` is row i (-1: null)."""

    codes: npt.NDArray[np.int32]
    values: list[str]


@dataclass
class Trace:
    """Events in file order (``seq``) and what the converter learned about them.

    ``codes`` holds, where the reader had them at no cost (a Parquet file's dictionary
    pages), the dictionary codes of string columns, row-aligned with ``df``; the
    engine classifies events on them instead of comparing strings. A Trace built or
    filtered by hand simply has none.
    """

    df: pl.DataFrame
    info: TraceInfo
    codes: dict[str, Codes] = field(default_factory=dict)

    def with_codes(self) -> Trace:
        """This trace with its string columns' dictionary codes computed (what a Parquet
        file gives for free); the replay is the same, only faster to classify."""
        codes = {c: _codes(pa.chunked_array([self.df.get_column(c).to_arrow()]))
                 for c in CODED_COLUMNS
                 if c in self.df.columns and self.df.schema[c] == pl.String}
        return Trace(df=self.df, info=self.info, codes=codes)

    def common_window_start(self) -> int:
        """The latest first timestamp of any CPU: from there on every CPU has events."""
        firsts = self.info.cpu_first_ts or dict(
            self.df.group_by("cpu").agg(pl.col("ts").min()).iter_rows())
        return max(firsts.values()) if firsts else 0

    def trimmed(self) -> Trace:
        """The events from the common window start on (after a ring-buffer overflow)."""
        cut = self.common_window_start()
        return Trace(df=self.df.filter(pl.col("ts") >= cut), info=self.info)


def is_parquet(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PAR1"
    except OSError:
        return False


def read_parquet(path: str) -> Trace:
    """A Parquet file written by ``xpfotrace convert``."""
    try:
        pf = pq.ParquetFile(path)
        raw = pf.metadata.metadata or {}
        missing = [c for c in ("ts", "cpu", "seq", "event") if c not in pf.schema_arrow.names]
        if missing:
            raise InputError(path, f"not an xpfotrace Parquet file (no column {missing[0]!r})")
        _check_types(path, pf.schema_arrow)
        # the frame from Polars' own reader (no Arrow-to-Polars string conversion); the
        # coded columns once more as dictionaries, which reads only their small pages
        df = pl.read_parquet(path)
        coded = [c for c in CODED_COLUMNS if c in pf.schema_arrow.names]
        dicts = pq.ParquetFile(path, read_dictionary=coded).read(columns=coded)
        codes = {name: _codes(dicts.column(name)) for name in coded}
    except (pa.ArrowInvalid, OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(path, f"unreadable Parquet file ({exc})") from None
    meta = {k.decode(): v.decode() for k, v in raw.items()}
    info = TraceInfo.from_metadata(meta)
    missing = [f.name for f in schema.EVENT_SCHEMA if f.name not in df.columns]
    if missing:  # all null, of the schema's type (an untyped null column has no values)
        types = pl.DataFrame(schema.EVENT_SCHEMA.empty_table()).schema
        df = df.with_columns(pl.lit(None, dtype=types[m]).alias(m) for m in missing)
    if info.cpus_header is None and df.height:
        info.max_cpu = int(df.select(pl.col("cpu").max()).item())
    return Trace(df=df, info=info, codes=codes)


def _kind(t: pa.DataType) -> str:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    return str(t)


def _check_types(path: str, found: pa.Schema) -> None:
    """Each schema column present must hold what the schema says (integers or strings)."""
    for want in schema.EVENT_SCHEMA:
        if want.name in found.names:
            got = found.field(want.name).type
            if _kind(got) != _kind(want.type):
                raise InputError(path, f"not an xpfotrace Parquet file (column {want.name!r} "
                                       f"is {got}, expected {want.type})")


def _codes(col: pa.ChunkedArray) -> Codes:
    """Codes of a dictionary-encoded column (one dictionary for all its chunks)."""
    if not pa.types.is_dictionary(col.type):
        col = col.dictionary_encode()
    col = col.unify_dictionaries()
    chunks = col.chunks
    values = chunks[0].dictionary.to_pylist() if chunks else []
    idx = [c.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
           for c in chunks]
    return Codes(np.concatenate(idx) if idx else np.zeros(0, np.int32), values)


def read_trace(path: str, fmt: str | None = None, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
               progress: ProgressFn | None = None) -> Trace:
    """Any supported input: a converted Parquet file or a raw trace (converted in memory)."""
    # converters import xpfotrace's core types, so import them here, not at module level
    from converters import open_trace
    from converters.compression import read_head

    path = str(path)
    if fmt in (None, "parquet") and is_parquet(path):
        return read_parquet(path)
    if fmt is None:
        read_head(path, 1)  # clear error for missing / unreadable files
    tables, info = open_trace(path, fmt, chunk_bytes=chunk_bytes, progress=progress)
    table = pa.concat_tables(list(tables))
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    return Trace(df=df, info=info)


def load(path: str, fmt: str | None = None) -> pl.LazyFrame:
    """The events of any supported input as a LazyFrame (Parquet is scanned lazily)."""
    if fmt in (None, "parquet") and is_parquet(str(path)):
        return pl.scan_parquet(str(path))
    return read_trace(path, fmt).df.lazy()
