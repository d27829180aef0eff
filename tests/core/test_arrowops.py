"""core.arrowops: take, filter and cast of Arrow tables through the compute registry
equal pyarrow's own Table methods (which import pyarrow.compute)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from xpfotrace.core.arrowops import cast_table, filter_rows, take_rows

SAMPLES = Path(__file__).parent.parent.parent / "sample_traces"


def _table() -> pa.Table:
    return pa.table({"i": pa.array([5, None, 7, -1], pa.int64()),
                     "s": pa.array(["a", None, "ccc", ""], pa.string()),
                     "u": pa.array([1, 2, None, 2**63], pa.uint64())})


def test_take_and_filter_equal_pyarrow() -> None:
    t = _table()
    idx = np.array([3, 0, 2, 1, 3], np.int64)
    assert take_rows(t, idx).equals(t.take(pa.array(idx)))
    keep = np.array([True, False, True, True])
    assert filter_rows(t, keep).equals(t.filter(pa.array(keep)))
    assert filter_rows(t, np.zeros(4, bool)).num_rows == 0


def test_cast_equals_pyarrow_and_is_safe() -> None:
    t = pa.table({"a": pa.array([1, None, 3], pa.int64()),
                  "b": pa.array(["x", "y", None], pa.large_string())})
    want = pa.schema([pa.field("a", pa.int32()), pa.field("b", pa.string())])
    assert cast_table(t, want).equals(t.cast(want))
    too_big = pa.table({"a": pa.array([1 << 40], pa.int64()),
                        "b": pa.array(["x"], pa.string())})
    with pytest.raises(pa.ArrowInvalid):
        cast_table(too_big, want)
    with pytest.raises(ValueError):
        cast_table(t, pa.schema([pa.field("a", pa.int32())]))


def test_text_reading_loads_no_pyarrow_compute() -> None:
    """A trace-cmd report sample (whose rejected lines take the Polars path, then are
    merged back in line order) and a perf script sample are read without loading
    pyarrow.compute (its import is a large part of a small trace's start-up)."""
    code = ("import sys, xpfotrace\n"
            "for p in sys.argv[1:]:\n"
            "    xpfotrace.read_trace(p)\n"
            "print('pyarrow.compute' in sys.modules)")
    paths = [str(SAMPLES / "hackbench-1s.tracecmd.txt.zst"),
             str(SAMPLES / "hackbench-1s.perf.txt.zst")]
    out = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "False"
