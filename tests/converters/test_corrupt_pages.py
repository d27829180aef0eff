"""Damaged binary traces: a corrupt trace.dat ring-buffer page or perf.data sample is a
counted warning with its offset, never a silent loss nor a crash. Every damaged file
here is a SYNTHETIC mutation of a real fixture."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import zstandard
from paths import binary_path  # noqa: F401  (each test on both paths: tests/paths.py)

from xpfotrace import XpfoError, convert, read_trace, replay
from xpfotrace.trace import Trace

HERE = Path(__file__).parent.parent
BIN = HERE / "fixtures" / "binary"
GOLDEN = HERE / "fixtures" / "golden"
PAGE = 4096


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    return data


@pytest.fixture(scope="module")
def v7none() -> bytes:
    """hb.dat's events in an uncompressed trace.dat v7: pages at plain file offsets."""
    return _raw(BIN / "v7none.dat.zst")


@pytest.fixture(scope="module")
def base() -> Trace:
    return read_trace(str(BIN / "hb.dat"))


def _page(data: bytes, cpu: int, index: int) -> tuple[int, np.ndarray]:
    """File offset of a CPU's ``index``-th ring-buffer page, and its records' payload
    offsets within the page."""
    from xpfotrace.converters.binary.ringbuffer import decode_pages
    from xpfotrace.converters.binary.tracedat import header as tracedat

    hdr = tracedat.read_header(data)
    off = dict((c, o) for c, o, _ in hdr.cpu_data)[cpu]
    at = off + index * PAGE
    rec = decode_pages(np.frombuffer(data[at:at + PAGE], np.uint8), PAGE)
    return at, rec.offset


def _damaged(tmp_path: Path, data: bytearray, name: str = "t.dat") -> str:
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return str(path)


def _check_one_page(tr: Trace, base: Trace, page_at: int, held: int) -> None:
    info = tr.info
    assert info.corrupt_pages == 1 and info.corrupt_at == f"offset {page_at}"
    assert tr.df.height == base.df.height - held  # the page's events, and no others
    assert abs(info.corrupt_events - held) <= held // 5  # (estimated when unwalkable)
    (warning,) = [w for w in info.warnings() if "corrupt ring-buffer page" in w]
    assert f"first at offset {page_at}" in warning and "event(s) in them skipped" in warning
    assert info.cpus == 2
    assert tr.df["seq"].to_list() == list(range(tr.df.height))


@pytest.mark.parametrize("how", ["zero", "flip"])
def test_damaged_record_header_skips_its_page(tmp_path: Path, v7none: bytes, base: Trace,
                                              how: str) -> None:
    page_at, offsets = _page(v7none, 1, 10)
    header = page_at + int(offsets[20]) - 4  # the 21st record's header word
    data = bytearray(v7none)
    if how == "zero":
        data[header:header + 4] = b"\0\0\0\0"
    else:
        data[header] ^= 0x04  # type_len: one word longer
    tr = read_trace(_damaged(tmp_path, data))
    _check_one_page(tr, base, page_at, len(offsets))


def test_page_timestamp_running_ahead_blames_that_page(tmp_path: Path, v7none: bytes,
                                                       base: Trace) -> None:
    page_at, offsets = _page(v7none, 0, 30)
    data = bytearray(v7none)
    (stamp,) = struct.unpack_from("<Q", data, page_at)
    struct.pack_into("<Q", data, page_at, stamp + 10**12)  # 1000 s later
    tr = read_trace(_damaged(tmp_path, data))
    _check_one_page(tr, base, page_at, len(offsets))
    assert tr.info.corrupt_events == len(offsets)  # the page parsed: an exact count
    span = tr.df["ts"].max() - tr.df["ts"].min()  # type: ignore[operator]
    assert span == base.df["ts"].max() - base.df["ts"].min()  # type: ignore[operator]


def test_page_timestamp_running_back_blames_that_page(tmp_path: Path, v7none: bytes,
                                                      base: Trace) -> None:
    page_at, offsets = _page(v7none, 1, 40)
    data = bytearray(v7none)
    (stamp,) = struct.unpack_from("<Q", data, page_at)
    struct.pack_into("<Q", data, page_at, stamp - 10**11)
    tr = read_trace(_damaged(tmp_path, data))
    _check_one_page(tr, base, page_at, len(offsets))


def test_commit_size_beyond_the_page_is_a_corrupt_page_not_an_error(
        tmp_path: Path, v7none: bytes, base: Trace) -> None:
    page_at, offsets = _page(v7none, 0, 5)
    data = bytearray(v7none)
    struct.pack_into("<Q", data, page_at + 8, PAGE + 100)
    tr = read_trace(_damaged(tmp_path, data))
    _check_one_page(tr, base, page_at, len(offsets))


