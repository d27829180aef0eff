"""perf.data the ways people record it (issue 16): ``perf kmem --page record`` and ``-g``
(callchains), pipe mode (``-o -``), ``-z`` (zstd COMPRESSED records), other events mixed
with the tracepoints, and the sample fields between and after them (READ groups, ADDR,
REGS, WEIGHT, DATA_SRC, PHYS_ADDR, DATA_PAGE_SIZE). Real captures:
tests/fixtures/perf/README.md.

Each is checked against ``perf script --ns`` three ways: the committed ``perf script``
text through the text reader (every column), the same text through a small independent
line parser here (every row's time, CPU, pid, comm, event, pfn, order, next_pid), and
``expected.json`` (event counts and first rows) written from that text. With perf
installed, ``perf script`` is also run on the file at test time and compared row for row.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import struct
import subprocess
import threading
import types
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import zstandard
from paths import binary_path  # noqa: F401  (each test on both paths: tests/paths.py)
from test_tracedat import COLUMNS

from xpfotrace import InputError, XpfoError, read_trace, replay


def _perf_names() -> types.SimpleNamespace:
    """The perf.data reader's modules' names in one namespace (it is a package of four)."""
    from xpfotrace.converters.binary.perfdata import comms, header, records, samples

    return types.SimpleNamespace(**{k: v for m in (header, records, samples, comms)
                                    for k, v in vars(m).items() if not k.startswith("__")})


PERF = Path(__file__).parent.parent / "fixtures" / "perf"
EXPECTED = json.loads((PERF / "expected.json").read_text())

#: fixture name: the perf.data file
FILES = {
    "kmem-page": PERF / "kmem-page.perf.data.zst",
    "pipe": PERF / "pipe.perf.data.zst",
    "z": PERF / "z.perf.data",
    "mixed": PERF / "mixed.perf.data.zst",
    "layouts": PERF / "layouts.perf.data.zst",
    "task-mixed": PERF / "task-mixed.perf.data.zst",
}
NAMES = list(FILES)
#: the columns the line parser below reads from perf script text
ROW_COLUMNS = ["ts", "cpu", "pid", "comm", "event", "pfn", "order", "next_pid"]

_LINE = re.compile(r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)(?:/-?\d+)?\s+\[(?P<cpu>\d+)\]\s+"
                   r"(?P<sec>\d+)\.(?P<ns>\d{9}):\s+(?:\d+\s+)?(?P<event>[\w:.-]+):"
                   r"(?:\s+(?P<rest>.*))?$")


def _int(rest: str, key: str) -> int | None:
    m = re.search(rf"(?:^|\s){key}=(0x[0-9a-f]+|-?\d+)", rest)
    return int(m.group(1), 0) if m else None


def script_rows(text: str) -> tuple[list[tuple[Any, ...]], int]:
    """(rows, group-read copies) of ``perf script --ns`` text: one row per sample line
    (ROW_COLUMNS), callchain lines ignored. With a group read (``{a,b}:S``) perf prints
    each leader sample once more per group member, under the member's name but with the
    leader's data (same time, CPU, pid and fields): these copies are counted, not rows."""
    rows: list[tuple[Any, ...]] = []
    copies = 0
    last: tuple[str, ...] | None = None
    for line in text.splitlines():
        m = _LINE.match(line)
        if not m:
            continue
        rest = m.group("rest") or ""
        key = (m.group("sec"), m.group("ns"), m.group("cpu"), m.group("pid"), rest)
        if last == key and "=" in rest:
            copies += 1
            continue
        last = key
        event = m.group("event").rsplit(":", 1)[-1] if ":" in m.group("event") else \
            m.group("event")
        rows.append((int(m.group("sec")) * 10**9 + int(m.group("ns")), int(m.group("cpu")),
                     int(m.group("pid")), m.group("comm"), event,
                     _int(rest, "pfn") if event.startswith("mm_page") else None,
                     _int(rest, "order") if event.startswith("mm_page") else None,
                     _int(rest, "next_pid") if event == "sched_switch" else None))
    return rows, copies


def reader_rows(df: pl.DataFrame) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = df.select(ROW_COLUMNS).rows()
    return out


