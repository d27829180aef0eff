"""A loaded trace: its events as a Polars DataFrame plus its TraceInfo."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import stat
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa

from .converters import open_trace
from .converters.compression import read_head
from .core import arrowops, schema
from .core.errors import InputError, UsageError
from .core.reading import DEFAULT_CHUNK_BYTES, ProgressFn
from .core.traceinfo import TraceInfo

log = logging.getLogger("xpfotrace")

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
        codes = {c: codes_of(self.df.get_column(c)) for c in CODED_COLUMNS
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
    # through the converters' opener: a pipe's first bytes stay readable after this
    from .converters.compression import raw_head

    try:
        return raw_head(path, 4) == b"PAR1"
    except InputError:
        return False


def _is_stream(path: str) -> bool:
    """A pipe, FIFO or device rather than a regular file (read once, as a stream)."""
    from .converters.compression import os_path

    try:
        return not stat.S_ISREG(os.stat(os_path(path)).st_mode)
    except OSError:
        return False


def read_parquet(path: str) -> Trace:
    """A Parquet file written by ``xpfotrace convert`` (from a pipe: read whole first)."""
    import pyarrow.parquet as pq  # not needed to read a raw trace

    from .converters.compression import read_all

    data = read_all(path) if _is_stream(path) else None

    def source() -> str | pa.BufferReader:
        return path if data is None else pa.BufferReader(data)

    try:
        pf = pq.ParquetFile(source())
        raw = pf.metadata.metadata or {}
        missing = [c for c in ("ts", "cpu", "seq", "event") if c not in pf.schema_arrow.names]
        if missing:
            raise InputError(path, f"not an xpfotrace Parquet file (no column {missing[0]!r})")
        _check_types(path, pf.schema_arrow)
        # the pages' checksums are verified by pyarrow first: Polars' reader, which makes
        # the frame, checks none, and can panic on a damaged page
        _verify_checksums(source())
        # the frame from Polars' own reader (no Arrow-to-Polars string conversion); the
        # coded columns once more as dictionaries (only their small pages)
        df = pl.read_parquet(path if data is None else io.BytesIO(data))
        # columns stored as dictionaries for other readers (Categorical) are strings here
        cats = [n for n, t in df.schema.items() if isinstance(t, pl.Categorical | pl.Enum)]
        if cats:
            df = df.with_columns(pl.col(c).cast(pl.String) for c in cats)
        coded = [c for c in CODED_COLUMNS if c in pf.schema_arrow.names]
        dicts = pq.ParquetFile(source(), read_dictionary=coded).read(columns=coded)
        codes = {name: _codes(dicts.column(name)) for name in coded}
    except (pa.ArrowException, OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(path, f"unreadable Parquet file ({_first_line(exc)})") from None
    except BaseException as exc:  # a Rust panic in Polars' reader (a PanicException, which
        if type(exc).__name__ != "PanicException":  # is no Exception) on damaged data
            raise
        raise InputError(path, "unreadable Parquet file (its reader failed on damaged "
                         "data)") from None
    info = _info_from_metadata(path, raw)
    df = _checked_values(path, df)
    missing = [f.name for f in schema.EVENT_SCHEMA if f.name not in df.columns]
    if missing:  # all null, of the schema's type (an untyped null column has no values)
        df = df.with_columns(pl.lit(None, dtype=_POLARS_TYPES[m]).alias(m) for m in missing)
    if info.cpus_header is None and df.height:
        info.max_cpu = int(df.select(pl.col("cpu").max()).item())
    return Trace(df=df, info=info, codes=codes)


def _verify_checksums(source: str | pa.BufferReader) -> None:
    """Read every page with CRC verification (pages written without a CRC pass), in
    batches: no table is kept."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(source, page_checksum_verification=True)
    for _ in pf.iter_batches(batch_size=1 << 20):
        pass


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: No kernel numbers CPUs this high (NR_CPUS is at most 8192): a larger CPU count in the
#: metadata is corruption (the bound traceinfo uses for CPU numbers).
_MAX_CPUS = 1 << 16