def test_corrupt_counts_in_the_parquet_metadata(tmp_path: Path, v7none: bytes) -> None:
    page_at, offsets = _page(v7none, 1, 10)
    data = bytearray(v7none)
    data[page_at + int(offsets[20]) - 4:page_at + int(offsets[20])] = b"\0\0\0\0"
    out = tmp_path / "t.parquet"
    info = convert(_damaged(tmp_path, data), str(out))
    meta = {k.decode(): v.decode() for k, v in pq.ParquetFile(out).metadata.metadata.items()}
    assert meta["xpfotrace.corrupt_pages"] == "1"
    assert meta["xpfotrace.corrupt_events"] == str(info.corrupt_events)
    assert meta["xpfotrace.corrupt_at"] == f"offset {page_at}"
    assert read_trace(str(out)).info.warnings() == info.warnings()


def test_clean_binary_files_write_no_new_keys(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    convert(str(BIN / "hb.dat"), str(out))
    meta = pq.ParquetFile(out).metadata.metadata
    assert not [k for k in meta if b"corrupt" in k or b"outlier" in k or b"skipped_rec" in k]


@pytest.fixture(scope="module")
def perf_raw() -> bytes:
    return _raw(GOLDEN / "forks-1s.perf.data.zst")


def _samples(data: bytes) -> np.ndarray:
    from xpfotrace.converters.binary.perfdata.header import REC_SAMPLE
    from xpfotrace.converters.binary.perfdata.records import _record_positions

    _, _, _, _, _, data_off, data_len, _, _ = struct.unpack_from("<8sQQQQQQQQ", data, 0)
    d = np.frombuffer(data, np.uint8, count=data_len, offset=data_off)
    pos = _record_positions(d)
    rtype = d[pos[:, None] + np.arange(4)].copy().view("<u4").ravel()
    out: np.ndarray = data_off + pos[rtype == REC_SAMPLE]
    return out


# sample_type IDENT IP TID TIME CPU PERIOD RAW: header 8, then 8-byte fields; TIME at 32,
# the raw data's u32 size at 56
@pytest.mark.parametrize(("where", "value", "fmt"), [
    (56, 4, "<I"),  # raw size: the record's contents no longer fit its size
    (56, 1 << 20, "<I"),  # raw data running past the record
    (32, 1 << 50, "<Q"),  # a time far ahead of its CPU's neighbours
])
def test_damaged_perf_sample_is_skipped_and_counted(tmp_path: Path, perf_raw: bytes,
                                                    where: int, value: int, fmt: str) -> None:
    samples = _samples(perf_raw)
    victim = int(samples[len(samples) // 3])
    data = bytearray(perf_raw)
    struct.pack_into(fmt, data, victim + where, value)
    path = tmp_path / "t.perf.data"
    path.write_bytes(bytes(data))
    base = read_trace(str(GOLDEN / "forks-1s.perf.data.zst"))
    tr = read_trace(str(path))
    assert (tr.info.corrupt_pages, tr.info.corrupt_events) == (1, 1)
    assert tr.info.corrupt_at == f"offset {victim}"
    assert tr.df.height == base.df.height - 1
    assert any("damaged sample record" in w and f"first at offset {victim}" in w
               for w in tr.info.warnings())
    span = tr.df["ts"].max() - tr.df["ts"].min()  # type: ignore[operator]
    assert span == base.df["ts"].max() - base.df["ts"].min()  # type: ignore[operator]


FUZZED = [
    ("hb.dat", BIN / "hb.dat"),
    ("py-1s.dat", GOLDEN / "py-1s.dat"),
    ("v6.dat", BIN / "v6.dat.zst"),
    ("v7none.dat", BIN / "v7none.dat.zst"),
    ("forks.perf.data", GOLDEN / "forks-1s.perf.data.zst"),
]


def _mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 5))):
        at = rng.randrange(len(out))
        kind = rng.randrange(4)
        if kind == 0:
            out[at] ^= 1 << rng.randrange(8)
        elif kind == 1:
            out[at] = 0
        else:
            width = 4 if kind == 2 else 8
            out[at:at + width] = rng.randbytes(width)
    return bytes(out)


@pytest.mark.parametrize(("name", "source"), FUZZED, ids=[n for n, _ in FUZZED])
def test_random_mutations_end_in_a_result_or_an_input_error(
        tmp_path: Path, name: str, source: Path) -> None:
    """A bounded fuzz (SYNTHETIC, seeded): 30 random mutations of each binary fixture.
    Each ends in a trace (replayed) of no more CPUs than the header's, or an XpfoError;
    nothing else escapes."""
    data = _raw(source)
    header_cpus = read_trace(str(source)).info.cpus
    count = 20 if name.endswith("perf.data") else 30  # (the perf.data is 22 MB)
    outcomes = {"trace": 0, "error": 0}
    for seed in range(count):
        path = tmp_path / name
        path.write_bytes(_mutate(data, random.Random(f"{name}-{seed}")))
        try:
            tr = read_trace(str(path))
        except XpfoError:
            outcomes["error"] += 1
            continue
        assert tr.info.cpus <= header_cpus, seed
        assert tr.df["seq"].to_list() == list(range(tr.df.height)), seed
        result = replay(tr, strategies="sync,deferred")
        assert result.cpus == tr.info.cpus
        outcomes["trace"] += 1
    assert outcomes["trace"] > 0
