"""A bounded random-mutation fuzz of the text formats, compressed inputs and Parquet
(SYNTHETIC mutations of real fixtures): every outcome is a result or an XpfoError, never
another exception, and never a CPU count beyond the original's.

(trace.dat and perf.data are fuzzed in tests/converters/test_corrupt_pages.py.)"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
import zstandard

from xpfotrace import convert, read_trace, replay
from xpfotrace.core.errors import XpfoError

HERE = Path(__file__).parent.parent
SOURCES = {
    "tracefs": HERE / "fixtures" / "real" / "hackbench-overflow.ftrace.txt.zst",
    "trace-cmd": HERE / "fixtures" / "real" / "py-short.tracecmd.txt.zst",
    "trace-cmd -R": HERE / "fixtures" / "real" / "py-short.tracecmd_R.txt.zst",
    "perf script": HERE / "fixtures" / "binary" / "forks.script-ns.txt.zst",
}
CASES = 25


def _text(path: Path, lines: int = 400) -> bytes:
    raw = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    return b"\n".join(raw.split(b"\n")[:lines]) + b"\n"


def _mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.choice(["flip", "zero", "cut", "dup", "insert", "digits"])
        i = rng.randrange(len(b))
        j = min(len(b), i + rng.randint(1, 64))
        if op == "flip":
            b[i] ^= 1 << rng.randrange(8)
        elif op == "zero":
            b[i:j] = bytes(j - i)
        elif op == "cut":
            del b[i:j]
        elif op == "dup":
            b[i:i] = b[i:j]
        elif op == "insert":
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        else:  # a number made huge or negative
            b[i:i] = rng.choice([b"99999999999999999999999", b"-1", b"4294967296"])
        if not b:
            b = bytearray(b"x")
    return bytes(b)


def _outcome(path: Path, cpus_max: int) -> None:
    try:
        tr = read_trace(str(path))
        res = replay(tr, strategies="sync,deferred+batch@bound=1ms")
    except XpfoError:
        return
    assert res.trace["cpus"] <= max(cpus_max, 2)


@pytest.mark.parametrize("name", list(SOURCES))
def test_text_mutations(tmp_path: Path, name: str) -> None:
    base = _text(SOURCES[name])
    original = read_trace(str(SOURCES[name])).info.cpus
    rng = random.Random(f"xpfotrace-{name}")
    for k in range(CASES):
        data = _mutate(base, rng)
        suffix = rng.choice(["", ".zst", ".gz"])
        path = tmp_path / f"m{k}.txt{suffix}"
        if suffix == ".zst":
            data = zstandard.ZstdCompressor().compress(data)
            if rng.random() < 0.3:  # the compressed bytes mutated too
                data = _mutate(data, rng)
        elif suffix == ".gz":
            data = gzip.compress(data)
            if rng.random() < 0.3:
                data = _mutate(data, rng)
        path.write_bytes(data)
        _outcome(path, original)


def test_parquet_mutations(tmp_path: Path) -> None:
    src = tmp_path / "t.parquet"
    convert(str(SOURCES["trace-cmd"]), str(src))
    base = src.read_bytes()
    rng = random.Random("xpfotrace-parquet")
    for k in range(CASES * 2):
        path = tmp_path / f"m{k}.parquet"
        path.write_bytes(_mutate(base, rng))
        _outcome(path, read_trace(str(src)).info.cpus)
