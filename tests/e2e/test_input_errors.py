"""Inputs at fault are input errors, not internal ones (issue 21, items 6 and 7).

Every case is a SYNTHETIC edit of a bundled sample: a corrupt gzip stream, pipes and
FIFOs (read as streams), Parquet files of the wrong shape, profile files with NaN, inf
or invalid UTF-8, zstd skippable frames and pzstd-style multi-frame files, a UTF-8 BOM,
trailing garbage after xz data; and the smaller capture and profile promises.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import lzma
import os
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from typer.testing import CliRunner, Result

from xpfotrace.capture import Instance
from xpfotrace.cli import app
from xpfotrace.converters import compression
from xpfotrace.converters.binary.binfile import binary_tables
from xpfotrace.core.errors import InputError
from xpfotrace.core.traceinfo import TraceInfo
from xpfotrace.costing.hardware import ProfileOverride, builtin_profiles, find_profiles

HERE = Path(__file__).parent.parent
SAMPLES = HERE.parent / "sample_traces"
FTRACE = SAMPLES / "hackbench-1s.ftrace.txt.zst"
TRACECMD = SAMPLES / "hackbench-1s.tracecmd.txt.zst"
PERF = SAMPLES / "hackbench-1s.perf.txt.zst"
PARQUET = SAMPLES / "kbuild-1s.parquet"
TRACEDAT = HERE / "fixtures" / "binary" / "hb.dat"
I5 = HERE.parent / "xpfotrace" / "costing" / "profiles" / "i5-3550.toml"
runner = CliRunner()


def text_of(sample: Path, lines: int = 6000) -> bytes:
    """The first ``lines`` lines of a bundled compressed text sample."""
    data = zstandard.ZstdDecompressor().decompressobj().decompress(sample.read_bytes())
    return b"".join(data.splitlines(keepends=True)[:lines])


def one_line_error(res: Result, path: Path | str, code: int = 1, words: str = "") -> str:
    """The single stderr line of a failed command, which names ``path``."""
    err = res.stderr.strip().splitlines()
    assert res.exit_code == code, res.output
    assert len(err) == 1 and str(path) in err[0] and words in err[0], err
    assert "Traceback" not in res.output and "internal error" not in res.output
    return err[0]


def replay_json(path: Path | str) -> dict[str, object]:
    res = runner.invoke(app, ["replay", str(path), "--json"])
    assert res.exit_code == 0, res.output
    out: dict[str, object] = json.loads(res.stdout)
    return out


# --- compressed data ---------------------------------------------------------------

def test_corrupt_gzip_stream_is_an_input_error(tmp_path: Path) -> None:
    """A flipped bit inside the deflate data (zlib.error, not OSError) names the file."""
    data = gzip.compress(text_of(FTRACE), mtime=0)
    for off in range(len(data) // 2, len(data) - 8):
        bad = bytearray(data)
        bad[off] ^= 0x10
        try:
            gzip.decompress(bytes(bad))
        except zlib.error:
            break
        except (OSError, EOFError):
            continue
    else:  # pragma: no cover
        pytest.fail("no mutation gave a deflate error")
    p = tmp_path / "corrupt.txt.gz"
    p.write_bytes(bad)
    line = one_line_error(runner.invoke(app, ["replay", str(p)]), p, words="offset")
    assert "corrupt or truncated gzip data" in line


def skippable(payload: bytes, magic: int = 0x184D2A50) -> bytes:
    return struct.pack("<II", magic, len(payload)) + payload


def test_zstd_with_leading_skippable_frame(tmp_path: Path) -> None:
    text = text_of(FTRACE)
    plain = tmp_path / "plain.txt"
    plain.write_bytes(text)
    p = tmp_path / "skip.txt.zst"
    p.write_bytes(skippable(b"metadata", 0x184D2A5F) + zstandard.ZstdCompressor().compress(text))
    assert replay_json(p) == replay_json(plain)


def test_pzstd_style_multi_frame_file(tmp_path: Path) -> None:
    """What pzstd writes: a skippable frame holding the next frame's size before each
    frame; and two plain frames concatenated."""
    text = text_of(FTRACE)
    plain = tmp_path / "plain.txt"
    plain.write_bytes(text)
    half = text.index(b"\n", len(text) // 2) + 1
    frames = [zstandard.ZstdCompressor().compress(part) for part in (text[:half], text[half:])]
    pz = tmp_path / "pzstd.txt.zst"
    pz.write_bytes(b"".join(skippable(struct.pack("<I", len(f))) + f for f in frames))
    two = tmp_path / "two.txt.zst"
    two.write_bytes(b"".join(frames))
    want = replay_json(plain)
    assert replay_json(pz) == want
    assert replay_json(two) == want


def test_xz_trailing_garbage_is_an_error_like_gz_and_zst(tmp_path: Path) -> None:
    text = text_of(FTRACE)
    for kind, pack in (("xz", lzma.compress), ("gz", gzip.compress),
                       ("zst", zstandard.ZstdCompressor().compress)):
        data = pack(text)
        p = tmp_path / f"tail.txt.{kind}"
        p.write_bytes(data + b"some trailing garbage\n")
        line = one_line_error(runner.invoke(app, ["replay", str(p)]), p, words="offset")
        if kind == "xz":
            assert f"(offset {len(data)})" in line and "trailing data" in line


def test_xz_streams_and_padding(tmp_path: Path) -> None:
    """Concatenated xz streams with stream padding (zero bytes, a multiple of four) are
    one input; padding of another length is refused."""
    text = text_of(FTRACE)
    plain = tmp_path / "plain.txt"
    plain.write_bytes(text)
    half = text.index(b"\n", len(text) // 2) + 1
    first, second = lzma.compress(text[:half]), lzma.compress(text[half:])
    ok = tmp_path / "streams.txt.xz"
    ok.write_bytes(first + b"\0" * 8 + second + b"\0" * 4)
    assert replay_json(ok) == replay_json(plain)
    bad = tmp_path / "padding.txt.xz"
    bad.write_bytes(first + b"\0" * 3 + second)
    one_line_error(runner.invoke(app, ["replay", str(bad)]), bad, words="offset")


# --- UTF-8 byte-order mark ---------------------------------------------------------

@pytest.mark.parametrize("sample", [FTRACE, TRACECMD, PERF], ids=["tracefs", "trace-cmd",
                                                                  "perf-script"])
def test_bom_prefixed_text_replays_as_plain(tmp_path: Path, sample: Path) -> None:
    text = text_of(sample, 3000)
    plain = tmp_path / "plain.txt"
    plain.write_bytes(text)
    bom = tmp_path / "bom.txt"
    bom.write_bytes(b"\xef\xbb\xbf" + text)
    zbom = tmp_path / "bom.txt.zst"
    zbom.write_bytes(zstandard.ZstdCompressor().compress(b"\xef\xbb\xbf" + text))
    want = replay_json(plain)
    assert replay_json(bom) == want
    assert replay_json(zbom) == want
    res = runner.invoke(app, ["replay", str(bom)])
    assert res.stderr == runner.invoke(app, ["replay", str(plain)]).stderr.replace(
        str(plain), str(bom))


# --- pipes and FIFOs ---------------------------------------------------------------

@contextlib.contextmanager
def fifo_with(tmp_path: Path, data: bytes, name: str = "fifo") -> Iterator[Path]:
    """A FIFO that a thread fills with ``data`` (in pieces, as a pipe delivers)."""
    path = tmp_path / name
    os.mkfifo(path)

    def write() -> None:
        with open(path, "wb") as fh:
            for i in range(0, len(data), 50_000):
                fh.write(data[i:i + 50_000])
                fh.flush()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    yield path
    writer.join(timeout=30)
    assert not writer.is_alive()


@pytest.mark.parametrize("kind", ["text", "zst", "parquet", "trace.dat"])
def test_fifo_is_read_as_a_stream(tmp_path: Path, kind: str) -> None:
    if kind == "text":
        data = text_of(FTRACE)
    elif kind == "zst":
        data = zstandard.ZstdCompressor().compress(text_of(FTRACE))
    elif kind == "parquet":
        sink = pa.BufferOutputStream()
        pq.write_table(pq.read_table(PARQUET).slice(0, 20_000), sink)
        data = sink.getvalue().to_pybytes()
    else:
        data = TRACEDAT.read_bytes()
    regular = tmp_path / "regular"
    regular.write_bytes(data)
    want = replay_json(regular)
    with fifo_with(tmp_path, data) as fifo:
        assert replay_json(fifo) == want


def test_fifo_beyond_what_is_kept_streams_once(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With only the first 256 KiB kept for format detection, the rest is streamed."""
    monkeypatch.setattr(compression, "STREAM_KEEP", 256 << 10)
    data = text_of(FTRACE, 20_000)
    assert len(data) > 1 << 20
    regular = tmp_path / "regular.txt"
    regular.write_bytes(data)
    want = replay_json(regular)
    with fifo_with(tmp_path, data) as fifo:
        assert replay_json(fifo) == want
    with fifo_with(tmp_path, data, "fifo2") as fifo:
        out = tmp_path / "out.parquet"
        res = runner.invoke(app, ["convert", str(fifo), "-o", str(out)])
        assert res.exit_code == 0, res.output
    assert replay_json(out)["strategies"] == want["strategies"]


