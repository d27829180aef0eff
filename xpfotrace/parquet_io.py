"""Writing converted traces: zstd Parquet with the TraceInfo as key-value metadata.

The file appears under its final name only when complete (temporary name in
the target directory, then an atomic rename).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq

from . import schema
from .traceinfo import TraceInfo

ROW_GROUP_ROWS = 1 << 20


@contextmanager
def atomic_path(out: str) -> Iterator[str]:
    """A temporary path beside ``out``, renamed to ``out`` if the block succeeds."""
    directory = os.path.dirname(os.path.abspath(out)) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(out) + ".", suffix=".part",
                               dir=directory)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would create it, not mkstemp's 0600
    try:
        yield tmp
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_events(tables: Iterable[pa.Table], info: Callable[[], TraceInfo], out: str) -> int:
    """Write event tables to ``out``; ``info()`` is read after the last table. Returns rows.

    Row groups are encoded on a thread of their own (pyarrow releases the GIL), one at
    a time, while ``tables`` goes on producing the next one: a converter's parsing
    does not wait for the writer, and memory stays bounded by two row groups.
    """
    rows = 0
    with atomic_path(out) as tmp, ThreadPoolExecutor(max_workers=1) as pool:
        # names repeat: dictionaries; ts and seq (nearly) ascend: deltas, a third of the
        # file and a tenth of the encoding time less than zstd over plain values
        writer = pq.ParquetWriter(tmp, schema.EVENT_SCHEMA, compression="zstd",
                                  use_dictionary=["comm", "event", "gfp_flags", "prev_comm",
                                                  "next_comm"],
                                  column_encoding={"ts": "DELTA_BINARY_PACKED",
                                                   "seq": "DELTA_BINARY_PACKED"})
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
            writer.add_key_value_metadata(info().to_metadata())
        finally:
            if writing is not None:  # an error on the way: let the write end first
                writing.exception()
            writer.close()
    return rows
