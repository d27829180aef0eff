"""The compiled fast path of the text converters (the C extension xpfotrace.converters.text._ctext)
reads exactly what the Polars path reads: on every real text fixture (tracefs, trace-cmd
report, perf script), on hand-made awkward lines, and on random edits of real lines.
Each comparison converts the same file twice, with and without the kernel.

The extension is optional (``pip install`` builds it when a C compiler is there): when
it was not built, the tests that need it are skipped, unless
``XPFOTRACE_REQUIRE_NATIVE=1`` (then test_kernel_loads fails).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xpfotrace import InputError
from xpfotrace.converters import open_trace
from xpfotrace.converters.text import fast as textfast

HERE = Path(__file__).parent.parent
TEXT_FIXTURES = sorted(
    [*HERE.glob("fixtures/**/*.ftrace.txt.zst"), *HERE.glob("fixtures/**/*.tracecmd*.txt.zst"),
     *HERE.glob("fixtures/**/*.report-t.txt.zst"), *HERE.glob("fixtures/**/*.perf.txt.zst"),
     *HERE.glob("fixtures/**/*.script-ns.txt.zst"),
     *(HERE.parent / "sample_traces").glob("*.txt.zst")])

#: the extension was built (its module file is there to import)
BUILT = importlib.util.find_spec("xpfotrace.converters.text._ctext") is not None


def _need_kernel() -> None:
    """Skip when the extension was not built; else it must load: were it to fall back,
    every comparison would compare the Polars path with itself."""
    if not BUILT:
        pytest.skip("xpfotrace.converters.text._ctext was not built (no C compiler at install time?)")
    assert textfast.available()


def test_kernel_loads() -> None:
    if not BUILT and os.environ.get("XPFOTRACE_REQUIRE_NATIVE", "") not in ("", "0"):
        pytest.fail("xpfotrace.converters.text._ctext was not built")
    _need_kernel()
    from xpfotrace.converters.text import _ctext

    assert textfast.parse(b"a-1 [0] 1.5: tlb_flush: pages:1 (0)\nb").table.num_rows == 1
    assert _ctext.__file__ is not None and not _ctext.__file__.endswith(".py")


def _convert(path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch,
             chunk_bytes: int = 1 << 24, fmt: str | None = None,
             ) -> tuple[pa.Table | str, dict[str, object]]:
    with monkeypatch.context() as m:
        for name in textfast.DISABLE_VARS:
            m.delenv(name, raising=False)
        if not fast:
            m.setenv("XPFOTRACE_NO_NATIVE", "1")
        try:
            tables, info = open_trace(str(path), fmt, chunk_bytes=chunk_bytes)
            table = pa.concat_tables(list(tables))
        except InputError as exc:
            return str(exc), {}
    return table, vars(info)


def _same(path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int = 1 << 24,
          fmt: str | None = None) -> None:
    _need_kernel()
    fast, fast_info = _convert(path, True, monkeypatch, chunk_bytes, fmt)
    slow, slow_info = _convert(path, False, monkeypatch, chunk_bytes, fmt)
    if isinstance(fast, pa.Table) and isinstance(slow, pa.Table):
        for name in slow.column_names:
            assert fast[name].equals(slow[name]), name
    else:
        assert fast == slow
    assert fast_info == slow_info


def test_kernel_reads_most_lines_of_a_real_trace() -> None:
    _need_kernel()
    data = (HERE / "fixtures/golden/kbuild-1s.ftrace.txt.zst").read_bytes()
    import zstandard

    text = zstandard.ZstdDecompressor().stream_reader(data).read()
    chunk = text[:text.rfind(b"\n")]
    fc = textfast.parse(chunk)
    assert fc.lines == chunk.count(b"\n") + 1
    # the header's comment lines go to the Polars path, every event line is read here
    assert fc.rejected.splitlines() == [x for x in chunk.splitlines() if x.startswith(b"#")]
    assert fc.table.num_rows == fc.lines - fc.rejected_ln.size


@pytest.mark.parametrize("path", TEXT_FIXTURES, ids=lambda p: p.name)
def test_real_fixtures_read_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _same(path, monkeypatch)


def test_real_fixture_in_small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    _same(HERE / "fixtures/real/py-short.tracecmd_R.txt.zst", monkeypatch, chunk_bytes=4096)


def test_crlf_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SYNTHETIC: a real trace with Windows line ends (and one line with two carriage
    # returns, which keeps one); the kernel reads the lines without their "\r"
    import zstandard

    data = (HERE / "fixtures/real/py-short.tracecmd_t.txt.zst").read_bytes()
    text = zstandard.ZstdDecompressor().stream_reader(data).read().replace(b"\n", b"\r\n")
    text = text.replace(b"\r\n", b"\r\r\n", 1)
    path = tmp_path / "crlf.txt"
    path.write_bytes(text)
    _same(path, monkeypatch, fmt="trace-cmd")
    chunk = text[:text.rfind(b"\n")]
    fc = textfast.parse(chunk)
    assert fc.table.num_rows > 0.9 * fc.lines


# SYNTHETIC: lines made by hand, each on an edge of one of the rules.
AWKWARD = """\
# tracer: nop
# entries-in-buffer/entries-written: 40/40   #P:4
            bash-3686    [000] d..2.   176.295193: sched_switch: prev_comm=bash prev_pid=3686 prev_prio=120 prev_state=S ==> next_comm=conf next_pid=6169 next_prio=120
 kworker/1:0-mm_-23    [001] d..2   300.498300: sched_switch: prev_comm=kworker/1:0-mm_ prev_pid=23 prev_prio=120 prev_state=S ==> next_comm=Web Content next_pid=812 next_prio=120
      x-1 [001] d..2   300.498301: sched_switch: prev_comm= prev_pid=x prev_pid=7 prev_prio=120 ==> next_comm= next_pid=-1 next_prio=1
      bash-5 (    5) [003] ....   300.498400: mm_page_alloc: page=(null) pfn=0 order=0 migratetype=0 gfp_flags=GFP_KERNEL
      bash-5 (-----) [003] ....   300.498401: mm_page_alloc: page=(null) order=0 gfp_flags=GFP_KERNEL
      bash-5 (5)   [003]   300.498402: mm_page_alloc: pfn=0X1aF order=1 migratetype=2 gfp_flags=
      bash-5   [003] .... 300.498403: mm_page_alloc: pfn=0x order=1 gfp_flags=G pfn=12
      bash-5   [003] .... 300.498404: mm_page_alloc: xpfn=5 pfn=5x pfn=0x5 order=-1 gfp_flags=G
      bash-5   [003] .... 300.498405: mm_page_free: pfn=18446744073709551615 order=20
      bash-5   [003] .... 300.498406: mm_page_free: pfn=18446744073709551616 order=2
      bash-5   [003] .... 300.498407: mm_page_free: pfn=0x10000000000000000 order=2
      bash-5   [003] .... 300.498408: mm_page_free: pfn=0x00000000000000001 order=2
      bash-5   [003] .... 300.498409: mm_page_free_batched: pfn=0x12
      bash-5   [003] .... 300.498410: mm_page_free_batched: pfn=0x12 order=99999999999
      bash-5   [003] .... 300.498411: mm_page_free: pfn=0x12 order=21
      bash-5   [003] .... 300.498412: mm_page_alloc_zone_locked: pfn=0x12 order=3 migratetype=0 percpu_refill=1
      bash-5   [003] .... 300.498413: mm_page_alloc_zone_locked: pfn=0x12 order=3 migratetype=0
      bash-5   [003] .... 300.498414: mm_page_alloc_zone_locked: pfn=0x12 order=3 xmigratetype=4 percpu_refill=1x percpu_refill=0
      bash-5   [003] .... 300.498415: mm_page_pcpu_drain: page=0 pfn=0x12 order=0 migratetype=2147483648
      bash-5   [003] .... 300.498416: tlb_flush: pages:-1 reason:remote shootdown (1)
      bash-5   [003] .... 300.498417: tlb_flush: reason=4 pages=-1
      bash-5   [003] .... 300.498418: tlb_flush: reason=4x reason:7 nr_pages=3 pages:2
      bash-5   [003] .... 300.498419: tlb_flush: pages:1 reason:x (--5)
      bash-5   [003] .... 300.498420: tlb_flush: pages:1 (3) \x20\x20
      bash-5   [003] .... 300.498421: tlb_flush: pages:99999999999999999999 (3)
      bash-5   [003] .... 300.498422: tlb_flush: pages:1 (99999999999)
      bash-5   [003] .... 300.498423: ipi_send_cpu: cpu=0 callsite=x
      bash-5   [003] .... 300.498424: ipi_send_cpu:
      bash-5   [003] 1.2: 300.498425: ipi_send_cpu: flags token that looks like a stamp
      bash-5   [003] ...[ 300.498426: ipi_send_cpu: bracket in the flags
      [x]-5   [003] .... 300.498427: ipi_send_cpu: bracket in the comm
      a b-c-5   [003] .... 300.498428: mm_page_free: pfn=1 order=0
      café-5   [003] .... 300.498429: mm_page_free: pfn=1 order=0
      bash-5\t[003] .... 300.498430: mm_page_free: pfn=1 order=0
      bash-5   [003] .... 300.4984311234567: mm_page_free: pfn=1 order=0
      bash-5   [003] .... 1234567890.5: mm_page_free: pfn=1 order=0
      bash-99999999999   [003] .... 300.5: mm_page_free: pfn=1 order=0
      bash-5   [99999999999] .... 300.5: mm_page_free: pfn=1 order=0
      bash-5   [003] .... 300.5:mm_page_free:pfn=1 order=0
      bash-5   [003] .... 300.5: mm_page_free pfn=1 order=0
      -5   [003] .... 300.5: mm_page_free: pfn=1 order=0
      bash-   [003] .... 300.5: mm_page_free: pfn=1 order=0
CPU:2 [LOST 42 EVENTS]
garbage line
      bash-5   [003] .... 300.5: mm_page_free: pfn=1 order=0\r
"""


# SYNTHETIC: perf script heads and anchors on the edges of their rules.
AWKWARD_PERF = """\
  stress-ng-fork   727/727 [000]  1292.947333123:     kmem:mm_page_alloc: page=0x1c8c63 pfn=0x1c8c63 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP
             :-1    -1 [001]  1293.002553000:          tlb:tlb_flush: pages:-1 reason:flush on task switch (0)
            perf   468 [000]  1292.946999:                     sched:sched_switch: prev_comm=perf prev_pid=468 prev_prio=120 prev_state=D ==> next_comm=migration/0 next_pid=18 next_prio=0
     migration/0    18 [000]   660.079979:  1  tlb:tlb_flush: pages:-1 reason:flush on task switch (0)
     migration/0    18 [000]   660.079980:  1  2 tlb:tlb_flush: pages:-1 (0)
     migration/0    18 [000]   660.079981:  12:tlb:tlb_flush: pages:-1 (0)
     migration/0    18 [000]   660.079982: tlb:tlb_flush:pages:-1 (0)
     migration/0    18 [000]   660.079983: tlb_flush: pages:-1 (0)
     a b  5/-3 [000]   660.079984: kmem:mm_page_free: pfn=1 order=0
     a b  -5/3 [000]   660.079985: kmem:mm_page_free: pfn=1 order=0
     a b  --5 [000]   660.079986: kmem:mm_page_free: pfn=1 order=0
     a b  5/ [000]   660.079987: kmem:mm_page_free: pfn=1 order=0
     a b  /5 [000]   660.079988: kmem:mm_page_free: pfn=1 order=0
     a-5 [000]   660.079989: kmem:mm_page_free: pfn=1 order=0
     5 [000]   660.079990: kmem:mm_page_free: pfn=1 order=0
     x 1/2/3 [000]   660.079991: kmem:mm_page_free: pfn=1 order=0
     x 99999999999 [000]   660.079992: kmem:mm_page_free: pfn=1 order=0
     x 9/99999999999 [000]   660.079993: kmem:mm_page_free: pfn=1 order=0
     x 1 [000] d..2 660.079994: kmem:mm_page_free: pfn=1 order=0
"""


@pytest.mark.parametrize(("name", "text", "fmt"), [("awkward.txt", AWKWARD, "tracefs"),
                                                   ("perf.txt", AWKWARD_PERF, "perf-script")])
def test_awkward_lines_read_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                                  text: str, fmt: str) -> None:
    path = tmp_path / name
    path.write_text(text + "      bash-5   [003] .... 300.6: mm_page_free: pfn=1 ord",
                    encoding="utf-8")
    _same(path, monkeypatch, fmt=fmt)
    table, info = _convert(path, True, monkeypatch, fmt=fmt)
    assert isinstance(table, pa.Table) and info["cut_last_line"] == text.count("\n") + 1


# Real lines (tracefs and trace-cmd report), each edited at random below.
REAL_LINES = [
    "            bash-3686    [000] d..2.   176.295193: sched_switch: prev_comm=bash prev_pid=3686 prev_prio=120 prev_state=S ==> next_comm=conf next_pid=6169 next_prio=120",
    "            bash-3686    [000] d..1.   176.294071: tlb_flush: pages:-1 reason:local MM shootdown (3)",
    "    kworker/u8:0-12      [001] d..3.   176.294229: mm_page_alloc_zone_locked: page=0000000064c17149 pfn=0x17ddc8 order=3 migratetype=0 percpu_refill=1",
    "    kworker/u8:0-12      [001] d..3.   176.294231: mm_page_alloc: page=0000000064c17149 pfn=0x17ddc8 order=3 migratetype=0 gfp_flags=GFP_NOWAIT|__GFP_NORETRY|__GFP_COMP|__GFP_NOMEMALLOC",
    "         python3-3949  [001]   882.181330: mm_page_free:         page=0x108b9d pfn=0x108b9d order=0",
    "         python3-3949  [001]   882.181376: tlb_flush:             reason=0 pages=-1",
    "         python3-3949  [001]   882.187037: sched_switch:         bash:3949 [120] S ==> bash:3950 [120]",
    "         python3-3949  [001]   882.181486: mm_page_free_batched: page=0x13897c pfn=0x13897c",
    "         python3-3949  [001]   882.181454: ipi_send_cpu:         cpu=0 callsite=on_each_cpu_cond_mask+0x20",
]
PERF_LINES = [
    "  stress-ng-fork   727/727 [000]  1292.947333123:     kmem:mm_page_alloc: page=0x1c8c63 pfn=0x1c8c63 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP",
    "            perf   468 [000]  1292.946999:                     sched:sched_switch: prev_comm=perf prev_pid=468 prev_prio=120 prev_state=D ==> next_comm=migration/0 next_pid=18 next_prio=0",
    "         swapper     0 [000]  1292.947323:                          tlb:tlb_flush: pages:-1 reason:flush on task switch (0)",
    "            perf   468 [001]  1292.966989:         kmem:mm_page_alloc_zone_locked: page=0x1db7b0 pfn=0x1db7b0 order=4 migratetype=1 percpu_refill=0",
    "             :-1    -1 [001]  1293.002553000:          tlb:tlb_flush: pages:-1 reason:flush on task switch (0)",
]
ALPHABET = " \t-[]():=./0123456789xXabfp_|\u00e9\x00"
KEYS = ["pfn=", "order=", "gfp_flags=", "migratetype=", "percpu_refill=", "page=(null)",
        " prev_pid=", "prev_comm=", " next_pid=", "next_comm=", "reason:", "reason=",
        "pages:", "pages=", "(7)", "-12 ", " 12/13 ", " [002] ", " 1.5: ", "mm_page_free: ",
        "kmem:mm_page_free: ", " 1 "]


@st.composite
def _edited(draw: st.DrawFn, real: list[str]) -> str:
    line = draw(st.sampled_from(real))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(line)))
        kind = draw(st.integers(0, 3))
        if kind == 0:
            line = line[:at] + line[at + draw(st.integers(1, 6)):]
        elif kind == 1:
            line = line[:at] + draw(st.text(ALPHABET, min_size=1, max_size=3)) + line[at:]
        elif kind == 2:
            line = line[:at] + draw(st.sampled_from(KEYS)) + line[at:]
        else:
            digits = draw(st.sampled_from(["-1", "0", "21", "99999999999", "0x1F", "2147483647"]))
            line = line[:at] + digits + line[at:]
    return line


FORMAT_LINES = {"tracefs": REAL_LINES, "perf-script": PERF_LINES}


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(FORMAT_LINES)).flatmap(
    lambda fmt: st.tuples(st.just(fmt), st.lists(_edited(FORMAT_LINES[fmt]), min_size=1,
                                                 max_size=30))))
def test_edited_real_lines_read_alike(tmp_path_factory: pytest.TempPathFactory,
                                      monkeypatch: pytest.MonkeyPatch,
                                      case: tuple[str, list[str]]) -> None:
    fmt, lines = case
    path = tmp_path_factory.mktemp("edit") / "edited.txt"
    # the format's first real line leads, so that every file has an event
    path.write_text("\n".join([FORMAT_LINES[fmt][0], *lines]) + "\n", encoding="utf-8")
    _same(path, monkeypatch, fmt=fmt)


def _in_child(code: str, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if k not in textfast.DISABLE_VARS}
    out = subprocess.run([sys.executable, "-c", code], env={**base, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_env_turns_the_kernel_off() -> None:
    code = "from xpfotrace.converters.text import fast as t; print(t.available(), t.wanted(1 << 30))"
    for name in ("XPFOTRACE_NO_JIT", "XPFOTRACE_NO_NATIVE"):
        assert _in_child(code, **{name: "1"}) == "False False"
        assert _in_child(code, **{name: "0"}) == f"{BUILT} {BUILT}"
    assert _in_child(code) == f"{BUILT} {BUILT}"


def test_nothing_to_compile() -> None:
    # the kernel is compiled at install time: no first use is slower
    assert textfast.wanted(1) == textfast.wanted(1 << 40) == textfast.available()


# Without the extension (a child where its import fails, as when it was not built):
# one warning however many chunks and threads ask, and the same trace.
_MISSING = """
import sys, warnings
sys.modules["xpfotrace.converters.text._ctext"] = None  # import xpfotrace.converters.text._ctext raises ImportError
from xpfotrace.converters.text import fast as textfast
from xpfotrace import read_trace
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    tr = read_trace(sys.argv[1], chunk_bytes=1 << 16)
    tr2 = read_trace(sys.argv[1], chunk_bytes=1 << 16)
said = [w for w in caught if issubclass(w.category, RuntimeWarning)
        and "compiled text parser" in str(w.message) and "Polars path" in str(w.message)]
print(textfast.available(), len(said), tr.df.height, tr.df["ts"].sum(), tr2.df.height)
"""


def test_missing_extension_warns_once_and_reads_alike() -> None:
    from xpfotrace import read_trace

    path = HERE / "fixtures/real/py-short.tracecmd.txt.zst"
    out = subprocess.run([sys.executable, "-c", _MISSING, str(path)], capture_output=True,
                         text=True, check=True,
                         env={k: v for k, v in os.environ.items()
                              if k not in textfast.DISABLE_VARS})
    tr = read_trace(str(path))
    assert out.stdout.split() == ["False", "1", str(tr.df.height), str(tr.df["ts"].sum()),
                                  str(tr.df.height)], out.stderr


def test_hostile_arguments_are_refused() -> None:
    # the kernel reads and writes only within the arrays it is given: bad bounds or
    # outputs too small raise ValueError (the fuzz under ASan: tests/asan_fuzz.py)
    _need_kernel()
    from xpfotrace.converters.text import _ctext as K

    buf = np.frombuffer(b"a-1 [0] 1.5: tlb_flush: pages:1 (0)\nb", np.uint8)
    n = K.count_lines(buf)
    assert n == 2

    def outputs(m: int) -> tuple[np.ndarray, ...]:
        i64 = np.zeros((3, m), np.int64)
        return (i64, i64[1].view(np.uint64), np.zeros((9, m), np.int32),
                np.zeros((5, m), np.bool_), np.zeros(m, np.int8), np.zeros((10, m), np.int32))

    starts, ends, clean = np.empty(n, np.int32), np.empty(n, np.int32), np.empty(n, np.bool_)
    with pytest.raises(ValueError, match="room"):
        K.lines(buf, starts[:1], ends[:1], clean[:1])
    K.lines(buf, starts, ends, clean)
    assert K.scan(0, buf, starts, ends, clean, *outputs(n)) == 1
    for m in range(n):  # every output too small in turn
        full = list(outputs(n))
        small = outputs(m)
        for j in range(len(full)):
            args = [*full[:j], small[j], *full[j + 1:]]
            with pytest.raises(ValueError, match="small"):
                K.scan(0, buf, starts, ends, clean, *args)
    for s, e in ((-1, 5), (0, buf.size + 1), (5, 4), (buf.size + 3, buf.size + 9)):
        with pytest.raises(ValueError, match="outside"):
            K.scan(0, buf, np.array([0, s], np.int32), np.array([3, e], np.int32), clean,
                   *outputs(n))
    with pytest.raises(ValueError, match="differ"):
        K.scan(0, buf, starts, ends[:1], clean, *outputs(n))
    offsets = np.zeros(3, np.int32)
    for s, e in ((0, buf.size + 1), (4, 2)):
        with pytest.raises(ValueError, match="outside"):
            K.gather(buf, np.array([0, s], np.int32), np.array([1, e], np.int32), 2, offsets,
                     None)
    assert K.gather(buf, np.array([0, -1], np.int32), np.array([3, -1], np.int32), 2, offsets,
                    None) == 3
    with pytest.raises(ValueError, match="small"):
        K.gather(buf, np.array([0, -1], np.int32), np.array([3, -1], np.int32), 2, offsets,
                 np.zeros(2, np.uint8))
    with pytest.raises(ValueError):
        K.gather(buf, starts, ends, 3, offsets, None)  # more rows than spans
    with pytest.raises(ValueError):
        K.gather(buf, starts, ends, 2, offsets[:2], None)  # offsets too small
    # an empty chunk is one empty line, which is rejected
    empty = np.frombuffer(b"", np.uint8)
    assert K.count_lines(empty) == 1
    K.lines(empty, starts, ends, clean)
    assert (starts[0], ends[0], bool(clean[0])) == (0, 0, True)
    assert K.scan(1, empty, starts[:1], ends[:1], clean[:1], *outputs(1)) == 0
    # read-only inputs are fine (bytes), read-only outputs are not
    assert K.count_lines(b"x\ny\n") == 3
    with pytest.raises((ValueError, TypeError, BufferError)):
        K.lines(b"x", np.frombuffer(b"\0" * 4, np.int32), ends, clean)


# runs of bytes of 0x20 and up (whole 8-byte words among them), each ended by a newline,
# a carriage return, another control byte or nothing
_RUN = st.tuples(st.binary(max_size=24).map(lambda b: bytes(b"a ~\x7f\x80\xff"[x % 6] for x in b)),
                 st.sampled_from([b"\n", b"\r\n", b"\r", b"\x00", b"\x1f", b""]))


@settings(max_examples=300, deadline=None)
@given(st.lists(_RUN, max_size=8).map(lambda runs: b"".join(a + b for a, b in runs)))
def test_line_split(data: bytes) -> None:
    # the word-at-a-time split and printable test against the plain reading of _split
    _need_kernel()
    from xpfotrace.converters.text import _ctext as K

    arr = np.frombuffer(data, dtype=np.uint8)
    n = K.count_lines(arr)
    starts, ends = np.empty(n, np.int32), np.empty(n, np.int32)
    clean = np.empty(n, np.bool_)
    K.lines(arr, starts, ends, clean)
    got = [(data[s:e], bool(c)) for s, e, c in zip(starts, ends, clean, strict=True)]
    want = []
    for line in data.split(b"\n"):
        line = line.removesuffix(b"\r")
        want.append((line, all(32 <= c <= 126 for c in line)))
    assert got == want
