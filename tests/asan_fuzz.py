#!/usr/bin/env python3
"""A fuzz of the compiled text kernel (xpfotrace.converters.text._ctext) for a run under AddressSanitizer
(.ci/asan.sh builds the extension with -fsanitize=address and runs this script). Not
collected by pytest; it runs anywhere (without ASan it still checks that every outcome is
a result or an expected error).

1. The bad-input corpus: every real text fixture (tests/fixtures, sample_traces), the
   hostile inputs of the tests (tests/converters/test_bad_inputs.py's fatal contents and dirty
   trace, the awkward and edited lines of tests/converters/test_textfast.py and
   tests/converters/test_trace_variants.py, test_fuzz_text.py's mutations), each also cut at random
   points.
2. A time-bounded random mutation of real lines (byte flips, truncation, deletions,
   random bytes, splices of other fixtures' lines, keys and numbers inserted).
3. Hostile arguments: line bounds outside the chunk, outputs too small.

Each input goes through the kernel directly, copied into arrays of its exact size
(malloc'd: ASan's redzones start right after the last byte, so a read one byte past
the chunk is caught), and through ``textfast.parse``; every tenth, and every corpus
input, also through the full text converters (``open_trace``, each text format and
detection). Errors other than ValueError from the kernel's argument checks and
XpfoError from the converters fail the run.

Usage: python tests/asan_fuzz.py [--seconds N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # this tree's converters (with its extension) first
sys.path.insert(1, str(HERE))  # the tests' helpers
sys.path.insert(2, str(HERE / "converters"))  # the converters' tests, for their corpus

import numpy as np  # noqa: E402
import zstandard  # noqa: E402

from xpfotrace.converters import TEXT_FORMATS, open_trace  # noqa: E402
from xpfotrace.converters.text import fast as textfast  # noqa: E402
from xpfotrace.core.errors import XpfoError  # noqa: E402

KEYS = [b"pfn=", b"pfn=0x", b"order=", b"gfp_flags=", b"migratetype=", b"percpu_refill=",
        b"page=(null)", b" prev_pid=", b"prev_comm=", b" next_pid=", b"next_comm=",
        b"reason:", b"reason=", b"pages:", b"pages=", b"(7)", b"(-", b")", b"(", b"-12 ",
        b" 12/13 ", b"/", b" [002] ", b"[", b"]", b" 1.5: ", b".", b":", b"mm_page_free: ",
        b"mm_page_alloc: ", b"sched_switch: ", b"tlb_flush: ", b"kmem:mm_page_free: ",
        b"tlb:tlb_flush: ", b"cycles:u: ", b" 1 ", b"-", b" ", b"    ", b"\r", b"\n",
        b"99999999999999999999999", b"4294967296", b"-1", b"0xFFFFFFFFFFFFFFFFFFF",
        b"2147483648", b"\x00", b"\xff", b"\xc3\xa9"]


def _texts() -> Iterator[tuple[str, bytes]]:
    """The real text fixtures, decompressed."""
    paths = sorted([*(HERE / "fixtures").glob("**/*.txt.zst"),
                    *(ROOT / "sample_traces").glob("*.txt.zst")])
    for p in paths:
        with p.open("rb") as f:
            yield p.name, zstandard.ZstdDecompressor().stream_reader(f).read()


def _test_corpus() -> Iterator[tuple[str, bytes]]:
    """The hostile and awkward inputs the tests use."""
    import test_bad_inputs as bad
    import test_fuzz_text as fuzz
    import test_textfast as tf
    import test_trace_variants as tv

    for mark in getattr(bad.test_fatal_content, "pytestmark", []):
        if mark.name == "parametrize":
            for name, content, _ in mark.args[1]:
                yield f"fatal:{name}", content
    lines = bad.clean_lines()
    text, _ = bad.dirty(lines)
    yield "dirty", text.encode()
    yield "lost", ("".join(lines[:100]) + "CPU:1 [LOST 17 EVENTS]\n" + "".join(lines[100:])
                   ).encode()
    for mod in (tf, tv):
        for name, value in vars(mod).items():
            if name.isupper() and isinstance(value, str) and "\n" in value:
                yield f"{mod.__name__}.{name}", value.encode()
            elif (name.isupper() and isinstance(value, list) and value
                  and all(isinstance(x, str) for x in value)):
                yield f"{mod.__name__}.{name}", "\n".join(value).encode()
    rng = random.Random("asan-corpus")
    for name, path in fuzz.SOURCES.items():
        base = fuzz._text(path)
        for k in range(10):
            yield f"fuzz:{name}:{k}", fuzz._mutate(base, rng)


def _exact(data: bytes) -> np.ndarray:
    """data in a fresh array of exactly its size."""
    arr = np.empty(len(data), np.uint8)
    arr[:] = np.frombuffer(data, np.uint8)
    return arr


def kernel(data: bytes, mode: int) -> int:
    """The kernel's steps on data with exact-size arrays; the accepted lines."""
    from xpfotrace.converters.text import _ctext as K

    arr = _exact(data)
    n = K.count_lines(arr)
    assert n == data.count(b"\n") + 1
    starts, ends, clean = np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.bool_)
    K.lines(arr, starts, ends, clean)
    i64 = np.empty((3, n), np.int64)
    pfn = np.empty(n, np.uint64)
    i32 = np.empty((9, n), np.int32)
    oks = np.empty((5, n), np.bool_)
    ev = np.empty(n, np.int8)
    spans = np.empty((10, n), np.int32)
    rows = K.scan(mode, arr, starts, ends, clean, i64, pfn, i32, oks, ev, spans)
    assert 0 <= rows <= n
    for col in range(5):
        s, e = spans[col].copy(), spans[col + 5].copy()
        offsets = np.empty(rows + 1, np.int32)
        total = K.gather(arr, s, e, rows, offsets, None)
        out = np.empty(total, np.uint8)
        assert K.gather(arr, s, e, rows, offsets, out) == total
    fc = textfast.parse(arr, mode)
    assert fc.table.num_rows == rows and fc.lines == n
    return rows