def _text(path: Path) -> str:
    with open(path, "rb") as fh:
        return zstandard.ZstdDecompressor().stream_reader(fh).read().decode()


def _raw(path: Path) -> bytes:
    if path.suffix != ".zst":
        return path.read_bytes()
    with open(path, "rb") as fh:
        return zstandard.ZstdDecompressor().stream_reader(fh).read()


@pytest.fixture(scope="module")
def traces() -> dict[str, pl.DataFrame]:
    return {name: read_trace(str(path)).df for name, path in FILES.items()}


@pytest.mark.parametrize("name", NAMES)
def test_every_column_as_perf_script_text_reads(name: str,
                                                traces: dict[str, pl.DataFrame]) -> None:
    binary = traces[name]
    text = read_trace(str(PERF / f"{name}.script-ns.txt.zst")).df
    cols = [c for c in COLUMNS if c != "seq"]
    tp = pl.col("event") != "cpu-clock"  # (cpu-clock lines: compared by the next test)
    assert binary.filter(tp).height == text.filter(tp).height > 0
    assert binary.filter(tp).select(cols).equals(text.filter(tp).select(cols))


@pytest.mark.parametrize("name", NAMES)
def test_every_row_as_perf_script_prints(name: str, traces: dict[str, pl.DataFrame]) -> None:
    rows, copies = script_rows(_text(PERF / f"{name}.script-ns.txt.zst"))
    assert reader_rows(traces[name]) == rows
    assert copies == EXPECTED[name]["group_read_copies"]


@pytest.mark.parametrize("name", NAMES)
def test_expected_counts_and_first_rows(name: str, traces: dict[str, pl.DataFrame]) -> None:
    """What perf script printed (expected.json), checked without perf or the text reader."""
    want = EXPECTED[name]
    df = traces[name]
    counts = dict(df.group_by("event").len().iter_rows())
    assert counts == want["events"]
    first = [dict(zip(ROW_COLUMNS, r, strict=True)) for r in reader_rows(df.head(5))]
    assert first == want["first_rows"]
    tr = read_trace(str(FILES[name]))
    assert tr.info.cpus == want["cpus"]
    assert tr.info.corrupt_events == 0 and tr.info.lost_events == want["lost_events"]


