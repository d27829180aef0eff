"""Arrow ``take`` and ``filter`` of tables without importing ``pyarrow.compute``.

``pa.Table.take`` and ``pa.Table.filter`` import ``pyarrow.compute``, which builds a
Python wrapper for every compute function on import: 50-90 ms on the development VM,
as long as a small trace's whole conversion. The same kernels are reached through
``pyarrow._compute.call_function`` (what those wrappers call), which loads in a few
milliseconds.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .arrays import BOOL, I64

try:
    from pyarrow._compute import CastOptions
    from pyarrow._compute import call_function as _call
except ImportError:  # pragma: no cover - a pyarrow without the private module
    from pyarrow.compute import CastOptions
    from pyarrow.compute import call_function as _call

__all__ = ["cast_table", "filter_rows", "take_rows"]


def take_rows(table: pa.Table, indices: I64) -> pa.Table:
    """``table.take(indices)``."""
    out: Any = _call("take", [table, pa.array(indices)])
    assert isinstance(out, pa.Table)
    return out


def filter_rows(table: pa.Table, keep: BOOL) -> pa.Table:
    """``table.filter(keep)``: the rows where ``keep`` is true."""
    out: Any = _call("filter", [table, pa.array(keep)])
    assert isinstance(out, pa.Table)
    return out


def cast_table(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table.cast(schema)`` (column by column, by position; a value that does not fit
    its new type is an error, as with ``Table.cast``'s default safe cast)."""
    if table.num_columns != len(schema):
        raise ValueError(f"cannot cast {table.num_columns} columns to {len(schema)}")
    cols = [_call("cast", [table.column(i)], CastOptions.safe(f.type))
            for i, f in enumerate(schema)]
    return pa.Table.from_arrays(cols, schema=schema)
