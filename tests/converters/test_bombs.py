"""Absurd sizes: a decompression bomb and a giant line are clear errors, not memory
exhaustion (SYNTHETIC inputs; the limits are lowered so the test stays small)."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard
from typer.testing import CliRunner

from xpfotrace.cli import app
from xpfotrace.converters.binary import binfile
from xpfotrace.converters.text import reader as textbase

DAT = Path(__file__).parent.parent / "fixtures" / "golden" / "py-1s.dat"


def test_binary_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(binfile, "MIN_LIMIT", 1 << 20)
    monkeypatch.setattr(binfile, "MAX_RATIO", 10)
    bomb = tmp_path / "bomb.dat.zst"
    cctx = zstandard.ZstdCompressor(level=1)
    bomb.write_bytes(cctx.compress(DAT.read_bytes()[:4096] + bytes(32 << 20)))
    res = CliRunner().invoke(app, ["replay", str(bomb)])
    assert res.exit_code == 1, res.output
    assert "decompression bomb" in res.stderr and "bomb.dat.zst" in res.stderr


def test_giant_line_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textbase, "MAX_LINE", 1 << 20)
    head = "# tracer: nop\n#\n# entries-in-buffer/entries-written: 1/1   #P:2\n"
    line = tmp_path / "line.txt.zst"
    line.write_bytes(zstandard.ZstdCompressor(level=1).compress(
        head.encode() + b"x" * (8 << 20)))
    res = CliRunner().invoke(app, ["replay", str(line)])
    assert res.exit_code == 1, res.output
    assert "a line of more than 1 MiB" in res.stderr and "line.txt.zst" in res.stderr