#: Polars types of the event schema's columns.
_POLARS_TYPES = pl.DataFrame(schema.EVENT_SCHEMA.empty_table()).schema

_WHOLE_NUMBER_KEYS = (schema.META_LOST, schema.META_EVENTS, schema.META_SKIPPED,
                      schema.META_OUT_OF_ORDER, schema.META_MISSED_PAGES)
#: capture's kernel CPU time of the traced window, which ``compare`` reads (may be empty)
_BASELINE_KEY = schema.META_PREFIX + "baseline_sys_ns"


def _info_from_metadata(path: str, raw: dict[bytes, bytes]) -> TraceInfo:
    """The TraceInfo of the file's key-value metadata; a malformed value of a key that
    xpfotrace reads is an input error naming the key."""
    try:
        meta = {k.decode(): v.decode() for k, v in raw.items()}
    except UnicodeDecodeError:
        raise InputError(path, "Parquet metadata is not valid UTF-8") from None

    def bad(key: str, want: str) -> InputError:
        value = meta[key] if len(meta[key]) <= 40 else meta[key][:40] + "..."
        return InputError(path, f"bad metadata {key}={value!r}: expected {want}")

    for key in _WHOLE_NUMBER_KEYS:
        if key in meta and not re.fullmatch(r"[0-9]+", meta[key]):
            raise bad(key, "a whole number, not negative")
    if meta.get(_BASELINE_KEY) and not re.fullmatch(r"[0-9]+", meta[_BASELINE_KEY]):
        raise bad(_BASELINE_KEY, "a whole number of ns, not negative")
    cpus = meta.get(schema.META_CPUS)
    if cpus and not (re.fullmatch(r"[0-9]+", cpus) and 1 <= int(cpus) <= _MAX_CPUS):
        raise bad(schema.META_CPUS, f"a CPU count from 1 to {_MAX_CPUS}")
    if schema.META_FIRST_TS in meta:
        try:
            first = json.loads(meta[schema.META_FIRST_TS])
        except ValueError:
            first = None
        if not (isinstance(first, dict) and all(
                re.fullmatch(r"[0-9]+", k) and isinstance(v, int) and not isinstance(v, bool)
                for k, v in first.items())):
            raise bad(schema.META_FIRST_TS, 'a JSON object {"cpu": first timestamp}')
    try:
        return TraceInfo.from_metadata(meta)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:  # a key checked above
        raise InputError(path, f"bad xpfotrace metadata ({_first_line(exc)})") from None


def _checked_values(path: str, df: pl.DataFrame) -> pl.DataFrame:
    """The frame with integer columns in the schema's types; a value the replay cannot
    take (null ts, cpu, seq or event; a negative CPU; an integer beyond its column's
    type) is an input error naming the column and the first row."""
    for name in ("ts", "cpu", "seq", "event"):
        col = df.get_column(name)
        if col.null_count():
            row = int(col.is_null().arg_true()[0])
            raise InputError(path, f"column {name!r} is null in {col.null_count():,} row(s), "
                             f"first in row {row}")
    casts = {}
    for name in df.columns:
        want = _POLARS_TYPES.get(name)
        if want is not None and want.is_integer() and df.schema[name] != want:
            casts[name] = want
    for name, want in casts.items():
        col = df.get_column(name)
        try:
            col.cast(want, strict=True)
        except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
            raise InputError(path, f"column {name!r} has values out of range of "
                             f"{want}") from None
    if casts:
        df = df.with_columns(pl.col(n).cast(t) for n, t in casts.items())
    if df.height:
        cpu = df.get_column("cpu")
        if cpu.min() < 0:  # type: ignore[operator]
            row = int((cpu < 0).arg_true()[0])
            raise InputError(path, f"negative CPU {cpu[row]} in row {row}")
    else:
        raise InputError(path, "no trace events (the Parquet file has no rows)")
    return df


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


