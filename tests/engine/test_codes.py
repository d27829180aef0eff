"""Dictionary codes from Parquet: they match the strings, and the replay on them equals the
replay on codes computed from the strings (the REAL kbuild sample; reordered rows are a
synthetic shuffle of it)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xpfotrace import read_trace, replay
from xpfotrace.trace import Trace, codes_of

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "kbuild-1s.parquet"


@pytest.fixture(scope="module")
def trace() -> Trace:
    return read_trace(str(SAMPLE))


def test_codes_spell_the_columns(trace: Trace) -> None:
    assert set(trace.codes) == {"event", "gfp_flags"}
    for name, c in trace.codes.items():
        values = np.array([*c.values, None], dtype=object)  # code -1: null
        assert values[c.codes].tolist() == trace.df[name].to_list()


@pytest.mark.parametrize("cpus", [None, 5])
def test_replay_on_codes_equals_replay_on_strings(trace: Trace, cpus: int | None) -> None:
    plain = Trace(df=trace.df, info=trace.info)  # no codes: prepare computes them (Arrow)
    assert not plain.codes
    assert (replay(trace, cpus=cpus).to_dict() == replay(plain, cpus=cpus).to_dict())


def test_codes_follow_the_rows_when_the_replay_sorts_them(trace: Trace) -> None:
    # rows shuffled (SYNTHETIC order of real events): prepare sorts them and the codes
    perm = np.random.default_rng(3).permutation(trace.df.height)
    shuffled = Trace(df=trace.df[perm], info=trace.info,
                     codes={k: type(c)(c.codes[perm], c.values) for k, c in trace.codes.items()})
    assert replay(shuffled).to_dict() == replay(trace).to_dict()


def test_codes_of_another_length_are_ignored(trace: Trace) -> None:
    cut = Trace(df=trace.df.head(1000), info=trace.info, codes=trace.codes)
    plain = Trace(df=trace.df.head(1000), info=trace.info)
    assert replay(cut).to_dict() == replay(plain).to_dict()
    assert cut.df.filter(pl.col("event") == "mm_page_alloc").height > 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_replay_is_the_same_whatever_the_chunks(trace: Trace, seed: int) -> None:
    """The REAL sample split into chunks at random rows (as a Parquet file of several row
    groups reads): prepare reads numeric columns through views of each chunk, so nulls,
    order checks and gathers must meet at the seams. Both classification paths."""
    df = trace.df.rechunk()
    rng = np.random.default_rng(seed)
    cuts = [0, *sorted(rng.choice(np.arange(1, df.height), 6, replace=False).tolist()),
            df.height]
    chunked = pl.concat([df[a:b] for a, b in itertools.pairwise(cuts)],
                        rechunk=False)
    assert chunked.get_column("pfn").n_chunks() == 7
    whole = replay(Trace(df=df, info=trace.info, codes=trace.codes)).to_dict()
    assert replay(Trace(df=chunked, info=trace.info, codes=trace.codes)).to_dict() == whole
    assert replay(Trace(df=chunked, info=trace.info)).to_dict() == whole


@settings(max_examples=200, deadline=None)
@given(st.lists(st.none() | st.sampled_from(["a", "bb", "", "mm_page_alloc", "é"]),
                max_size=40),
       st.integers(1, 4))
def test_codes_of_is_first_appearance_with_nulls(values: list[str | None], pieces: int) -> None:
    """Computed codes (SYNTHETIC columns, also in several chunks): the distinct values in
    order of first appearance, each row its value's index, -1 for a null."""
    cut = len(values) // pieces or 1
    parts = [pl.Series("s", values[i:i + cut], dtype=pl.String)
             for i in range(0, max(len(values), 1), cut)]
    column = pl.concat(parts, rechunk=False) if parts else pl.Series("s", [], pl.String)
    c = codes_of(column)
    want = list(dict.fromkeys(v for v in values if v is not None))
    assert c.values == want
    assert c.codes.dtype == np.int32
    assert c.codes.tolist() == [-1 if v is None else want.index(v) for v in values]


def test_reading_parquet_codes_loads_no_pyarrow_compute() -> None:
    code = ("import sys; from xpfotrace import read_trace\n"
            f"tr = read_trace({str(SAMPLE)!r}); assert tr.codes\n"
            "print('pyarrow.compute' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
