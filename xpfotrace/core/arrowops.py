"""Arrow ``take``, ``filter``, ``cast`` and ``dictionary_encode`` without importing
``pyarrow.compute``.

``pa.Table.take`` and ``pa.Table.filter`` import ``pyarrow.compute``, which builds a
Python wrapper for every compute function on import: 50-90 ms on the development VM,
as long as a small trace's whole conversion. The same kernels are reached through
``pyarrow._compute.call_function`` (what those wrappers call). That extension module
is itself 40-60 ms to load, so it is loaded on the first call: a trace that needs no
take, filter or cast (most text traces) does not pay it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pyarrow as pa

from .arrays import BOOL, I64

__all__ = ["cast_table", "dictionary_encode", "filter_rows", "take_rows"]


@cache
def _compute() -> Any:
    """``pyarrow._compute``, loaded on first use."""
    try:
        from pyarrow import _compute
    except ImportError:  # pragma: no cover - a pyarrow without the private module
        from pyarrow import compute as _compute
    return _compute


def _call(name: str, args: list[Any], options: Any = None) -> Any:
    return _compute().call_function(name, args, options)


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
    cols = [_call("cast", [table.column(i)], _compute().CastOptions.safe(f.type))
            for i, f in enumerate(schema)]
    return pa.Table.from_arrays(cols, schema=schema)


def dictionary_encode(values: pa.Array | pa.ChunkedArray) -> Any:
    """``values.dictionary_encode()`` with a null encoded as a value of its own (its
    index among the others in order of first appearance, as every value's)."""
    opts = _compute().DictionaryEncodeOptions(null_encoding="encode")
    return _call("dictionary_encode", [values], opts)