def test_stdin_dash_and_process_substitution(tmp_path: Path) -> None:
    """``-`` is the standard input; ``/dev/stdin`` of a pipe works alike."""
    data = zstandard.ZstdCompressor().compress(text_of(FTRACE))
    regular = tmp_path / "t.txt.zst"
    regular.write_bytes(data)
    outputs = []
    for name in (str(regular), "-", "/dev/stdin"):
        proc = subprocess.run([sys.executable, "-m", "xpfotrace", "replay", name, "--json"],
                              input=data, capture_output=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr
        outputs.append(json.loads(proc.stdout))
    assert outputs[1] == outputs[0] and outputs[2] == outputs[0]


# --- Parquet of the wrong shape ----------------------------------------------------

def _parquet(tmp_path: Path, name: str, edit_col: str | None = None, row: int = 5,
             value: object = None, meta: dict[bytes, bytes] | None = None,
             table: pa.Table | None = None) -> Path:
    src = pq.ParquetFile(PARQUET)
    kv = {k: v for k, v in (src.metadata.metadata or {}).items() if k != b"ARROW:schema"}
    kv.update(meta or {})
    if table is None:
        t = src.read().slice(0, 2_000)
        t = t.cast(pa.schema([f.with_nullable(True) for f in t.schema]))
        if edit_col is not None:
            values = t.column(edit_col).to_pylist()
            values[row] = value
            i = t.schema.get_field_index(edit_col)
            t = t.set_column(i, t.schema.field(i), pa.array(values, t.schema.field(i).type))
        table = t
    p = tmp_path / f"{name}.parquet"
    pq.write_table(table.replace_schema_metadata(kv), p)
    return p


@pytest.mark.parametrize(("name", "col", "value", "words"), [
    ("null-ts", "ts", None, "column 'ts' is null in 1 row(s), first in row 5"),
    ("null-cpu", "cpu", None, "column 'cpu' is null"),
    ("null-seq", "seq", None, "column 'seq' is null"),
    ("null-event", "event", None, "column 'event' is null"),
    ("negative-cpu", "cpu", -1, "negative CPU -1 in row 5"),
])
def test_parquet_data_of_the_wrong_shape(tmp_path: Path, name: str, col: str, value: object,
                                         words: str) -> None:
    p = _parquet(tmp_path, name, col, value=value)
    for cmd in (["replay", str(p)], ["compare", "-p", "i5", str(p)]):
        one_line_error(runner.invoke(app, cmd), p, words=words)


@pytest.mark.parametrize(("key", "value", "words"), [
    (b"xpfotrace.cpus", b"abc", "xpfotrace.cpus"),
    (b"xpfotrace.cpus", b"0", "xpfotrace.cpus"),
    (b"xpfotrace.cpus", b"-4", "xpfotrace.cpus"),
    (b"xpfotrace.cpus", b"99999999999", "xpfotrace.cpus"),
    (b"xpfotrace.cpu_first_ts", b"{not json", "xpfotrace.cpu_first_ts"),
    (b"xpfotrace.cpu_first_ts", b"[1, 2]", "xpfotrace.cpu_first_ts"),
    (b"xpfotrace.cpu_first_ts", b'{"a": 1}', "xpfotrace.cpu_first_ts"),
    (b"xpfotrace.lost_events", b"1.5", "xpfotrace.lost_events"),
    (b"xpfotrace.lost_events", b"-5", "xpfotrace.lost_events"),
    (b"xpfotrace.baseline_sys_ns", b"nan", "xpfotrace.baseline_sys_ns"),
])
def test_parquet_metadata_of_the_wrong_shape(tmp_path: Path, key: bytes, value: bytes,
                                             words: str) -> None:
    p = _parquet(tmp_path, "meta", meta={key: value})
    for cmd in (["replay", str(p)], ["compare", "-p", "i5", str(p)]):
        one_line_error(runner.invoke(app, cmd), p, words=words)


def test_parquet_integers_beyond_their_type_and_no_rows(tmp_path: Path) -> None:
    base = pq.read_table(PARQUET).slice(0, 2_000)
    ts = pa.array([1 << 63, *base.column("ts").to_pylist()[1:]], pa.uint64())
    huge = _parquet(tmp_path, "huge-ts", table=base.set_column(0, "ts", ts))
    one_line_error(runner.invoke(app, ["replay", str(huge)]), huge,
                   words="column 'ts' has values out of range")
    # an unsigned column whose values fit is read as the schema's type
    fits = _parquet(tmp_path, "u64-ts", table=base.set_column(
        0, "ts", base.column("ts").cast(pa.uint64())))
    assert replay_json(fits) == replay_json(_parquet(tmp_path, "same", table=base))
    empty = _parquet(tmp_path, "empty", table=base.slice(0, 0))
    one_line_error(runner.invoke(app, ["replay", str(empty)]), empty, words="no trace events")


# --- binary readers ----------------------------------------------------------------

@pytest.mark.parametrize("exc", [pa.ArrowInvalid("Integer value 4194304000 not in range"),
                                 struct.error("unpack requires a buffer of 8 bytes"),
                                 IndexError("index 99 is out of bounds"),
                                 OverflowError("Python int too large")])
def test_binary_field_out_of_range_is_an_input_error(tmp_path: Path, exc: Exception) -> None:
    """What a binary decoder raises on a corrupt field it does not check names the file."""
    p = tmp_path / "x.dat"
    p.write_bytes(TRACEDAT.read_bytes()[:4096])

    def convert(data: bytes, info: TraceInfo) -> pa.Table:
        raise exc

    with pytest.raises(InputError, match=r"x\.dat: malformed trace\.dat data"):
        list(binary_tables(str(p), TraceInfo(source_format="trace.dat"), convert))


# --- profile files -----------------------------------------------------------------

def _profile(tmp_path: Path, name: str, edit: dict[str, str], tail: bytes = b"") -> Path:
    lines = []
    for line in I5.read_text().splitlines():
        key = line.split(" = ")[0]
        lines.append(f"{key} = {edit[key]}" if key in edit and " = " in line else line)
    p = tmp_path / f"{name}.toml"
    p.write_bytes("\n".join(lines).encode() + b"\n" + tail)
    return p


@pytest.mark.parametrize(("name", "edit", "tail", "words"), [
    ("nan", {"invlpg_ns": "nan"}, b"", "'invlpg_ns' must be a finite number"),
    ("inf", {"ipi_base_ns": "inf"}, b"", "'ipi_base_ns' must be a finite number"),
    ("minus-inf", {"cacheline_ns": "-inf"}, b"", "'cacheline_ns' must be a finite number"),
    ("utf8", {}, b'description = "caf\xe9"\n', "not valid UTF-8"),
    ("cpus", {"cpus": "10000000"}, b"", "'cpus' must be at most 8192"),
])
def test_bad_profile_files(tmp_path: Path, name: str, edit: dict[str, str], tail: bytes,
                           words: str) -> None:
    edit = {"name": '"mine"', **edit}
    p = _profile(tmp_path, name, edit, tail)
    for cmd in (["profiles", "--profile-file", str(p)],
                ["compare", "-p", "mine", "--profile-file", str(p), str(PARQUET)]):
        one_line_error(runner.invoke(app, cmd), p, words=words)


def test_user_profile_of_a_shipped_name_wins_with_a_notice(tmp_path: Path) -> None:
    from xpfotrace.costing.hardware import load_profile_file

    p = _profile(tmp_path, "mine", {"cpus": "8"})
    (mine,) = load_profile_file(str(p))
    with pytest.warns(ProfileOverride, match=rf"'i5-3550' of {p} replaces the shipped one"):
        (got,) = find_profiles(["i5-3550"], [mine])
    assert got is mine and got.cpus == 8
    notes: list[str] = []
    (got,) = find_profiles(["i5"], [mine], notes.append)  # by substring too
    assert got is mine and len(notes) == 1
    shipped = {q.name for q in builtin_profiles()}
    assert "i5-3550" in shipped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = runner.invoke(app, ["compare", "-p", "i5-3550", "--profile-file", str(p),
                                  str(PARQUET), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["profiles"]["i5-3550"]["cpus"] == 8
    # the notice: on stderr, or (until the CLI prints notices itself) a Python warning
    said = [res.stderr] + [str(w.message) for w in caught]
    assert any("replaces the shipped one" in text for text in said)


# --- capture -----------------------------------------------------------------------

@pytest.mark.parametrize("seconds", ["nan", "inf", "-inf", "-1", "0"])
def test_capture_seconds_must_be_finite_and_positive(tmp_path: Path, seconds: str) -> None:
    out = tmp_path / "cap.parquet"
    res = runner.invoke(app, ["capture", "-o", str(out), f"--seconds={seconds}"])
    line = one_line_error(res, "--seconds", code=2)
    assert "positive number of seconds" in line
    assert not out.exists()


def test_instance_that_cannot_be_removed_is_named(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "tracefs"
    (root / "instances").mkdir(parents=True)
    warned: list[str] = []
    with Instance(root, "xpfotrace-1", warned.append) as inst:
        (inst.path / "left-behind").write_text("x")  # rmdir fails: not empty
    assert len(warned) == 1 and str(inst.path) in warned[0] and "rmdir" in warned[0]

    def busy(self: Path) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy", str(self))

    warned.clear()
    monkeypatch.setattr(time, "sleep", lambda s: None)
    with Instance(root, "xpfotrace-2", warned.append) as inst:
        monkeypatch.setattr(Path, "rmdir", busy)
    monkeypatch.undo()
    assert len(warned) == 1 and str(inst.path) in warned[0] and "open" in warned[0]
