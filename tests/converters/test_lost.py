"""Lost-event markers are summed exactly and saturate instead of wrapping (SYNTHETIC
markers inserted into the real hackbench sample)."""

from __future__ import annotations

import json
from pathlib import Path

import zstandard
from typer.testing import CliRunner

from xpfotrace.cli import app
from xpfotrace.core.traceinfo import LOST_MAX

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"


def _with_markers(tmp_path: Path, *markers: str) -> Path:
    text = zstandard.ZstdDecompressor().stream_reader(SAMPLE.open("rb")).read().decode()
    lines = text.split("\n")
    head = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
    out = tmp_path / "lost.txt"
    out.write_text("\n".join(lines[:head + 100] + list(markers) + lines[head + 100:]))
    return out


def _replay(path: Path) -> tuple[dict[str, object], str]:
    res = CliRunner().invoke(app, ["replay", str(path), "--json", "-s", "sync"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), res.stderr


def test_large_counts_are_exact(tmp_path: Path) -> None:
    big = (1 << 62) + 12345
    d, err = _replay(_with_markers(tmp_path, f"CPU:0 [LOST {big} EVENTS]",
                                   "CPU:1 [7 EVENTS DROPPED]"))
    assert d["trace"]["lost_events"] == big + 7  # type: ignore[index]
    assert d["input"]["lost_events"] == big + 7  # type: ignore[index]
    assert "lost events" in err


def test_sums_beyond_64_bits_saturate_with_a_warning(tmp_path: Path) -> None:
    d, err = _replay(_with_markers(tmp_path, f"CPU:0 [LOST {1 << 63} EVENTS]",
                                   f"CPU:1 [LOST {(1 << 70)} EVENTS]"))
    assert d["trace"]["lost_events"] == LOST_MAX  # type: ignore[index]
    assert "saturated" in err and any("saturated" in w
                                      for w in d["input"]["warnings"])  # type: ignore[index]