def hostile(data: bytes, rng: random.Random) -> None:
    """Random line bounds (some outside the chunk) and outputs (some too small): a result
    or ValueError, never a read or write outside the arrays."""
    from xpfotrace.converters.text import _ctext as K

    arr = _exact(data)
    size = arr.size
    n = rng.randint(0, 6)
    starts = np.array([rng.randint(-3, size + 3) for _ in range(n)], np.int32)
    ends = np.array([rng.randint(-3, size + 3) for _ in range(n)], np.int32)
    clean = np.array([rng.random() < 0.9 for _ in range(n)], np.bool_)
    m = [n if rng.random() < 0.8 else rng.randint(0, max(0, n - 1)) for _ in range(6)]
    try:
        i64 = np.empty((3, m[0]), np.int64)
        K.scan(rng.randint(0, 1), arr, starts, ends, clean, i64, np.empty(m[1], np.uint64),
               np.empty((9, m[2]), np.int32), np.empty((5, m[3]), np.bool_),
               np.empty(m[4], np.int8), np.empty((10, m[5]), np.int32))
    except ValueError:
        pass
    try:
        rows = rng.randint(0, n)
        offsets = np.empty(rng.randint(0, rows + 1) + (rng.random() < 0.8), np.int32)
        out = np.empty(rng.randint(0, size), np.uint8) if rng.random() < 0.7 else None
        K.gather(arr, starts, ends, rows, offsets, out)
    except ValueError:
        pass
    try:
        c = K.count_lines(arr)
        room = c if rng.random() < 0.7 else rng.randint(0, c)
        K.lines(arr, np.empty(room, np.int32), np.empty(room, np.int32), np.empty(room, np.bool_))
    except ValueError:
        pass


def convert(data: bytes, tmp: Path) -> None:
    """data through the full text converters, each text format and detection."""
    path = tmp / "input.txt"
    path.write_bytes(data)
    for fmt in [None, *TEXT_FORMATS]:
        try:
            tables, _ = open_trace(str(path), fmt, chunk_bytes=1 << 12)
            for _ in tables:
                pass
        except XpfoError:
            pass


def _binaries() -> list[tuple[str, bytes]]:
    """Every trace.dat and perf.data fixture, decompressed."""
    out = []
    for path in sorted((HERE / "fixtures").rglob("*")):
        name = path.name.removesuffix(".zst")
        if not (name.endswith(".dat") or name.endswith(".perf.data")):
            continue
        raw = path.read_bytes()
        if path.suffix == ".zst":
            raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
        out.append((str(path.relative_to(HERE)), raw))
    return out


def convert_binary(data: bytes, tmp: Path) -> None:
    """data through the binary readers (the compiled loops of _cbin), by detection."""
    path = tmp / "input.bin"
    path.write_bytes(data)
    try:
        tables, _ = open_trace(str(path))
        for _ in tables:
            pass
    except XpfoError:
        pass


def mutate_binary(b: bytearray, rng: random.Random) -> bytearray:
    """Bit flips, overwritten words, cut or duplicated ranges: damaged records, pages
    and headers."""
    for _ in range(rng.randint(1, 6)):
        if not b:
            break
        i = rng.randrange(len(b))
        op = rng.randrange(5)
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # a word overwritten: a size, a count, an offset
            w = rng.choice([0, 1, 7, 8, 0xFF, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, rng.getrandbits(32)])
            b[i:i + 4] = w.to_bytes(4, "little")
        elif op == 2:
            del b[i:]
        elif op == 3:
            del b[i:i + rng.randint(1, 64)]
        else:
            b[i:i] = b[i:i + rng.randint(1, 64)]
    return b


