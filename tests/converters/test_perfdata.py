"""perf.data read directly: against perf script's own output, golden counters, damage."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
import zstandard
from paths import binary_path  # noqa: F401  (each test on both paths: tests/paths.py)
from reference import assert_matches
from test_tracedat import COLUMNS
from typer.testing import CliRunner

from xpfotrace import InputError, read_trace, replay
from xpfotrace.cli import app

GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
BIN = Path(__file__).parent.parent / "fixtures" / "binary"
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


def _walk(d: bytes) -> list[int]:
    """The records' offsets by the plain sequential walk (the reference)."""
    pos, out = 0, []
    while pos + 8 <= len(d):
        out.append(pos)
        size = int.from_bytes(d[pos + 6:pos + 8], "little")
        if size < 8:
            break
        pos += size
    return out


def _data_section(raw: Path) -> tuple[bytes, int, int]:
    good = raw.read_bytes()
    off, size = struct.unpack_from("<QQ", good, 40)
    return good, off, size


def test_record_walk_matches_sequential_walk(raw: Path) -> None:
    from xpfotrace.converters.binary.perfdata.records import _record_positions

    good, off, size = _data_section(raw)
    d = good[off:off + size]
    assert _record_positions(np.frombuffer(d, np.uint8)).tolist() == _walk(d)


def test_corrupt_record_header_names_its_offset(raw: Path, tmp_path: Path) -> None:
    good, off, size = _data_section(raw)
    offsets = _walk(good[off:off + size])
    victim = offsets[len(offsets) // 2]
    for bad_size in (0, 12):  # too small, and not a multiple of 8
        damaged = bytearray(good)
        struct.pack_into("<H", damaged, off + victim + 6, bad_size)
        path = tmp_path / f"bad{bad_size}.data"
        path.write_bytes(bytes(damaged))
        with pytest.raises(InputError, match=rf"\(offset {off + victim}\): corrupt record "
                                             rf"header \(size {bad_size}\)"):
            read_trace(str(path))
