"""The compiled loops of the binary readers (converters/_cbin.pyx) against the numpy paths
they replace (``XPFOTRACE_NO_NATIVE=1``): every binary fixture, and SYNTHETIC damaged
copies of each (seeded mutations), read alike on both paths, to the warnings, errors and
Parquet metadata; and each loop alone gives what its numpy version gives, on random
input, including input no real file holds."""

from __future__ import annotations

import random
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from xpfotrace import XpfoError, convert
from xpfotrace.converters.binary import binfile, rawevents, ringbuffer
from xpfotrace.converters.binary.perfdata import comms as perf_comms
from xpfotrace.converters.binary.perfdata import header as perf_header
from xpfotrace.converters.binary.perfdata import records as perf_records
from xpfotrace.converters.binary.perfdata import samples as perf_samples

#: the perf.data reader's modules' names in one namespace
PERF = types.SimpleNamespace(**{k: v for m in (perf_header, perf_records, perf_samples, perf_comms)
                                for k, v in vars(m).items() if not k.startswith("__")})

HERE = Path(__file__).parent.parent
FIXTURES = HERE / "fixtures"
#: every binary trace among the fixtures
BINARY = sorted(p for p in FIXTURES.rglob("*")
                if (".dat" in p.name or ".perf.data" in p.name) and "expected" not in p.name)
#: the bench's real captures, when present (not in git)
BENCH = sorted((HERE.parent / "bench" / "data").glob("kbuild-*.dat")) + sorted(
    (HERE.parent / "bench" / "data").glob("*.perf.data"))

pytestmark = pytest.mark.skipif(binfile.cbin is None,
                                reason="converters._cbin is not built (no C compiler)")


def _outcome(path: Path, out: Path, **kw: Any) -> dict[str, Any]:
    """What converting ``path`` gives: the table and the file's metadata, or the error."""
    try:
        info = convert(str(path), str(out), **kw)
    except XpfoError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}
    meta = pq.ParquetFile(out).metadata.metadata
    return {"table": pq.read_table(out), "meta": meta, "warnings": info.warnings()}


