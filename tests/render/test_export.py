"""export: a Chrome JSON trace (the Trace Event Format that Perfetto and chrome://tracing
read), checked against the format's documented fields."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from xpfotrace import read_trace, replay
from xpfotrace.cli import app

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "kbuild-1s.parquet"
PHASES = {"M", "i", "X", "C"}


def _load(tmp_path: Path, *args: str) -> list[dict[str, object]]:
    out = tmp_path / "flushes.json"
    res = CliRunner().invoke(app, ["export", str(SAMPLE), "-o", str(out), *args])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert set(doc) >= {"traceEvents", "displayTimeUnit"}
    return doc["traceEvents"]  # type: ignore[no-any-return]


def _check_format(evs: list[dict[str, object]]) -> None:
    for e in evs:
        assert e["ph"] in PHASES and isinstance(e["name"], str) and e["pid"] == 1
        if e["ph"] == "M":
            assert e["name"] in ("process_name", "thread_name")
            assert isinstance(e["args"], dict) and "name" in e["args"]
            continue
        assert isinstance(e["ts"], float) and e["ts"] >= 0
        if e["ph"] == "X":
            assert isinstance(e["dur"], float) and e["dur"] >= 0 and isinstance(e["tid"], int)
        if e["ph"] == "i":
            assert e["s"] == "t" and isinstance(e["tid"], int)
        if e["ph"] == "C":
            assert all(isinstance(v, int) for v in e["args"].values())  # type: ignore[union-attr]


def test_deferred_export_matches_the_replay(tmp_path: Path) -> None:
    name = "deferred+batch@bound=10ms"
    evs = _load(tmp_path, "-s", name)
    _check_format(evs)
    counters = replay(read_trace(str(SAMPLE)), strategies=name).strategies[name]
    reqs = [e for e in evs if e["name"] == "flush request"]
    assert sum(e["args"]["requests"] for e in reqs) == counters["requests"]  # type: ignore[index]
    pending = [e for e in evs if e["ph"] == "X"]
    assert len(pending) == counters["remote_full_flushes"]
    bounded = [e for e in pending if e["name"] == "pending until bounded flush"]
    assert len(bounded) == counters["bounded_flushes"] > 0
    assert all(e["dur"] <= 10_000.0 + 1e-6 for e in bounded)  # type: ignore[operator]
    cleared = sum(e["args"]["requests_cleared"] for e in pending)  # type: ignore[index]
    assert cleared == counters["windows"]
    per_ms = [e for e in evs if e["ph"] == "C"]
    assert sum(e["args"]["requests"] for e in per_ms) == counters["requests"]  # type: ignore[index]
    threads = {e["args"]["name"] for e in evs if e["name"] == "thread_name"}  # type: ignore[index]
    assert threads == {"CPU 0", "CPU 1"}


def test_sync_export_and_errors(tmp_path: Path) -> None:
    evs = _load(tmp_path, "-s", "sync")
    _check_format(evs)
    assert not [e for e in evs if e["ph"] == "X"]
    bad = CliRunner().invoke(app, ["export", str(SAMPLE), "-o", str(tmp_path / "x.json"),
                                   "-s", "sync,deferred"])
    assert bad.exit_code == 2 and "one XPFO strategy" in bad.stderr
