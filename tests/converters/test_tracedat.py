"""trace.dat read directly: versions 6 and 7, against trace-cmd's own report, and damage."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from paths import binary_path  # noqa: F401  (each test on both paths: tests/paths.py)
from reference import assert_matches
from typer.testing import CliRunner

from xpfotrace import InputError, read_trace, replay
from xpfotrace.cli import app
from xpfotrace.converters.binary.eventformat import Field
from xpfotrace.converters.binary.rawevents import read_str

BIN = Path(__file__).parent.parent / "fixtures" / "binary"
GOLDEN = Path(__file__).parent.parent / "fixtures" / "golden"
COLUMNS = ["ts", "cpu", "seq", "pid", "comm", "event", "pfn", "order", "gfp_flags",
           "migratetype", "percpu_refill", "prev_pid", "prev_comm", "next_pid", "next_comm",
           "tlb_pages", "tlb_reason"]


@pytest.mark.parametrize(("dat", "report"), [
    ("hb.dat", "hb.report-t.txt.zst"),
    ("../golden/py-1s.dat", "py-1s.report-t.txt.zst"),
])
def test_same_events_as_trace_cmd_report(dat: str, report: str) -> None:
    binary = read_trace(str(BIN / dat))
    text = read_trace(str(BIN / report))
    assert binary.info.source_format == "trace.dat"
    assert binary.df.height == text.df.height > 0
    for col in COLUMNS:
        assert binary.df[col].equals(text.df[col]), col
    assert binary.info.cpus == text.info.cpus


def test_versions_6_and_7_uncompressed_give_the_same_table() -> None:
    v7 = read_trace(str(BIN / "hb.dat")).df
    assert read_trace(str(BIN / "v6.dat.zst")).df.equals(v7)
    assert read_trace(str(BIN / "v7none.dat.zst")).df.equals(v7)


def test_golden_counters() -> None:
    result = replay(read_trace(str(GOLDEN / "py-1s.dat")))
    assert_matches(result.to_dict(), json.loads((GOLDEN / "py-1s.dat.expected.json").read_text()))


def test_binary_and_its_text_report_replay_alike() -> None:
    a = replay(read_trace(str(BIN / "hb.dat")))
    b = replay(read_trace(str(BIN / "hb.report-t.txt.zst")))
    assert a.strategies == b.strategies


def _damaged(tmp_path: Path, name: str, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_damaged_files_give_one_line_with_offset(tmp_path: Path) -> None:
    good = (BIN / "hb.dat").read_bytes()
    cut = _damaged(tmp_path, "cut.dat", good[: len(good) // 2])
    with pytest.raises(InputError, match=r"offset \d+"):
        read_trace(str(cut))
    # the first section's u64 size (after the 37-byte file header and 8 bytes of id/flags/string)
    huge = bytearray(good)
    struct.pack_into("<Q", huge, 37 + 8, 1 << 40)
    with pytest.raises(InputError, match=r"offset 37\).*past the end"):
        read_trace(str(_damaged(tmp_path, "huge.dat", bytes(huge))))
    wrong = _damaged(tmp_path, "wrong.dat", b"\x17\x08Dtracing9\0" + good[13:200])
    with pytest.raises(InputError, match=r"unsupported trace\.dat version"):
        read_trace(str(wrong))
    runner = CliRunner()
    for p in (cut, wrong):
        res = runner.invoke(app, ["replay", str(p)])
        assert res.exit_code == 1
        assert len(res.stderr.strip().splitlines()) == 1 and "offset" in res.stderr


def test_missed_event_page_flags() -> None:
    """SYNTHETIC pages: bit 31 = events missed, bit 30 = the count is stored after the data."""
    import numpy as np

    from xpfotrace.converters.binary.ringbuffer import decode_pages
    from xpfotrace.core.traceinfo import TraceInfo

    def page(commit_flags: int, stored: int | None) -> bytes:
        record = struct.pack("<I", (2 << 0) | (5 << 5)) + b"\x07" * 8  # type_len 2, delta 5
        data = record + (struct.pack("<Q", stored) if stored is not None else b"")
        head = struct.pack("<QQ", 1000, len(record) | commit_flags)
        return (head + data).ljust(4096, b"\0")

    buf = np.frombuffer(page(1 << 31 | 1 << 30, 17) + page(1 << 31, None) + page(0, None),
                        np.uint8)
    rec = decode_pages(buf, 4096)
    assert (rec.lost, rec.lost_unknown) == (17, 1)
    assert rec.ts.tolist() == [1005, 1005, 1005] and rec.length.tolist() == [8, 8, 8]
    info = TraceInfo(missed_pages_uncounted=rec.lost_unknown)
    assert any("without a count" in w for w in info.warnings())


@pytest.mark.parametrize("names", [
    [b"bash", b"kworker/0:1", b"a\0b", b"", b"x" * 16],          # ASCII (the usual case)
    [b"caf\xc3\xa9", b"bad\xff\xfe", b"plain"],                   # UTF-8 and invalid bytes
])
def test_comm_fields_decode_as_utf8(names: list[bytes]) -> None:
    """read_str (a char[16] field of each record; SYNTHETIC records): NULs at the end
    dropped, UTF-8 decoded, invalid bytes replaced, whichever path it takes."""
    buf = np.frombuffer(b"".join(b"HEAD" + n.ljust(16, b"\0") for n in names), np.uint8)
    off = np.arange(len(names), dtype=np.int64) * 20
    got = read_str(buf, off, Field("comm", 4, 16, False, 16)).tolist()
    assert got == [n.rstrip(b"\0").decode("utf-8", errors="replace") for n in names]