def _both(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          **kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    monkeypatch.delenv("XPFOTRACE_NO_NATIVE", raising=False)
    assert binfile.native()  # else both sides would be the numpy path
    fast = _outcome(path, tmp_path / "native.parquet", **kw)
    monkeypatch.setenv("XPFOTRACE_NO_NATIVE", "1")
    assert not binfile.native()
    slow = _outcome(path, tmp_path / "numpy.parquet", **kw)
    monkeypatch.delenv("XPFOTRACE_NO_NATIVE")
    return fast, slow


def _same(fast: dict[str, Any], slow: dict[str, Any]) -> None:
    assert fast.keys() == slow.keys(), (fast.get("error"), slow.get("error"))
    if "error" in fast:
        assert fast["error"] == slow["error"]
        return
    assert fast["table"].equals(slow["table"], check_metadata=True)
    assert fast["meta"] == slow["meta"]
    assert fast["warnings"] == slow["warnings"]


def test_the_fixtures_are_found() -> None:
    names = {p.name for p in BINARY}
    assert {"hb.dat", "py-1s.dat", "z.perf.data", "pipe.perf.data.zst"} <= names
    assert len(BINARY) >= 15


@pytest.mark.parametrize("path", BINARY + BENCH, ids=lambda p: p.name)
def test_every_binary_fixture_reads_alike(path: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = _both(path, tmp_path, monkeypatch)
    _same(fast, slow)


@pytest.mark.parametrize("buffer", ["top", "instance", "nope"])
@pytest.mark.parametrize("name", ["all-buffers.dat", "all-buffers.v6.dat.zst", "instance.dat",
                                  "both-paged.dat"])
def test_each_buffer_reads_alike(name: str, buffer: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fast, slow = _both(FIXTURES / "variants" / name, tmp_path, monkeypatch, buffer=buffer)
    _same(fast, slow)


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    return data


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """A SYNTHETIC damage: flipped bits, a zeroed or garbage word, an odd record header
    word, or a cut, past the file's first third (mostly record data)."""
    out = bytearray(data)
    n = len(out)
    kind = rng.randrange(5)
    at = rng.randrange(n // 3, n - 8) & ~3
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(n // 3, n)
            out[i] ^= 1 << rng.randrange(8)
    elif kind == 1:
        out[at:at + 4] = b"\0\0\0\0"
    elif kind == 2:
        out[at:at + 8] = rng.randbytes(8)
    elif kind == 3:
        out[at:at + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x1d\0\0\0", b"\x1e\0\0\0",
                                     b"\x1f\0\0\0", b"\0\0\0\x80", b"\x09\0\0\xff"])
    else:
        del out[rng.randrange(n // 2, n):]
    return bytes(out)


#: the fixtures whose data is not compressed (mutations of compressed data mostly end in
#: a zstd error, before any record is read)
PLAIN = [p for p in BINARY
         if p.name in ("hb.dat", "py-1s.dat", "v7none.dat.zst", "v6.dat.zst",
                       "syscalls.dat", "stacktrace.dat", "z.perf.data", "kmem-page.perf.data.zst",
                       "layouts.perf.data.zst", "pipe.perf.data.zst", "mixed.perf.data.zst",
                       "forks-1s.perf.data.zst")]


@pytest.mark.parametrize("path", PLAIN, ids=lambda p: p.name)
def test_damaged_copies_read_alike(path: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Seeded mutations of each file: both paths give the same trace with the same
    counted warnings (corrupt pages, damaged samples, malformed records), or the same
    error."""
    data = _raw(path)
    kinds = {"table": 0, "error": 0}
    for seed in range(10):
        damaged = tmp_path / ("d" + "".join(path.suffixes[:2]).replace(".zst", ""))
        damaged.write_bytes(_mutate(data, random.Random(f"{path.name}-{seed}")))
        fast, slow = _both(damaged, tmp_path, monkeypatch)
        _same(fast, slow)
        kinds["error" if "error" in fast else "table"] += 1
    assert kinds["table"]


# --- each loop alone ---------------------------------------------------------------------


def _numpy(monkeypatch: pytest.MonkeyPatch, fn: Callable[..., Any], *args: Any) -> Any:
    with monkeypatch.context() as m:
        m.setenv("XPFOTRACE_NO_NATIVE", "1")
        return fn(*args)


def _page(rng: np.random.Generator, page_size: int, ts: int) -> bytes:
    """A ring-buffer page of random records: data records (small and big), time extends,
    padding, now and then an absolute time stamp; a third of the pages damaged (a random
    word, a wrong commit size, a missed-events flag)."""
    body = bytearray()
    limit = page_size - 16 - int(rng.integers(0, 64))
    while True:
        kind = int(rng.integers(0, 400))
        delta = int(rng.integers(0, 1 << 20))
        if kind < 320:  # data, small (one word: shorter than an event, damaged)
            words = int(rng.integers(1, 29)) if kind < 2 else int(rng.integers(2, 29))
            rec = int(words | delta << 5).to_bytes(4, "little") + bytes(rng.integers(
                0, 256, 4 * words, dtype=np.uint8))
        elif kind < 360:  # data, big: length in array[0]
            length = int(rng.integers(0 if kind == 320 else 8, 200))
            rec = int(delta << 5).to_bytes(4, "little") + (length + 4).to_bytes(4, "little")
            rec += bytes(rng.integers(0, 256, (length + 3) & ~3, dtype=np.uint8))
        elif kind < 385:
            rec = int(30 | delta << 5).to_bytes(4, "little") + int(
                rng.integers(0, 4)).to_bytes(4, "little")
        elif kind < 399:  # padding of array[0] bytes after its header
            pad = int(rng.integers(1, 8)) * 4
            rec = int(29 | delta << 5).to_bytes(4, "little") + pad.to_bytes(4, "little")
            rec += bytes(pad - 4)
        else:  # an absolute time stamp (often behind: a damaged page)
            rec = int(31 | delta << 5).to_bytes(4, "little") + int(
                rng.integers(0, 1 << 32)).to_bytes(4, "little")
        if len(body) + len(rec) > limit:
            break
        body += rec
    commit = len(body)
    damage = int(rng.integers(0, 9))
    if damage == 0 and body:  # a random word
        at = int(rng.integers(0, len(body)))
        body[at:at + 4] = bytes(rng.integers(0, 256, 4, dtype=np.uint8))
    elif damage == 1:
        commit = int(rng.integers(0, page_size))
    elif damage == 2:
        commit |= 1 << 31 | (1 << 30 if rng.random() < 0.5 else 0)
    page = ts.to_bytes(8, "little") + commit.to_bytes(8, "little") + bytes(body)
    if damage == 2 and commit & 1 << 30:  # the missed count after the data
        page = page[:16 + len(body)] + int(rng.integers(0, 1000)).to_bytes(8, "little")
    return page.ljust(page_size, b"\0")[:page_size]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.sampled_from([64, 256, 4096]))
def test_page_walk_matches_the_lockstep_walk(seed: int, pages: int, page_size: int) -> None:
    rng = np.random.default_rng(seed)
    ts0 = int(rng.integers(0, 1 << 62))
    parts = []
    for _ in range(pages):  # now and then a page starts before the previous one ends
        parts.append(_page(rng, page_size, ts0))
        ts0 += int(rng.integers(-(1 << 27), 1 << 33))
    buf = np.frombuffer(b"".join(parts), np.uint8)
    with pytest.MonkeyPatch.context() as m:
        fast = ringbuffer.decode_pages(buf, page_size)
        m.setenv("XPFOTRACE_NO_NATIVE", "1")
        slow = ringbuffer.decode_pages(buf, page_size)
    for name in ("ts", "offset", "length", "bad_pages", "bad_events"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name)), name
    assert (fast.lost, fast.lost_unknown) == (slow.lost, slow.lost_unknown)
    # and the raw walks, record for record
    starts = np.arange(pages, dtype=np.int64) * page_size
    cur = starts + 16
    end = cur + np.minimum(buf.view("<u8")[1::page_size // 8].astype(np.int64) & ((1 << 27) - 1),
                           page_size - 16)
    clock = buf.view("<i8")[0::page_size // 8].copy()
    native = ringbuffer._walk_native(buf, cur, end, clock)
    assert native is not None
    for a, b in zip(native, ringbuffer._walk_lockstep(buf, cur, end, clock), strict=True):
        assert np.array_equal(a, b)


def _stream(rng: random.Random, odd: bool) -> bytes:
    """perf records: kernel ones (sizes multiples of 8), perf's own (odd sizes when
    ``odd``), then maybe garbage."""
    out = bytearray()
    for _ in range(rng.randrange(1, 200)):
        if odd and rng.random() < 0.1:
            rtype, size = rng.randrange(64, 128), rng.randrange(8, 300)
        else:
            rtype, size = rng.randrange(1, 20), 8 * rng.randrange(1, 40)
        out += rtype.to_bytes(4, "little") + b"\0\0" + size.to_bytes(2, "little")
        out += rng.randbytes(size - 8)
    if rng.random() < 0.3:
        out += rng.randbytes(rng.randrange(1, 40))
    return bytes(out)


@pytest.mark.parametrize("seed", range(40))
def test_record_chain_matches_pointer_jumping(seed: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    d = np.frombuffer(_stream(rng, odd=seed % 2 == 1), np.uint8)
    for step in (8, 1):
        pos, end = perf_records._chain(d, step)
        want_pos, want_end = _numpy(monkeypatch, perf_records._chain, d, step)
        assert np.array_equal(pos, want_pos) and end == want_end, step
    fast = _walk_or_error(d)
    slow = _numpy(monkeypatch, _walk_or_error, d)
    assert fast == slow


def _walk_or_error(d: np.ndarray) -> Any:
    try:
        pos, blobs = perf_records._walk(d)
    except binfile.BinaryFormatError as exc:
        return str(exc), exc.offset
    return pos.tolist(), blobs


def test_gather_reads_every_width_and_refuses_outside() -> None:
    assert binfile.cbin is not None
    buf = np.frombuffer(bytes(range(256)) * 4, np.uint8)
    at = np.array([0, 3, 17, 1000, 1016], np.int64)
    for width, kind in ((1, "u1"), (2, "u2"), (4, "u4"), (8, "u8")):
        for signed in (False, True):
            for big in (False, True):
                dt = np.dtype((">" if big else "<") + ("i" if signed else "u") + kind[1:])
                want = buf[at[:, None] + np.arange(width)].copy().view(dt).ravel()
                got = binfile.cbin.gather(buf, at, width, signed, big)
                assert got is not None
                assert np.array_equal(got, want.astype(np.int64)), (width, signed, big)
    for bad in ([-1], [1024 - 3], [1 << 40]):
        assert binfile.cbin.gather(buf, np.array(bad, np.int64), 4, False, False) is None
    assert binfile.cbin.gather(buf, at, 3, False, False) is None


def test_read_fields_match_read_int(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-pass field reader against ``read_int`` per field, every width and sign."""
    assert binfile.cbin is not None
    rng = np.random.default_rng(7)
    buf = rng.integers(0, 256, 1 << 16, dtype=np.uint8)
    n = 5000
    off = np.sort(rng.integers(0, (1 << 16) - 64, n)).astype(np.int64)
    codes = rng.integers(0, 3, n).astype(np.int64)
    from xpfotrace.converters.binary.eventformat import Field
    fields = {0: [Field("a", 0, 4, True), Field("b", 8, 8, False)],
              1: [Field("a", 2, 2, True), Field("c", 5, 1, False)],
              2: [Field("b", 16, 8, True), Field("c", 12, 4, False)]}
    cols = {"a": 0, "b": 1, "c": 2}
    spec, starts = [], [0]
    for k in range(3):
        spec += [(cols[f.name], f.offset, f.size, int(f.signed)) for f in fields[k]]
        starts.append(len(spec))
    for big in (False, True):
        got = binfile.cbin.read_fields(buf, off, codes, np.array(starts, np.int64),
                                       np.array(spec, np.int64), 3, big)
        assert got is not None
        values, valid = got
        for k, fs in fields.items():
            rows = np.flatnonzero(codes == k)
            for f in fs:
                want = _numpy(monkeypatch, rawevents.read_int, buf, off[rows], f, big)
                assert np.array_equal(values[cols[f.name], rows], want)
                assert valid[cols[f.name], rows].all()
        for name, col in cols.items():
            unset = ~np.isin(codes, [k for k, fs in fields.items()
                                     if name in {f.name for f in fs}])
            assert not valid[col, unset].any() and not values[col, unset].any()
    far = off.copy()
    far[-1] = (1 << 16) - 2
    assert binfile.cbin.read_fields(buf, far, codes, np.array(starts, np.int64),
                                    np.array(spec, np.int64), 3, False) is None


def test_take_strings_matches_pyarrow() -> None:
    values = pa.array(["", "bash", "kworker/0:1", "é∂", "x" * 40], pa.string())
    rng = np.random.default_rng(3)
    idx = rng.integers(-1, 5, 10_000).astype(np.int64)
    with pytest.MonkeyPatch.context() as m:
        m.delenv("XPFOTRACE_NO_NATIVE", raising=False)
        fast = rawevents.take_strings(values, idx)
        sliced = rawevents.take_strings(values.slice(1), np.maximum(idx - 1, -1))
    slow = values.take(pa.array(idx, mask=idx < 0))
    assert fast.equals(slow) and fast.null_count == int((idx < 0).sum())
    assert sliced.equals(values.slice(1).take(pa.array(np.maximum(idx - 1, -1),
                                                       mask=idx - 1 < 0)))
    assert binfile.cbin is not None
    offsets = np.array([0, 1, 3], np.int32)
    data = np.frombuffer(b"abc", np.uint8)
    assert binfile.cbin.take_strings(offsets, data, np.array([2], np.int64)) is None
    with pytest.raises(IndexError):  # pyarrow's error, as without the loop
        rawevents.take_strings(pa.array(["a", "b"]), np.array([0, 2], np.int64))


@pytest.mark.parametrize("seed", range(10))
def test_asof_search_matches_the_polars_join(seed: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Each sample's comm: the last COMM record of its thread at or before it (ties: the
    later record), as Polars' backward as-of join gives it; -1 and 0 are named."""
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(0, 60)), 3000
    comms = pl.DataFrame({
        "pid": rng.integers(-1, 12, m).astype(np.int32),
        "_pos": rng.integers(0, 50, m).astype(np.int64),  # many ties
        "_file": np.arange(m, dtype=np.int64),
        "comm": [f"c{k}" for k in range(m)],
    }).sort("_pos", "_file")
    pid = rng.integers(-1, 14, n).astype(np.int64)
    key = rng.integers(-5, 55, n).astype(np.int64)
    fast = perf_comms._sample_comms(pid, key, comms)
    slow = _numpy(monkeypatch, perf_comms._sample_comms, pid, key, comms)
    assert fast.equals(slow)


def _sample_for(a: Any, rng: random.Random) -> bytes:
    """A sample of ``a``'s layout, field by field in the kernel's order, with random
    counts and sizes (8-byte aligned as the kernel writes it)."""
    P = PERF

    def u64(*v: int) -> bytes:
        return b"".join(x.to_bytes(8, "little") for x in v)

    st, rf, bst = a.sample_type, a.read_format, a.branch_sample_type
    out = b""
    for bit in P.S_FIXED_HEAD:
        if st & bit:
            out += u64(rng.randrange(1 << 40))
    if st & P.S_READ:
        times = bool(rf & P.R_TOTAL_TIME_ENABLED) + bool(rf & P.R_TOTAL_TIME_RUNNING)
        per = 1 + bool(rf & P.R_ID) + bool(rf & P.R_LOST)
        if rf & P.R_GROUP:
            nr = rng.randrange(4)
            out += u64(nr, *[5] * times, *[1] * (nr * per))
        else:
            out += u64(*[1] * (times + per))
    if st & P.S_CALLCHAIN:
        nr = rng.randrange(6)
        out += u64(nr, *range(nr))
    if st & P.S_RAW:  # u32 size, the data padded so that the sample stays aligned
        body = rng.randbytes(rng.randrange(0, 40))
        body += b"\0" * (-(4 + len(body)) % 8)
        out += len(body).to_bytes(4, "little") + body
    if st & P.S_BRANCH_STACK:
        nr = rng.randrange(3)
        hw = [9] if bst & P.BRANCH_HW_INDEX else []
        out += u64(nr, *hw, *[1, 2, 3] * nr, *([4] * nr if bst & P.BRANCH_COUNTERS else []))
    if st & P.S_REGS_USER:
        abi = rng.randrange(3)
        out += u64(abi, *([7] * a.regs_user.bit_count() if abi else []))
    if st & P.S_STACK_USER:
        size = 8 * rng.randrange(3)
        out += u64(size) + b"S" * size + (u64(size) if size else b"")
    for bits in (P.S_WEIGHT | P.S_WEIGHT_STRUCT, P.S_DATA_SRC, P.S_TRANSACTION):
        if st & bits:
            out += u64(1)
    if st & P.S_REGS_INTR:
        abi = rng.randrange(3)
        out += u64(abi, *([7] * a.regs_intr.bit_count() if abi else []))
    for bit in (P.S_PHYS_ADDR, P.S_CGROUP, P.S_DATA_PAGE_SIZE, P.S_CODE_PAGE_SIZE):
        if st & bit:
            out += u64(2)
    if st & P.S_AUX:
        size = 8 * rng.randrange(3)
        out += u64(size) + b"A" * size
    if st & ~P.S_KNOWN:
        out += b"extra..."
    return (9).to_bytes(4, "little") + b"\0\0" + (8 + len(out)).to_bytes(2, "little") + out


@pytest.mark.parametrize("seed", range(30))
def test_sample_pass_matches_the_layout_steps(seed: int) -> None:
    """Every sample's fields by its attr, in the compiled pass and by ``_layout``: random
    layouts (every sample_type bit, read formats, branch flags, register masks, unknown
    bits), well-formed samples and damaged ones (cut, grown, a count overwritten)."""
    P = PERF
    assert binfile.cbin is not None
    rng = random.Random(seed)
    attrs = []
    for _ in range(rng.randrange(1, 4)):
        st = rng.getrandbits(25) | P.S_TID | P.S_TIME | P.S_CPU
        if rng.random() < 0.2:
            st |= 1 << rng.randrange(25, 40)
        attrs.append(P._Attr(type=2, config=0, sample_type=st, read_format=rng.getrandbits(5),
                             sample_id_all=True, branch_sample_type=rng.choice(
                                 [0, P.BRANCH_HW_INDEX, P.BRANCH_COUNTERS,
                                  P.BRANCH_HW_INDEX | P.BRANCH_COUNTERS]),
                             regs_user=rng.getrandbits(8), regs_intr=rng.getrandbits(8)))
    blobs, owners = [], []
    for _ in range(300):
        k = rng.randrange(-1, len(attrs)) if rng.random() < 0.05 else rng.randrange(len(attrs))
        s = bytearray(_sample_for(attrs[max(k, 0)], rng))
        damage = rng.randrange(6)
        if damage == 0 and len(s) > 16:
            cut = 8 * rng.randrange(1, len(s) // 8)
            s = s[:cut]
            s[6:8] = len(s).to_bytes(2, "little")
        elif damage == 1:
            s += b"\0" * 8
            s[6:8] = len(s).to_bytes(2, "little")
        elif damage == 2 and len(s) > 16:
            at = 8 * rng.randrange(1, len(s) // 8)
            s[at:at + 8] = rng.choice([1 << 60, 3, 0, 1 << 33]).to_bytes(8, "little")
        blobs.append(bytes(s))
        owners.append(k)
    d = np.frombuffer(b"".join(blobs), np.uint8)
    smp = np.cumsum([0] + [len(b) for b in blobs[:-1]]).astype(np.int64)
    end = smp + np.array([len(b) for b in blobs], np.int64)
    owner = np.array(owners, np.int64)
    table = np.array([[a.sample_type, a.read_format, a.branch_sample_type,
                       a.regs_user.bit_count(), a.regs_intr.bit_count()] for a in attrs],
                     np.uint64).view(np.int64)
    got = binfile.cbin.sample_fields(d, smp, end, owner, table, P.MAX_COUNT, 0, 2, False, False)
    assert got is not None
    at, fits, values, have = got
    for k, a in enumerate(attrs):
        sel = np.flatnonzero(owner == k)
        if not len(sel):
            continue
        f = P._layout(d, smp[sel], end[sel], a)
        for row, want in enumerate((f.tid, f.time, f.cpu, f.raw)):
            assert np.array_equal(at[row, sel], want), (k, row)
        assert np.array_equal(fits[sel].astype(bool), f.fits)
        ok = sel[f.fits]  # the values the reader gathers, of the samples that fit
        for row, (where, width) in enumerate(((f.tid[f.fits] + 4, 4), (f.time[f.fits], 8),
                                              (f.cpu[f.fits], 4), (f.raw[f.fits], 4))):
            live = where >= (4 if row == 0 else 0)
            assert have[row, ok[live]].all()
            assert np.array_equal(values[row, ok[live]], P._gather(d, where[live], width))
    none = np.flatnonzero(owner < 0)
    assert (at[:, none] == -1).all() and not fits[none].any() and not have[:, none].any()
