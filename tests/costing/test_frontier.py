"""sweep: combinations, shared passes, the Pareto frontier, the CLI and its outputs."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from xpfotrace import read_trace, replay
from xpfotrace.cli import app
from xpfotrace.core.errors import UsageError
from xpfotrace.costing.hardware import find_profiles
from xpfotrace.costing.sweep import combinations, pareto, parse_bounds, parse_ceilings, sweep
from xpfotrace.strategies import parse

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "kbuild-1s.parquet"


def test_combinations_bound_only_deferred() -> None:
    combos = combinations(parse("sync,deferred+batch"), [None, 1000], [16, 33])
    assert [c.name for c in combos] == [
        "sync@ceiling=16", "sync", "deferred+batch@ceiling=16", "deferred+batch",
        "deferred+batch@bound=1us@ceiling=16", "deferred+batch@bound=1us"]
    with pytest.raises(UsageError, match="'none' has nothing to vary"):
        combinations(parse("none"), [None], [33])


def test_list_parsing() -> None:
    assert parse_bounds("none, 100us,1ms,1000us") == [None, 100_000, 1_000_000]
    assert parse_ceilings("64,16,64") == [64, 16]
    with pytest.raises(UsageError, match="--bound"):
        parse_bounds("1.5ms")
    with pytest.raises(UsageError, match="ceiling"):
        parse_ceilings("0")


def test_pareto() -> None:
    # (cost, window): (1, 9) cheapest; (2, 5) better window; (3, 5) dominated; (4, 0) best
    # window; (4, 0) twice: both on it; (5, 7) dominated
    assert pareto([1, 2, 3, 4, 4, 5], [9, 5, 5, 0, 0, 7]) == [
        True, True, False, True, True, False]


def test_sweep_rows_equal_plain_replays() -> None:
    tr = read_trace(str(SAMPLE))
    (prof,) = find_profiles(["3550"])
    calls: list[int] = []
    res = sweep(tr, prof, strategies="sync,deferred+batch", bounds=[None, 100_000, 2_000_000],
                ceilings=[8, 33], baseline_sys_ns=1_000_000_000, progress=calls.append)
    assert res.frame.height == 2 + 3 * 2 == sum(calls)
    direct = replay(tr, cpus=prof.cpus, strategies=",".join(res.frame["strategy"]))
    for row in res.frame.iter_rows(named=True):
        want = direct.strategies[row["strategy"]]
        for k in ("requests", "full_requests", "remote_full_flushes"):
            assert row[k] == want[k]
        if row["base"] != "sync":
            for k in ("bounded_flushes", "window_p50_ns", "window_p99_ns", "window_max_ns"):
                assert row[k] == want[k]
            if row["bound_ns"] is not None:
                assert row["window_max_ns"] <= row["bound_ns"]
    # shorter bounds: more bounded flushes, cost more
    b = res.frame.filter(pl.col("base") == "deferred+batch", pl.col("ceiling") == 33
                         ).sort("bound_ns", nulls_last=True)
    assert b["bounded_flushes"].to_list()[-1] == 0
    assert b["bounded_flushes"].is_sorted(descending=True)
    assert b["added_cpu_ns"][0] > b["added_cpu_ns"][-1]
    # the frontier: nothing on it is dominated, everything off it is
    pts = list(zip(res.frame["added_cpu_ns"], res.frame["window_p99_ns"], strict=True))
    for (c, w), on in zip(pts, res.frame["frontier"], strict=True):
        dominated = any(c2 <= c and w2 <= w and (c2, w2) != (c, w) for c2, w2 in pts)
        assert on == (not dominated)
    assert "sync" in res.frontier


def test_cli_sweep_json_parquet_and_table(tmp_path: Path) -> None:
    out = tmp_path / "sweep.parquet"
    args = ["sweep", str(SAMPLE), "-p", "3550", "--bound", "100us,1ms,10ms",
            "--ceiling", "16,33,64", "-s", "deferred+batch", "--baseline-sys", "0.5"]
    res = CliRunner().invoke(app, [*args, "--json", "-o", str(out)])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert len(d["rows"]) == 9 and d["frontier"]
    df = pl.read_parquet(out)
    assert df.height == 9 and set(df["strategy"]) == {r["strategy"] for r in d["rows"]}
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0 and "Pareto frontier" in text.stdout
    assert "deferred+batch@bound=100us@ceiling=16" in text.stdout
    bad = CliRunner().invoke(app, ["sweep", str(SAMPLE), "-p", "3550", "--bound", "2"])
    assert bad.exit_code == 2 and "--bound='2'" in bad.stderr