def mutate(b: bytearray, rng: random.Random, pool: list[bytes]) -> bytearray:
    for _ in range(rng.randint(1, 8)):
        if not b:
            b.extend(rng.choice(pool))
        i = rng.randrange(len(b) + 1)
        j = min(len(b), i + rng.randint(1, 48))
        op = rng.randrange(9)
        if op == 0 and i < len(b):  # a bit flipped
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:  # a range deleted
            del b[i:j]
        elif op == 2:  # truncated
            del b[i:]
        elif op == 3:  # random bytes
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
        elif op == 4:  # a key, a number, a separator
            b[i:i] = rng.choice(KEYS)
        elif op == 5:  # a splice of another real line (or part of one)
            other = rng.choice(pool)
            a = rng.randrange(len(other) + 1)
            b[i:j] = other[a:a + rng.randint(0, len(other))]
        elif op == 6:  # a range duplicated
            b[i:i] = b[i:j]
        elif op == 7 and i < len(b):  # a byte of the format's alphabet
            b[i] = rng.choice(b" -[]():=./0123456789xXabfp_|\t")
        else:  # a whole real line, cut anywhere
            b[i:i] = b"\n" + rng.choice(pool)[:rng.randint(0, 200)]
    return b


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("ASAN_FUZZ_SECONDS", "60")))
    ap.add_argument("--seed", default="asan")
    args = ap.parse_args()
    if not textfast.available():
        print("asan_fuzz: xpfotrace.converters.text._ctext is not available: nothing to fuzz", file=sys.stderr)
        return 2
    from xpfotrace.converters.text import _ctext

    print(f"asan_fuzz: {_ctext.__file__}")
    rng = random.Random(args.seed)
    pool: list[bytes] = []
    cases = accepted = 0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, data in [*_texts(), *_test_corpus()]:
            try:
                for mode in (0, 1):
                    accepted += kernel(data, mode)
                    cut = data[:rng.randrange(len(data) + 1)]
                    accepted += kernel(cut, mode)
                if len(data) < 1 << 20:
                    convert(data, tmp)
            except Exception:
                print(f"asan_fuzz: failed on {name}", file=sys.stderr)
                raise
            pool.extend(x for x in data.split(b"\n")[:2000] if x)
            hostile(data[:4096], rng)
            cases += 1
        print(f"asan_fuzz: corpus: {cases} inputs, {accepted} lines accepted")
        corpus_cases = cases
        start = time.monotonic()
        while time.monotonic() - start < args.seconds:
            k = rng.randint(1, 60)
            at = rng.randrange(len(pool))
            lines = pool[at:at + k]
            if rng.random() < 0.8:  # lines edited one by one
                data = b"\n".join(bytes(mutate(bytearray(x), rng, pool)) if rng.random() < 0.5
                                  else x for x in lines)
            else:  # the chunk edited whole
                data = bytes(mutate(bytearray(b"\n".join(lines)), rng, pool))
            try:
                for mode in (0, 1):
                    accepted += kernel(data, mode)
                hostile(data, rng)
                if cases % 10 == 0:
                    convert(data, tmp)
            except Exception:
                print(f"asan_fuzz: failed on {data!r}", file=sys.stderr)
                raise
            cases += 1
    print(f"asan_fuzz: random: {cases - corpus_cases} inputs in {args.seconds:.0f} s; "
          f"{accepted} lines accepted in all; no error")
    return _fuzz_binaries(rng, args.seconds)


def _fuzz_binaries(rng: random.Random, seconds: float) -> int:
    """The binary formats through the compiled loops (_cbin): each fixture, then random
    damage to them for ``seconds``."""
    from xpfotrace.converters.binary import binfile

    if not binfile.native():
        print("asan_fuzz: xpfotrace.converters.binary._cbin is not available",
              file=sys.stderr)
        return 2
    assert binfile.cbin is not None
    print(f"asan_fuzz: {binfile.cbin.__file__}")
    files = _binaries()
    cases = 0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, data in files:
            try:
                convert_binary(data, tmp)
            except Exception:
                print(f"asan_fuzz: failed on {name}", file=sys.stderr)
                raise
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            name, data = rng.choice(files)
            damaged = bytes(mutate_binary(bytearray(data), rng))
            try:
                convert_binary(damaged, tmp)
            except Exception:
                (tmp.parent / "asan-failed.bin").write_bytes(damaged)
                print(f"asan_fuzz: failed on a damaged {name}", file=sys.stderr)
                raise
            cases += 1
    print(f"asan_fuzz: binary: {len(files)} fixtures, {cases} damaged copies in "
          f"{seconds:.0f} s; no error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
