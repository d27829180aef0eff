"""--window and --only: focus on the workload."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from xpfotrace import read_trace, replay
from xpfotrace.cli import app
from xpfotrace.core.errors import UsageError
from xpfotrace.engine.replay import Replayer
from xpfotrace.focus import Only, Window
from xpfotrace.strategies import parse

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "kbuild-1s.parquet"
runner = CliRunner()


def test_window_parsing_and_exact_bounds() -> None:
    assert Window.parse("0.25:0.5") == Window(250_000_000, 500_000_000)
    assert Window.parse(":0.000000001") == Window(None, 1)
    assert Window.parse("abs:2971.6:") == Window(2_971_600_000_000, None, True)
    for bad in ("1", "a:b", "0.5:0.2", "-1:2", "nan:1"):
        with pytest.raises(UsageError, match="--window"):
            Window.parse(bad)
    tr = read_trace(str(SAMPLE))
    t0 = int(tr.df["ts"].min())
    cut = Window.parse("0.25:0.5").apply(tr).df["ts"]
    assert int(cut.min()) >= t0 + 250_000_000 and int(cut.max()) < t0 + 500_000_000
    whole = tr.df.filter((pl.col("ts") >= t0 + 250_000_000) & (pl.col("ts") < t0 + 500_000_000))
    assert cut.len() == whole.height
    assert Window.parse(f"abs:{t0 / 1e9}:").apply(tr).df.height == tr.df.height


def test_only_requests_equal_the_attribution() -> None:
    tr = read_trace(str(SAMPLE))
    s = parse("deferred+batch")
    by = Replayer(tr).requests_by(s[0], "comm", top=None)
    cc1 = int(by.filter(pl.col("comm") == "cc1")["requests"].sum())
    res = replay(tr, strategies=s, only=Only.parse("comm=cc1"))
    assert res.strategies["deferred+batch"]["requests"] == cc1
    both = replay(tr, strategies=s, only=Only.parse("comm=cc1,comm=as"))
    as_ = int(by.filter(pl.col("comm") == "as")["requests"].sum())
    assert both.strategies["deferred+batch"]["requests"] == cc1 + as_
    pid = int(tr.df.filter(pl.col("comm") == "cc1")["pid"][0])
    one = replay(tr, strategies=s, only=Only(pids=frozenset({pid})))
    assert 0 < one.strategies["deferred+batch"]["requests"] <= cc1
    for bad in ("pid=x", "comm=", "who=1"):
        with pytest.raises(UsageError, match="--only"):
            Only.parse(bad)


def test_workload_from_capture_metadata() -> None:
    tr = read_trace(str(SAMPLE))
    pids = sorted(set(tr.df.filter(pl.col("comm") == "cc1")["pid"].to_list()))
    tr.info.extra["workload_pids"] = json.dumps(pids)
    a = replay(tr, strategies="sync", only=Only.parse("workload"))
    b = replay(tr, strategies="sync", only=Only.parse("comm=cc1"))
    assert a.strategies == b.strategies


@pytest.mark.parametrize("cmd", [
    ["replay", str(SAMPLE), "--json"],
    ["compare", str(SAMPLE), "-p", "3550", "--json"],
    ["sweep", str(SAMPLE), "-p", "3550", "--json", "--bound", "1ms"],
])
def test_every_command_takes_window_and_only(cmd: list[str]) -> None:
    res = runner.invoke(app, [*cmd, "-s", "deferred+batch", "--window", "0.1:0.6",
                              "--only", "comm=cc1"])
    assert res.exit_code == 0, res.output
    full = runner.invoke(app, [*cmd, "-s", "deferred+batch"])
    assert json.loads(res.stdout) != json.loads(full.stdout)


def test_report_export_batch_take_them(tmp_path: Path) -> None:
    args = ["--window", "0.1:0.6", "--only", "comm=cc1"]
    r = runner.invoke(app, ["report", str(SAMPLE), "-o", str(tmp_path / "r.html"), *args])
    assert r.exit_code == 0, r.output
    e = runner.invoke(app, ["export", str(SAMPLE), "-o", str(tmp_path / "e.json"), *args])
    assert e.exit_code == 0, e.output
    b = runner.invoke(app, ["batch", str(SAMPLE), "-o", str(tmp_path / "b.parquet"),
                            "-s", "sync", *args])
    assert b.exit_code == 0, b.output
    want = replay(Window.parse("0.1:0.6").apply(read_trace(str(SAMPLE))), strategies="sync",
                  only=Only.parse("comm=cc1")).strategies["sync"]["requests"]
    assert pl.read_parquet(tmp_path / "b.parquet")["requests"].to_list() == [want]
