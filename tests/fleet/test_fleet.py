"""batch: many traces into one table, bad traces as error rows, Dask LocalCluster."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from xpfotrace import batch, read_trace, replay
from xpfotrace.cli import app
from xpfotrace.fleet.batch import expand_inputs

SAMPLES = Path(__file__).parent.parent.parent / "sample_traces"
runner = CliRunner()


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "fleet"
    d.mkdir()
    for name in ("hackbench-1s.ftrace.txt.zst", "hackbench-1s.perf.txt.zst"):
        shutil.copy(SAMPLES / name, d / name)
    (d / "broken.txt").write_text("not a trace\n")
    return d


def test_rows_per_trace_profile_strategy(corpus: Path) -> None:
    df = batch([str(corpus)], strategies="sync,deferred")
    ok = df.filter(pl.col("error").is_null())
    assert ok.height == 4 and set(ok["strategy"]) == {"sync", "deferred"}
    bad = df.filter(pl.col("error").is_not_null())
    assert bad["trace"].to_list() == [str(corpus / "broken.txt")]
    one = replay(read_trace(str(corpus / "hackbench-1s.ftrace.txt.zst")), strategies="sync")
    row = ok.filter((pl.col("strategy") == "sync")
                    & pl.col("trace").str.ends_with("ftrace.txt.zst")).row(0, named=True)
    assert {k: row[k] for k in one.strategies["sync"]} == one.strategies["sync"]


def test_with_profiles(corpus: Path) -> None:
    from xpfotrace import find_profiles

    df = batch([str(corpus / "*.zst")], find_profiles(["3550", "8160"]), "deferred")
    assert df.height == 4
    assert set(df["profile"]) == {"i5-3550", "xeon-8160-2s"}
    assert df.filter(pl.col("profile") == "xeon-8160-2s")["cpus"].to_list() == [96, 96]
    assert (df["added_cpu_ns"] > 0).all() and df["overhead"].is_null().all()


def test_cli_writes_parquet_and_fails_on_errors(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.parquet"
    res = runner.invoke(app, ["batch", str(corpus), "-o", str(out), "-s", "sync"])
    assert res.exit_code == 1
    assert "broken.txt" in res.stderr and "1 failed" in res.stderr
    assert pl.read_parquet(out).height == 3  # what finished is kept
    ok = runner.invoke(app, ["batch", str(corpus / "hackbench*"), "-o", str(out)])
    assert ok.exit_code == 0 and pl.read_parquet(out).height == 18


def test_dask_local_cluster_gives_the_same_table(corpus: Path) -> None:
    pytest.importorskip("dask.distributed")
    local = batch([str(corpus)], strategies="sync,deferred+batch")
    remote = batch([str(corpus)], strategies="sync,deferred+batch", dask="local")
    assert remote.equals(local)


def test_expand_inputs_errors(tmp_path: Path) -> None:
    from xpfotrace import UsageError

    with pytest.raises(UsageError, match="no file matches"):
        expand_inputs([str(tmp_path / "*.nothing")])


def test_one_bad_file_fails_alone_and_summary_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trace whose reading fails with an unexpected exception (a bug, simulated) gets its
    error row; the other trace's rows and the summary are written."""
    import sys

    batch_mod = sys.modules["xpfotrace.fleet.batch"]

    good = tmp_path / "good.txt.zst"
    good.write_bytes((SAMPLES / "hackbench-1s.ftrace.txt.zst").read_bytes())
    bad = tmp_path / "bad.txt.zst"
    bad.write_bytes(good.read_bytes())
    real = batch_mod.read_trace

    def flaky(path: str, *args: object, **kw: object) -> object:
        if path.endswith("bad.txt.zst"):
            raise ValueError("negative dimensions are not allowed")
        return real(path)

    monkeypatch.setattr(batch_mod, "read_trace", flaky)
    out = tmp_path / "out" / "summary.parquet"
    out.parent.mkdir()
    res = CliRunner().invoke(app, ["batch", str(tmp_path), "-o", str(out)])
    assert res.exit_code == 1, res.output
    df = pl.read_parquet(out)
    err = df.filter(pl.col("error").is_not_null())
    assert err.height == 1 and "bad.txt.zst: internal error: ValueError" in err["error"][0]
    ok = df.filter(pl.col("error").is_null())
    assert ok.height == 9 and (ok["lost_events"] == 0).all()
    assert not ok["overflowed"].any() and ok["warnings"].list.len().max() == 0
