"""Implausible CPU numbers (converters/sanity.py): one corrupted number must not change
the answer. The damaged traces are SYNTHETIC mutations of the real fixtures."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
import zstandard
from paths import binary_path  # noqa: F401  (each test on both paths: tests/paths.py)
from typer.testing import CliRunner

from xpfotrace import UsageError, convert, read_trace, replay
from xpfotrace.cli import app
from xpfotrace.core.traceinfo import MAX_CPUS

HERE = Path(__file__).parent.parent
SAMPLES = HERE.parent / "sample_traces"
GOLDEN = HERE / "fixtures" / "golden"
BIN = HERE / "fixtures" / "binary"
HACKBENCH = SAMPLES / "hackbench-1s.ftrace.txt.zst"  # tracefs, #P:2
FORKS_TEXT = GOLDEN / "forks-1s.perf.txt.zst"  # perf script: no CPU-count header
PY_REPORT = GOLDEN / "py-1s.tracecmd.txt.zst"  # trace-cmd report, cpus=2
PERF = GOLDEN / "forks-1s.perf.data.zst"


def _lines(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        return zstandard.ZstdDecompressor().stream_reader(fh).read().decode().split("\n")


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("\n".join(lines))
    return str(path)


def _event_line(lines: list[str], cpu_field: str, after: int = 1000) -> int:
    """Index of the first line after ``after`` that has ``cpu_field`` (an event line)."""
    return next(i for i, ln in enumerate(lines) if i > after and cpu_field in ln)


def _answer(result: Any) -> dict[str, Any]:
    """What a replay says about the trace (not the input's warnings)."""
    out = result.to_dict()
    return {k: out[k] for k in ("trace", "observed", "cpus", "strategies")}


def _replayed(path: str, **kw: Any) -> dict[str, Any]:
    return _answer(replay(read_trace(path, **kw), strategies="sync,deferred"))


@pytest.mark.parametrize(("source", "field", "bad"), [
    (HACKBENCH, "[001]", "[101]"),  # the case: 2 CPUs would become 102
    (HACKBENCH, "[001]", "[003]"),  # just past #P:2, on one event
    (PY_REPORT, "[001]", "[101]"),  # trace-cmd report: cpus=2 bounds CPU numbers
    (FORKS_TEXT, "[001]", "[101]"),  # perf script: no header, far beyond the busy CPUs
])
def test_one_corrupted_cpu_is_set_aside(tmp_path: Path, source: Path, field: str,
                                        bad: str) -> None:
    lines = _lines(source)
    i = _event_line(lines, field)
    damaged = lines.copy()
    damaged[i] = damaged[i].replace(field, bad, 1)
    without = lines[:i] + lines[i + 1:]
    tr = read_trace(_write(tmp_path / "damaged.txt", damaged))
    assert tr.info.cpus == 2 and tr.info.cpu_outliers == 1
    assert tr.info.cpu_outlier_cpus == [int(bad.strip("[]"))]
    assert tr.df["seq"].to_list() == list(range(tr.df.height))  # numbered among kept events
    (warning,) = [w for w in tr.info.warnings() if "set aside" in w]
    assert f"first at line {i + 1}" in warning and "--trust-cpus" in warning
    # the replay is that of the trace without the line
    got = _answer(replay(tr, strategies="sync,deferred"))
    assert got == _replayed(_write(tmp_path / "without.txt", without))


def test_streaming_holds_rows_only_while_a_cpu_is_in_question(tmp_path: Path) -> None:
    """perf script has no header: rows wait until a rare CPU is settled, in file order
    and numbered alike whatever the chunk size."""
    lines = _lines(FORKS_TEXT)[:30_000]  # (4 KiB chunks are slow to number)
    i = _event_line(lines, "[001]", after=20)
    lines[i] = lines[i].replace("[001]", "[101]", 1)
    path = _write(tmp_path / "t.txt", lines)
    whole = read_trace(path)
    small = read_trace(path, chunk_bytes=4096)
    assert small.df.equals(whole.df)
    assert small.info.cpu_outliers == whole.info.cpu_outliers == 1
    assert small.info.cpu_outlier_at == whole.info.cpu_outlier_at == f"line {i + 1}"


def test_rows_held_too_long_are_decided_early(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Past HOLD_ROWS held rows, CPUs still in question are set aside from there on
    (memory stays bounded); here that is the same decision as at the end."""
    from xpfotrace.converters import sanity

    lines = _lines(FORKS_TEXT)[:30_000]
    i = _event_line(lines, "[001]", after=20)
    lines[i] = lines[i].replace("[001]", "[101]", 1)
    path = _write(tmp_path / "t.txt", lines)
    whole = read_trace(path)
    monkeypatch.setattr(sanity, "HOLD_ROWS", 500)
    early = read_trace(path, chunk_bytes=4096)
    assert early.df.equals(whole.df) and early.info.cpu_outliers == 1


def test_trust_cpus_keeps_them(tmp_path: Path) -> None:
    lines = _lines(HACKBENCH)
    i = _event_line(lines, "[001]")
    lines[i] = lines[i].replace("[001]", "[101]", 1)
    path = _write(tmp_path / "t.txt", lines)
    tr = read_trace(path, trust_cpus=True)
    assert tr.info.cpus == 102 and tr.info.cpu_outliers == 0 and not tr.info.warnings()
    assert tr.df.height == read_trace(str(HACKBENCH)).df.height


def test_absurd_cpu_numbers_are_set_aside_even_when_trusted(tmp_path: Path) -> None:
    lines = _lines(HACKBENCH)
    i = _event_line(lines, "[001]")
    lines[i] = lines[i].replace("[001]", f"[{2**31 - 1}]", 1)
    path = _write(tmp_path / "t.txt", lines)
    for trust in (False, True):
        tr = read_trace(path, trust_cpus=trust)
        assert tr.info.cpus == 2 and tr.info.cpu_outliers == 1
        assert any(f"CPU {2**31 - 1}, first at line {i + 1}" in w for w in tr.info.warnings())


def test_a_busy_cpu_beyond_the_online_count_is_kept(tmp_path: Path) -> None:
    """tracefs' #P is the number of *online* CPUs, which need not be numbered 0..N-1:
    a CPU beyond it with many events is real (N_trace grows to it, as before)."""
    lines = [ln.replace("#P:2", "#P:1") for ln in _lines(HACKBENCH)]
    tr = read_trace(_write(tmp_path / "t.txt", lines))
    assert tr.info.cpus == 2 and tr.info.cpu_outliers == 0 and not tr.info.warnings()


@pytest.mark.parametrize("count", ["0", "99999999999999999999999"])
def test_an_impossible_header_count_is_ignored(tmp_path: Path, count: str) -> None:
    lines = [ln.replace("#P:2", f"#P:{count}") for ln in _lines(HACKBENCH)]
    tr = read_trace(_write(tmp_path / "t.txt", lines))
    assert tr.info.cpus == 2 and tr.info.cpus_header is None
    assert any("CPU count" in w and "impossible" in w for w in tr.info.warnings())


def test_counts_go_to_the_parquet_metadata_and_back(tmp_path: Path) -> None:
    lines = _lines(HACKBENCH)
    i = _event_line(lines, "[001]")
    lines[i] = lines[i].replace("[001]", "[101]", 1)
    out = tmp_path / "t.parquet"
    info = convert(_write(tmp_path / "t.txt", lines), str(out))
    assert info.cpu_outliers == 1
    meta = {k.decode(): v.decode() for k, v in pq.ParquetFile(out).metadata.metadata.items()}
    assert meta["xpfotrace.cpus"] == "2" and meta["xpfotrace.cpu_outliers"] == "1"
    assert json.loads(meta["xpfotrace.cpu_outlier_cpus"]) == [101]
    assert meta["xpfotrace.cpu_outlier_at"] == f"line {i + 1}"
    back = read_trace(str(out))
    assert back.info.cpu_outliers == 1 and back.info.warnings() == info.warnings()
    assert back.df["seq"].to_list() == list(range(back.df.height))


def test_cli_warns_and_replays_the_plausible_cpus(tmp_path: Path) -> None:
    lines = _lines(HACKBENCH)
    i = _event_line(lines, "[001]")
    lines[i] = lines[i].replace("[001]", "[101]", 1)
    res = CliRunner().invoke(app, ["replay", _write(tmp_path / "t.txt", lines), "--json",
                                   "-s", "sync"])
    assert res.exit_code == 0, res.output
    assert f"set aside 1 event(s) on CPU 101, first at line {i + 1}" in res.stderr
    assert json.loads(res.stdout)["trace"]["cpus"] == 2


def test_cpus_in_the_millions_is_a_usage_error() -> None:
    tr = read_trace(str(HACKBENCH))
    with pytest.raises(UsageError, match=r"5,000,000 CPUs \(at most 65,536\)"):
        replay(tr, cpus=5_000_000)
    res = CliRunner().invoke(app, ["replay", str(HACKBENCH), "--cpus", "5000000"])
    assert res.exit_code == 2 and "at most 65,536" in res.stderr
    assert MAX_CPUS == 65536


def _perf_samples(data: bytes) -> tuple[int, np.ndarray]:
    """The data section's offset and the file offsets of its sample records."""
    from xpfotrace.converters.binary.perfdata.header import REC_SAMPLE
    from xpfotrace.converters.binary.perfdata.records import _record_positions

    _, _, _, _, _, data_off, data_len, _, _ = struct.unpack_from("<8sQQQQQQQQ", data, 0)
    d = np.frombuffer(data, np.uint8, count=data_len, offset=data_off)
    pos = _record_positions(d)
    rtype = d[pos[:, None] + np.arange(4)].copy().view("<u4").ravel()
    return data_off, data_off + pos[rtype == REC_SAMPLE]


@pytest.fixture(scope="module")
def perf_raw() -> bytes:
    with open(PERF, "rb") as fh:
        return zstandard.ZstdDecompressor().stream_reader(fh).read()


@pytest.mark.parametrize("cpu", [2, 101, 2**31 - 1, 2**32 - 1])
def test_perf_data_sample_on_a_corrupted_cpu(tmp_path: Path, perf_raw: bytes,
                                             cpu: int) -> None:
    """SYNTHETIC: one sample's CPU field (sample_type IDENT IP TID TIME CPU PERIOD RAW:
    the CPU is the u32 at byte 40 of the record) changed; HEADER_NRCPUS says 2."""
    _, samples = _perf_samples(perf_raw)
    victim = int(samples[len(samples) // 2])
    damaged = bytearray(perf_raw)
    assert struct.unpack_from("<I", damaged, victim + 40)[0] in (0, 1)
    struct.pack_into("<I", damaged, victim + 40, cpu)
    path = tmp_path / "t.perf.data"
    path.write_bytes(bytes(damaged))
    base = read_trace(str(PERF))
    tr = read_trace(str(path))
    assert tr.info.cpus == 2 and tr.info.cpu_outliers == 1
    assert tr.df.height == base.df.height - 1
    assert any(f"CPU {cpu}, first at offset {victim}" in w for w in tr.info.warnings())
    trusted = read_trace(str(path), trust_cpus=True)
    assert trusted.info.cpus == (2 if cpu >= MAX_CPUS else cpu + 1)


def test_binary_record_with_an_absurd_order_is_skipped(tmp_path: Path) -> None:
    """SYNTHETIC: one mm_page_alloc record's order set to 40 (2^40 frames) in an
    uncompressed trace.dat: skipped as malformed with its offset, not 8 TiB of frames."""
    from xpfotrace.converters.binary.rawevents import read_int
    from xpfotrace.converters.binary.ringbuffer import decode_pages
    from xpfotrace.converters.binary.tracedat import header as tracedat

    with open(BIN / "v7none.dat.zst", "rb") as fh:
        data = bytearray(zstandard.ZstdDecompressor().stream_reader(fh).read())
    hdr = tracedat.read_header(bytes(data))
    _, off, size = sorted(hdr.cpu_data)[0]
    buf = np.frombuffer(bytes(data[off:off + size]), np.uint8)
    rec = decode_pages(buf, hdr.page_size, hdr.commit_size)
    common = tracedat.common_type_field(hdr)
    ids = read_int(buf, rec.offset, common)
    fmts = tracedat.parse_used(hdr, ids)
    alloc = next(i for i, f in fmts.items() if f.name == "mm_page_alloc")
    row = int(np.flatnonzero(ids == alloc)[100])
    at = off + int(rec.offset[row]) + fmts[alloc].fields["order"].offset
    struct.pack_into("<I", data, at, 40)
    path = tmp_path / "t.dat"
    path.write_bytes(bytes(data))
    tr = read_trace(str(path))
    assert tr.info.skipped_records == 1
    assert tr.df.height == read_trace(str(BIN / "hb.dat")).df.height - 1
    assert int(tr.df["order"].max()) <= 20
    assert any(f"first at offset {off + int(rec.offset[row])}" in w
               for w in tr.info.warnings())


def _fixtures() -> list[Path]:
    files = [p for d in (SAMPLES, HERE / "fixtures") for p in sorted(d.rglob("*"))
             if p.is_file() and p.suffix not in (".json", ".md", ".sh")]
    assert len(files) > 15
    return files


@pytest.mark.parametrize("path", _fixtures(), ids=lambda p: p.name)
def test_real_fixtures_set_nothing_aside(path: Path) -> None:
    info = read_trace(str(path)).info
    assert (info.cpu_outliers, info.corrupt_pages, info.corrupt_events,
            info.skipped_records, info.cpus_header_ignored) == (0, 0, 0, 0, None)
    assert not [w for w in info.warnings() if "set aside" in w or "corrupt" in w]


@pytest.mark.parametrize("source", [HACKBENCH, PY_REPORT, FORKS_TEXT], ids=lambda p: p.name)
def test_random_text_mutations_never_add_cpus(tmp_path: Path, source: Path) -> None:
    """A bounded fuzz (SYNTHETIC, seeded): 30 traces of 20,000 event lines with a few
    random characters of event lines changed (digits most often: CPU fields). Each is a
    trace of no more CPUs than the clean one, or an XpfoError. (Without a header, rare
    CPUs right above the busy ones are kept, one more per changed line at most: they
    cannot be told from idle CPUs.)"""
    from xpfotrace import XpfoError

    lines = _lines(source)
    first = _event_line(lines, "[00", after=0)
    head, events = lines[:first], lines[first:first + 20_000]
    clean = read_trace(_write(tmp_path / "clean.txt", head + events)).info.cpus
    for seed in range(30):
        rng = random.Random(f"{source.name}-{seed}")
        damaged = events.copy()
        changes = rng.choice((1, 2, 5, 20))
        limit = clean + (changes if source == FORKS_TEXT else 0)
        for _ in range(changes):
            i = rng.randrange(len(damaged))
            line = damaged[i]
            j = line.find("[") + 1 + rng.randrange(4) if rng.random() < 0.7 else (
                rng.randrange(len(line)))
            char = rng.choice("0123456789" if rng.random() < 0.8 else "x] -:[\t\x00é")
            damaged[i] = line[:j] + char + line[j + 1:]
        path = _write(tmp_path / "t.txt", head + damaged)
        try:
            tr = read_trace(path)
        except XpfoError:
            continue
        assert tr.info.cpus <= limit, (seed, tr.info.cpus)
        assert tr.df["seq"].to_list() == list(range(tr.df.height))


def test_cli_trust_cpus_keeps_them(tmp_path: Path) -> None:
    """SYNTHETIC: one line of the real sample moved to CPU 101, through the CLI."""
    import json

    import zstandard
    from typer.testing import CliRunner

    from xpfotrace.cli import app

    src = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
    text = zstandard.ZstdDecompressor().stream_reader(src.open("rb")).read()
    lines = text.split(b"\n")
    i = next(k for k, ln in enumerate(lines) if b"[001]" in ln and b"mm_page_alloc:" in ln)
    lines[i] = lines[i].replace(b"[001]", b"[101]", 1)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\n".join(lines))
    runner = CliRunner()
    kept_out = runner.invoke(app, ["replay", str(bad), "--json", "-s", "sync"])
    assert kept_out.exit_code == 0 and "set aside 1 event" in kept_out.stderr
    assert json.loads(kept_out.stdout)["trace"]["cpus"] == 2
    trusted = runner.invoke(app, ["replay", str(bad), "--json", "-s", "sync", "--trust-cpus"])
    assert trusted.exit_code == 0 and json.loads(trusted.stdout)["trace"]["cpus"] == 102
