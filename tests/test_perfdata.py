"""perf.data read directly: against perf script's own output, golden counters, damage."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import zstandard
from test_golden import assert_matches
from test_tracedat import COLUMNS
from typer.testing import CliRunner

from xpfotrace import InputError, read_trace, replay
from xpfotrace.cli import app

GOLDEN = Path(__file__).parent / "fixtures" / "golden"
BIN = Path(__file__).parent / "fixtures" / "binary"
PERF = GOLDEN / "forks-1s.perf.data.zst"


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden perf.data, decompressed as the issue asks (the reader also takes .zst)."""
    out = tmp_path_factory.mktemp("perf") / "forks.perf.data"
    with open(PERF, "rb") as src, open(out, "wb") as dst:
        zstandard.ZstdDecompressor().copy_stream(src, dst)
    return out


def test_same_events_as_perf_script(raw: Path) -> None:
    binary = read_trace(str(raw))
    text = read_trace(str(BIN / "forks.script-ns.txt.zst"))
    assert binary.info.source_format == "perf.data"
    assert binary.df.height == text.df.height > 0
    for col in COLUMNS:
        assert binary.df[col].equals(text.df[col]), col


def test_golden_counters(raw: Path) -> None:
    tr = read_trace(str(raw))
    assert tr.info.cpus == 2
    result = replay(tr)
    want = json.loads((GOLDEN / "forks-1s.perf.data.expected.json").read_text())
    assert_matches(result.to_dict(), want)


def test_compressed_input_reads_the_same(raw: Path) -> None:
    assert read_trace(str(PERF)).df.equals(read_trace(str(raw)).df)


def test_damaged_perf_data(raw: Path, tmp_path: Path) -> None:
    good = raw.read_bytes()
    cut = tmp_path / "cut.data"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match=r"offset 40\).*past the end"):
        read_trace(str(cut))
    huge = bytearray(good)
    struct.pack_into("<Q", huge, 48, 1 << 40)  # the data section's size
    bad = tmp_path / "huge.data"
    bad.write_bytes(bytes(huge))
    with pytest.raises(InputError, match="offset"):
        read_trace(str(bad))
    res = CliRunner().invoke(app, ["convert", str(cut), "-o", str(tmp_path / "o.parquet")])
    assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.parquet").exists()
