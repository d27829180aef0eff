"""prepare: replay order, frame expansion and order, refill runs (SYNTHETIC data, built
here)."""

from __future__ import annotations

import itertools

import numpy as np
import polars as pl
import pytest

from xpfotrace.engine.columns import Columns as _Columns
from xpfotrace.engine.frames import Actions
from xpfotrace.engine.frames import expand as _frames
from xpfotrace.engine.frames import refill_runs as _runs
from xpfotrace.engine.prepare import _replay_order


def _actions(pfn: list[int], order: list[int], cpu: list[int] | None = None) -> Actions:
    n = len(pfn)
    return Actions(rank=np.arange(n, dtype=np.int64),
                   cpu=np.array(cpu or [0] * n, dtype=np.int32),
                   kind=(np.arange(n) % 5).astype(np.int8), zero=np.arange(n) % 2 == 0,
                   pfn=np.array(pfn, dtype=np.uint64), order=np.array(order, dtype=np.int8),
                   run=np.full(n, -1, dtype=np.int32))


def _reference(pfn: list[int], order: list[int]) -> list[tuple[int, int]]:
    rows = [(p + k, i) for i, (p, o) in enumerate(zip(pfn, order, strict=True))
            for k in range(1 << o)]
    return sorted(rows)


@pytest.mark.parametrize("base", [0, 1 << 62])  # the packed-key sort, and the two-key one
def test_frames_sorted_by_frame_then_action(base: int) -> None:
    rng = np.random.default_rng(7)
    pfn = [base + int(x) for x in rng.integers(0, 40, 300)]
    order = [int(x) for x in rng.choice([0, 0, 0, 1, 2, 3], 300)]
    f = _frames(_actions(pfn, order), 1)
    want = _reference(pfn, order)
    assert f.aidx.tolist() == [i for _, i in want]
    frames = [fr for fr, _ in want]
    assert f.first.tolist() == [k == 0 or frames[k] != frames[k - 1] for k in range(len(want))]
    assert f.kind.tolist() == [i % 5 for _, i in want]


def test_runs_are_consecutive_refills_of_one_cpu() -> None:
    #            0  1  2  3  4  5  6  7
    cpu = np.array([0, 0, 1, 0, 1, 1, 0, 0], dtype=np.int32)
    refill = np.array([1, 1, 1, 0, 1, 1, 1, 1], dtype=bool)
    ts = np.arange(8, dtype=np.int64) * 10
    ranks, ids, runs = _runs(refill, cpu, ts)
    assert ranks.tolist() == [0, 1, 2, 4, 5, 6, 7]
    # CPU 0: {0, 1} then (3 breaks it) {6, 7}; CPU 1: {2, 4, 5} (no CPU-1 event between)
    run_of = dict(zip(ranks.tolist(), ids.tolist(), strict=True))
    assert run_of[0] == run_of[1] != run_of[6] == run_of[7]
    assert run_of[2] == run_of[4] == run_of[5]
    assert runs.rank.tolist() == [1, 7, 5]  # each run's last event, runs by (CPU, rank)
    assert runs.cpu.tolist() == [0, 0, 1] and runs.ts.tolist() == [10, 70, 50]


def test_replay_order_is_checked_across_chunks() -> None:
    """SYNTHETIC: (ts, seq) in order within each chunk of a two-chunk frame; whether the
    whole is in order depends on where the chunks meet, and on seq at equal ts."""
    def chunked(ts: list[int], seq: list[int], cut: int) -> pl.DataFrame:
        df = pl.DataFrame({"ts": ts, "seq": seq}, schema={"ts": pl.Int64, "seq": pl.Int64})
        out = pl.concat([df[:cut], df[cut:]], rechunk=False)
        assert out.n_chunks() == 2
        return out

    def order(df: pl.DataFrame) -> list[int] | None:
        cols = _Columns(df)
        perm = _replay_order(cols.whole("ts"), cols.chunks("seq"))
        return None if perm is None else perm.tolist()

    assert order(chunked([1, 2, 3, 4], [0, 1, 2, 3], 2)) is None
    assert order(chunked([1, 2, 2, 4], [0, 1, 2, 3], 2)) is None  # a tie, seq rises
    assert order(chunked([1, 2, 2, 4], [0, 2, 1, 3], 2)) == [0, 2, 1, 3]  # tie, seq falls
    assert order(chunked([1, 3, 2, 4], [0, 1, 2, 3], 2)) == [0, 2, 1, 3]  # ts falls
    assert order(chunked([1, 2, 3, 1], [0, 1, 2, 3], 2)) == [0, 3, 1, 2]  # inside a chunk


def test_an_untyped_null_column_reads_as_all_null() -> None:
    """SYNTHETIC: a hand-built frame's pl.lit(None) column (dtype Null) has no value
    buffer; prepare's column views treat it as null everywhere."""
    df = pl.DataFrame({"ts": [1, 2, 3]}).with_columns(pl.lit(None).alias("percpu_refill"))
    cols = _Columns(df)
    assert cols.test("percpu_refill", lambda v: v == 0).tolist() == [False] * 3
    assert cols.test_at("percpu_refill", np.array([0, 2]), lambda v: v == 0).tolist() == [
        False, False]
    valid = cols.valid("percpu_refill")
    assert valid is not None and not valid.any()


def test_column_views_match_the_column_across_chunks() -> None:
    """SYNTHETIC: a nullable Int32 column in four chunks (nulls at the seams too); every
    _Columns read equals the same read of the whole column."""
    values = [5, None, 1, 0, None, 1, 7, None, 1, 2, None, 0, 3]
    col = pl.Series("order", values, dtype=pl.Int32)
    cuts = [0, 2, 5, 9, len(values)]
    df = pl.DataFrame({"order": pl.concat([col[a:b] for a, b in itertools.pairwise(cuts)],
                                          rechunk=False)})
    assert df.get_column("order").n_chunks() == 4
    cols = _Columns(df)
    is_one = [v == 1 for v in values]  # None == 1 is False
    assert cols.test("order", lambda v: v == 1).tolist() == is_one
    rows = np.array([1, 2, 4, 5, 8, 9, 12])
    assert cols.test_at("order", rows, lambda v: v == 1).tolist() == [is_one[r] for r in rows]
    valid = cols.valid("order")
    assert valid is not None and valid.tolist() == [v is not None for v in values]
    keep = np.array([i % 3 != 0 for i in range(len(values))])
    got = cols.compress("order", keep, 2, np.int8, 0, 4)
    want = [2 if v is None else min(max(v, 0), 4)
            for v, k in zip(values, keep, strict=True) if k]
    assert got.dtype == np.int8 and got.tolist() == want


def test_user_allocation_pages_per_cpu_are_exact() -> None:
    """SYNTHETIC: pages per CPU of the selected user allocations, one per row plus the
    larger ones' extra pages, exact for an order-60 allocation."""
    from xpfotrace.engine.classify import USER_ALLOC
    from xpfotrace.engine.frames import user_allocs

    a = _actions([10, 20, 30, 40], [0, 60, 3, 0], [0, 0, 1, 1])
    a.kind[:] = USER_ALLOC
    ua = user_allocs(a, 2)
    assert ua.pages_per_cpu(np.array([True, True, True, False])).tolist() == [
        1 + (1 << 60), 8]
    assert ua.pages_per_cpu(np.array([False, False, True, True])).tolist() == [0, 9]
