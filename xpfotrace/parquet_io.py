"""Writing converted traces: zstd Parquet with the TraceInfo as key-value metadata.

The file appears under its final name only when complete (``output.atomic_path``:
a temporary name in the target directory, then an atomic rename).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq

from .core import schema
from .core.output import atomic_path
from .core.traceinfo import TraceInfo

__all__ = ["ROW_GROUP_ROWS", "atomic_path", "write_events"]

#: Rows per row group: 128 Ki (DuckDB writes 122,880). The last group is encoded only once
#: the input ends, after the parsing: a smaller group shortens that tail (the README's
#: performance section has the measurement).
ROW_GROUP_ROWS = 1 << 17


#: Columns other readers get dictionary-encoded (Polars: Categorical): few distinct names.
DICTIONARY_COLUMNS: tuple[str, ...] = ("event", "comm")


def _as_read(sch: pa.Schema) -> pa.Schema:
    """The Arrow schema stored for readers: the names in DICTIONARY_COLUMNS as
    dictionaries (their Parquet pages are dictionary-encoded already)."""
    for name in DICTIONARY_COLUMNS:
        i = sch.get_field_index(name)
        sch = sch.set(i, sch.field(i).with_type(pa.dictionary(pa.int32(), pa.string())))
    return sch


def write_events(tables: Iterable[pa.Table], info: Callable[[], TraceInfo], out: str,
                 inputs: Iterable[str] = ()) -> int:
    """Write event tables to ``out``; ``info()`` is read after the last table. Returns rows.

    Row groups are encoded on a thread of their own (pyarrow releases the GIL), one at
    a time, while ``tables`` goes on producing the next one: a converter's parsing
    does not wait for the writer, and memory stays bounded by two row groups.
    """
    rows = 0
    with atomic_path(out, inputs) as tmp, ThreadPoolExecutor(max_workers=1) as pool:
        # names repeat: dictionaries; ts and seq (nearly) ascend: deltas, a third of the
        # file and a tenth of the encoding time less than zstd over plain values
        writer = pq.ParquetWriter(tmp, schema.EVENT_SCHEMA, compression="zstd",
                                  use_dictionary=["comm", "event", "gfp_flags", "prev_comm",
                                                  "next_comm"],
                                  column_encoding={"ts": "DELTA_BINARY_PACKED",
                                                   "seq": "DELTA_BINARY_PACKED"},
                                  # a CRC per page: a flipped bit is an error on reading,
                                  # not a silently different trace
                                  write_page_checksum=True)
        writing: Future[None] | None = None

        def write(table: pa.Table) -> None:
            nonlocal writing
            if writing is not None:
                writing.result()
            writing = pool.submit(writer.write_table, table, row_group_size=ROW_GROUP_ROWS)

        try:
            pending: list[pa.Table] = []
            pending_rows = 0
            for t in tables:
                pending.append(t)
                pending_rows += t.num_rows
                if pending_rows >= ROW_GROUP_ROWS:
                    # whole row groups now; the rest starts the next one (no small group
                    # in the middle of the file)
                    table = pa.concat_tables(pending)
                    full = pending_rows - pending_rows % ROW_GROUP_ROWS
                    write(table.slice(0, full))
                    rows += full
                    pending, pending_rows = [table.slice(full)], pending_rows - full
            if pending:
                write(pa.concat_tables(pending))
                rows += pending_rows
            if writing is not None:
                writing.result()
                writing = None
            meta = info().to_metadata()
            # the footer's key-value metadata, and the same in the Arrow schema it stores
            # (written when the writer opened, before the metadata was known): readers that
            # show the schema's metadata (pq.read_table(f).schema.metadata) see it too
            final = _as_read(schema.EVENT_SCHEMA).with_metadata(meta)
            writer.add_key_value_metadata({**meta, "ARROW:schema": base64.b64encode(
                final.serialize().to_pybytes()).decode("ascii")})
        finally:
            if writing is not None:  # an error on the way: let the write end first
                writing.exception()
            writer.close()
    return rows