@pytest.mark.skipif(shutil.which("perf") is None, reason="perf is not installed")
@pytest.mark.parametrize("name", NAMES)
def test_live_perf_script(name: str, traces: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    """``perf script --ns`` run now on the fixture: the same rows (and, through the text
    reader, the same columns)."""
    path = tmp_path / f"{name}.perf.data"
    path.write_bytes(_raw(FILES[name]))
    res = subprocess.run(["perf", "script", "-i", str(path), "--ns", "--hide-call-graph"],
                         capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        pytest.skip(f"perf script failed here: {res.stderr.strip()[:200]}")
    rows, copies = script_rows(res.stdout)
    assert reader_rows(traces[name]) == rows
    assert copies == EXPECTED[name]["group_read_copies"]
    text = tmp_path / "script.txt"
    text.write_text(res.stdout)
    cols = [c for c in COLUMNS if c != "seq"]
    tp = pl.col("event") != "cpu-clock"
    assert traces[name].filter(tp).select(cols).equals(
        read_trace(str(text)).df.filter(tp).select(cols))


def test_compressed_and_plain_copies_read_the_same(tmp_path: Path) -> None:
    for name in ("pipe", "kmem-page"):
        plain = tmp_path / f"{name}.perf.data"
        plain.write_bytes(_raw(FILES[name]))
        assert read_trace(str(plain)).df.equals(read_trace(str(FILES[name])).df)


def test_pipe_mode_read_from_a_pipe(tmp_path: Path, traces: dict[str, pl.DataFrame]) -> None:
    """``perf record -o - | xpfotrace ...``: the pipe-mode file streamed through a FIFO."""
    fifo = tmp_path / "perf.fifo"
    os.mkfifo(fifo)
    data = _raw(FILES["pipe"])

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        df = read_trace(str(fifo), "perf.data").df
    finally:
        writer.join(timeout=30)
    assert df.equals(traces["pipe"])


# --- the record walk ---------------------------------------------------------------------


def _walk(d: bytes) -> list[int]:
    """The records' offsets by perf's sequential walk (HEADER_TRACING_DATA's data
    skipped), the reference for the vectorized one."""
    pos, out = 0, []
    while pos + 8 <= len(d):
        out.append(pos)
        rtype, _, size = struct.unpack_from("<IHH", d, pos)
        if size < 8:
            break
        pos += size
        if rtype == 66:
            pos += struct.unpack_from("<I", d, pos - size + 8)[0]
    return out


def test_walks_of_misaligned_and_compressed_streams_match_perfs() -> None:
    P = _perf_names()

    for name in ("pipe", "z"):
        data = _raw(FILES[name])
        src = P._pipe_mode(data) if name == "pipe" else P._file_mode(data)
        stream = src.d.tobytes()
        pos, _ = P._walk(src.d)
        assert pos.tolist() == _walk(stream)
        rtype, rsize = P._types_sizes(src.d, pos)
        if name == "pipe":  # after features of 20 or 84 bytes: off 8-byte alignment
            assert src.origin.one(0) % 8 != 0
            continue
        assert (rsize[rtype == P.REC_COMPRESSED] % 8 != 0).any()  # odd sizes: byte walk
        d2, origin = P._decompressed(src.d, pos, rtype, rsize, src.origin)
        pos2, _ = P._walk(d2)
        assert pos2.tolist() == _walk(d2.tobytes())
        # records cut between two COMPRESSED records are whole again (this capture has some)
        whole = set(pos2.tolist()) | {len(d2)}
        cut = [int(s) for s, c in zip(origin.starts, origin.compressed, strict=True)
               if c and int(s) not in whole]
        assert cut


def test_pipe_header_records_are_read() -> None:
    P = _perf_names()

    src = P._pipe_mode(_raw(FILES["pipe"]))
    assert [a.tracepoint for a in src.attrs].count(True) == 2
    assert all(a.ids for a in src.attrs)
    assert src.tracing is not None and src.tracing[1].startswith(b"\x17\x08Dtracing")
    assert {P.FEAT_NRCPUS, P.FEAT_EVENT_DESC} <= set(src.features)


# --- sample layouts ----------------------------------------------------------------------


def _attr(**kw: int) -> Any:
    from xpfotrace.converters.binary.perfdata.header import _Attr

    fields = dict(type=2, config=0, sample_type=0, read_format=0, sample_id_all=True,
                  branch_sample_type=0, regs_user=0, regs_intr=0)
    fields.update(kw)
    return _Attr(**fields)  # type: ignore[arg-type]


def _sample(parts: list[bytes]) -> bytes:
    body = b"".join(parts)
    return struct.pack("<IHH", 9, 0, 8 + len(body)) + body


def test_layout_steps_over_every_variable_field() -> None:
    """SYNTHETIC samples built field by field in the kernel's order
    (perf_output_sample): the raw data is found and the sample fits exactly."""
    P = _perf_names()

    def u64(*v: int) -> bytes:
        return struct.pack(f"<{len(v)}Q", *v)

    raw = struct.pack("<I", 12) + b"R" * 12  # u32 size + 12 bytes: 8-byte aligned
    st = (P.S_IDENTIFIER | P.S_IP | P.S_TID | P.S_TIME | P.S_CPU | P.S_READ | P.S_CALLCHAIN
          | P.S_RAW | P.S_BRANCH_STACK | P.S_REGS_USER | P.S_STACK_USER | P.S_WEIGHT_STRUCT
          | P.S_DATA_SRC | P.S_TRANSACTION | P.S_REGS_INTR | P.S_PHYS_ADDR | P.S_CGROUP
          | P.S_DATA_PAGE_SIZE | P.S_CODE_PAGE_SIZE | P.S_AUX)
    a = _attr(sample_type=st, read_format=P.R_GROUP | P.R_ID | P.R_TOTAL_TIME_ENABLED,
              branch_sample_type=P.BRANCH_HW_INDEX | P.BRANCH_COUNTERS,
              regs_user=0b1011, regs_intr=0b11)
    samples = []
    for nr_read, nr_chain, nr_br, abi, stack, aux in ((2, 3, 1, 2, 16, 8), (1, 0, 0, 0, 0, 0)):
        parts = [u64(7, 0xFFFF, 42 << 32 | 42, 1000, 1),  # identifier, ip, pid/tid, time, cpu
                 u64(nr_read, 5), u64(*[1, 2] * nr_read),  # group: nr, enabled, (value, id)
                 u64(nr_chain, *range(nr_chain)), raw,
                 u64(nr_br, 9), u64(*[1, 2, 3, 4] * nr_br),  # nr, hw_idx, entries, counters
                 u64(abi, *([1, 2, 3] if abi else [])),
                 u64(stack) + b"S" * stack + (u64(stack) if stack else b""),
                 u64(1, 2, 3),  # weight, data_src, transaction
                 u64(abi, *([4, 5] if abi else [])),
                 u64(6, 7, 8, 9),  # phys_addr, cgroup, data and code page sizes
                 u64(aux) + b"A" * aux]
        samples.append(_sample(parts))
    d = np.frombuffer(b"".join(samples), np.uint8)
    at = np.array([0, len(samples[0])], np.int64)
    end = at + np.array([len(s) for s in samples], np.int64)
    f = P._layout(d, at, end, a)
    assert f.fits.tolist() == [True, True]
    for k, s in enumerate(samples):
        r = int(f.raw[k] - at[k])
        assert s[r:r + 16] == raw
        assert s[int(f.time[k] - at[k]):][:8] == u64(1000)
    # one byte more or less: the fields no longer fit; a count running past: neither
    short = np.frombuffer(samples[0] + b"\0" * 8, np.uint8)
    assert not P._layout(short, at[:1], end[:1] + 8, a).fits[0]
    big = bytearray(samples[0])
    struct.pack_into("<Q", big, 8 + 40 + 16 + 32, 1 << 60)  # the callchain's nr
    bad = P._layout(np.frombuffer(bytes(big), np.uint8), at[:1], end[:1], a)
    assert not bad.fits[0]
    # a sample_type bit this reader does not know: the fields need only fit
    odd = _attr(sample_type=P.S_TID | P.S_TIME | P.S_CPU | P.S_RAW | (1 << 30))
    one = _sample([u64(1, 2, 3), raw, b"extra..."])
    f = P._layout(np.frombuffer(one, np.uint8), np.zeros(1, np.int64),
                  np.array([len(one)], np.int64), odd)
    assert f.fits[0] and int(f.raw[0]) == 32


# --- refusals and damage ------------------------------------------------------------------


def test_perf_data_v1_and_big_endian_are_named(tmp_path: Path) -> None:
    data = _raw(FILES["pipe"])
    for magic, message in ((b"PERFFILE", "perf.data v1 is not supported"),
                           (b"2ELIFREP", "big-endian perf.data is not supported")):
        path = tmp_path / "old.data"
        path.write_bytes(magic + data[8:])
        with pytest.raises(InputError, match=message):
            read_trace(str(path), "perf.data")


def test_perf_data_v1_is_named_when_detected(tmp_path: Path) -> None:
    """Detection by content (converters/__init__.py sniffs binary/magic.py PERF_MAGICS)."""
    from xpfotrace.converters import detect_format

    path = tmp_path / "old.data"
    path.write_bytes(b"PERFFILE" + _raw(FILES["pipe"])[8:])
    try:
        fmt = detect_format(str(path))
    except InputError:
        pytest.skip("converters/__init__.py does not sniff PERF_MAGICS yet")
    assert fmt == "perf.data"
    with pytest.raises(InputError, match=r"perf\.data v1 is not supported"):
        read_trace(str(path))


def _file_samples(data: bytes) -> tuple[int, np.ndarray, np.ndarray]:
    P = _perf_names()

    src = P._file_mode(data)
    pos, _ = P._walk(src.d)
    rtype, _ = P._types_sizes(src.d, pos)
    off = src.origin.one(0)
    return off, off + pos[rtype == P.REC_SAMPLE], off + pos


def test_damaged_callchain_sample_is_skipped_and_counted(
        tmp_path: Path, traces: dict[str, pl.DataFrame]) -> None:
    """SYNTHETIC: one ``perf kmem --page record`` sample's callchain nr (after IDENTIFIER,
    IP, TID, TIME, CPU, PERIOD: byte 56) made too large for its record."""
    data = bytearray(_raw(FILES["kmem-page"]))
    _, samples, _ = _file_samples(bytes(data))
    victim = int(samples[len(samples) // 2])
    struct.pack_into("<Q", data, victim + 56, 1 << 40)
    path = tmp_path / "t.perf.data"
    path.write_bytes(bytes(data))
    tr = read_trace(str(path))
    assert (tr.info.corrupt_events, tr.info.corrupt_at) == (1, f"offset {victim}")
    assert tr.df.height == traces["kmem-page"].height - 1


def test_sample_of_an_unknown_id_is_damaged(tmp_path: Path,
                                            traces: dict[str, pl.DataFrame]) -> None:
    """SYNTHETIC: one sample's IDENTIFIER (its first u64) changed to no attr's ID."""
    data = bytearray(_raw(FILES["mixed"]))
    _, samples, _ = _file_samples(bytes(data))
    victim = int(samples[len(samples) // 3])
    struct.pack_into("<Q", data, victim + 8, 0xDEADBEEF)
    path = tmp_path / "t.perf.data"
    path.write_bytes(bytes(data))
    tr = read_trace(str(path))
    assert (tr.info.corrupt_events, tr.info.corrupt_at) == (1, f"offset {victim}")
    assert tr.df.height == traces["mixed"].height - 1


def test_mixed_layouts_without_ids_are_refused_with_the_mixed_layout_message(
        tmp_path: Path) -> None:
    """SYNTHETIC: the attrs' sample-ID lists emptied: cpu-clock and tracepoint samples
    (different layouts) can no longer be told apart."""
    data = bytearray(_raw(FILES["mixed"]))
    _, attr_size, attr_off, attr_len = struct.unpack_from("<QQQQ", data, 8)
    for a in range(attr_off, attr_off + attr_len, attr_size):
        struct.pack_into("<Q", data, a + attr_size - 8, 0)  # ids section size
    path = tmp_path / "t.perf.data"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match="mixed sample layouts"):
        read_trace(str(path))


def test_corrupt_zstd_names_its_compressed_record(tmp_path: Path) -> None:
    P = _perf_names()

    data = bytearray(_raw(FILES["z"]))
    off, _, pos = _file_samples(bytes(data))
    src = P._file_mode(bytes(data))
    rtype, _ = P._types_sizes(src.d, pos - off)
    victim = int(pos[rtype == P.REC_COMPRESSED][3])
    data[victim + 8:victim + 24] = b"\xff" * 16
    path = tmp_path / "t.perf.data"
    path.write_bytes(bytes(data))
    with pytest.raises(XpfoError) as exc:
        read_trace(str(path))
    assert len(str(exc.value).splitlines()) == 1


@pytest.mark.parametrize("name", ["pipe", "z", "kmem-page"])
def test_random_mutations_end_in_a_result_or_an_input_error(tmp_path: Path,
                                                            name: str) -> None:
    """A bounded fuzz (SYNTHETIC, seeded): 12 random mutations of each fixture. Each ends in
    a trace (replayed) or an XpfoError; nothing else escapes."""
    data = _raw(FILES[name])
    outcomes = {"trace": 0, "error": 0}
    for seed in range(12):
        rng = random.Random(f"{name}-{seed}")
        out = bytearray(data)
        for _ in range(rng.choice((1, 2, 5))):
            at = rng.randrange(len(out))
            width = rng.choice((1, 4, 8))
            out[at:at + width] = rng.randbytes(width)
        path = tmp_path / f"{name}.perf.data"
        path.write_bytes(bytes(out))
        try:
            tr = read_trace(str(path), "perf.data")
        except XpfoError:
            outcomes["error"] += 1
            continue
        assert tr.df["seq"].to_list() == list(range(tr.df.height)), seed
        replay(tr, strategies="sync")
        outcomes["trace"] += 1
    assert outcomes["trace"] > 0