def _indices(arr: pa.DictionaryArray) -> npt.NDArray[np.int32]:
    """A dictionary array's indices as int32, -1 where null (from its buffers: Arrow's
    ``fill_null`` would load ``pyarrow.compute``)."""
    ind = arr.indices
    n, off = len(ind), ind.offset
    width = ind.type.bit_width // 8
    raw = np.frombuffer(ind.buffers()[1], dtype=f"<i{width}", count=n + off)[off:]
    out = raw.astype(np.int32)  # (a copy: the result is the caller's to change)
    if ind.null_count:
        bits = np.frombuffer(ind.buffers()[0], np.uint8)
        valid = np.unpackbits(bits, bitorder="little", count=n + off)[off:].view(np.bool_)
        out[~valid] = -1
    return out


def _codes(col: pa.ChunkedArray) -> Codes:
    """Codes of a dictionary-encoded column (one dictionary for all its chunks)."""
    if not pa.types.is_dictionary(col.type):
        return _encoded(col)
    col = col.unify_dictionaries()
    chunks = col.chunks
    values = chunks[0].dictionary.to_pylist() if chunks else []
    idx = [_indices(c) for c in chunks]
    return Codes(np.concatenate(idx) if idx else np.zeros(0, np.int32), values)


def _encoded(col: pa.Array | pa.ChunkedArray) -> Codes:
    """Codes of a plain string column: the values in order of first appearance, -1 for
    a null (Arrow's dictionary encoding, the null encoded in its place, then taken out)."""
    enc = arrowops.dictionary_encode(col)
    chunks = enc.chunks if isinstance(enc, pa.ChunkedArray) else [enc]
    values: list[str | None] = chunks[0].dictionary.to_pylist() if chunks else []
    idx = np.concatenate([_indices(c) for c in chunks]) if chunks else np.zeros(0, np.int32)
    if None in values:  # (its index out: -1, the values after it one down)
        k = values.index(None)
        idx = np.where(idx == k, -1, idx - (idx > k)).astype(np.int32)
    return Codes(idx, [v for v in values if v is not None])


def codes_of(column: pl.Series) -> Codes:
    """Codes of a string column, computed: what a Parquet file's dictionary pages give
    (the values in order of first appearance, -1 for a null)."""
    return _encoded(column.to_arrow())


def read_trace(path: str, fmt: str | None = None, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
               progress: ProgressFn | None = None, trust_cpus: bool = False,
               buffer: str | None = None) -> Trace:
    """Any supported input: a converted Parquet file or a raw trace (converted in memory).

    Events on implausible CPU numbers are set aside with a warning
    (``converters/sanity.py``) unless ``trust_cpus``; a Parquet file is read as
    converted. ``buffer`` chooses one trace buffer (tracefs instance) of a trace.dat
    file that holds several (``"top"``: the top level); a Parquet file converted from
    another buffer is refused.
    """
    path = str(path)
    if fmt in (None, "parquet") and is_parquet(path):
        tr = read_parquet(path)
        recorded = tr.info.extra.get("buffer", "top")
        if buffer is not None and (buffer or "top") != recorded:
            raise UsageError(f"{path}: converted from trace buffer {recorded!r}, "
                             f"not {buffer!r}")
    else:
        if fmt is None:
            read_head(path, 1)  # clear error for missing / unreadable files
        tables, info = open_trace(path, fmt, chunk_bytes=chunk_bytes, progress=progress,
                                  trust_cpus=trust_cpus, buffer=buffer)
        df = pl.from_arrow(pa.concat_tables(list(tables)))
        assert isinstance(df, pl.DataFrame)
        tr = Trace(df=df, info=info)
    # what the CLI prints as warnings reaches library users through logging too
    for text in tr.info.warnings():
        log.warning("%s: %s", path, text)
    return tr


def load(path: str, fmt: str | None = None, *, buffer: str | None = None) -> pl.LazyFrame:
    """The events of any supported input as a LazyFrame (Parquet is scanned lazily;
    ``buffer`` as for :func:`read_trace`)."""
    if (fmt in (None, "parquet") and buffer is None and is_parquet(str(path))
            and not _is_stream(str(path))):
        return pl.scan_parquet(str(path))
    return read_trace(path, fmt, buffer=buffer).df.lazy()
