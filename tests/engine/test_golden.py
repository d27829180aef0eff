"""Golden traces (real captures, in tests/fixtures/golden): every counter must match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reference import assert_matches
from typer.testing import CliRunner

from xpfotrace import convert, read_trace, replay
from xpfotrace.cli import app

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
CASES = [
    ("kbuild-1s.ftrace.txt.zst", "kbuild-1s.ftrace.txt.expected.json", None),
    ("kbuild-1s.ftrace.txt.zst", "kbuild-1s.ftrace.txt.cpus6.expected.json", 6),
    ("forks-1s.perf.txt.zst", "forks-1s.perf.txt.expected.json", None),
    ("py-1s.tracecmd.txt.zst", "py-1s.tracecmd.txt.expected.json", None),
]


@pytest.mark.parametrize(("trace", "expected", "cpus"), CASES)
def test_raw_trace_matches_golden(trace: str, expected: str, cpus: int | None) -> None:
    result = replay(read_trace(str(GOLDEN / trace)), cpus=cpus)
    assert_matches(result.to_dict(), json.loads((GOLDEN / expected).read_text()))


@pytest.mark.parametrize(("trace", "expected", "cpus"), CASES)
def test_converted_parquet_matches_golden(tmp_path: Path, trace: str, expected: str,
                                          cpus: int | None) -> None:
    out = tmp_path / "t.parquet"
    convert(str(GOLDEN / trace), str(out))
    result = replay(read_trace(str(out)), cpus=cpus)
    assert_matches(result.to_dict(), json.loads((GOLDEN / expected).read_text()))


@pytest.mark.parametrize(("trace", "expected", "cpus"), CASES[:2])
def test_cli_json_matches_golden(tmp_path: Path, trace: str, expected: str,
                                 cpus: int | None) -> None:
    args = ["replay", str(GOLDEN / trace), "--json"] + (["--cpus", str(cpus)] if cpus else [])
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert_matches(json.loads(res.stdout), json.loads((GOLDEN / expected).read_text()))
