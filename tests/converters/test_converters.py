"""Text converters: format detection, every style of each format, compression, chunking."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path

import polars as pl
import pytest
import zstandard

from xpfotrace import InputError, read_trace, replay
from xpfotrace.converters import detect_format, open_trace

HERE = Path(__file__).parent.parent
REAL = HERE / "fixtures" / "real"
SAMPLES = HERE.parent / "sample_traces"
STYLES = ["", "_t", "_R", "_N"]  # trace-cmd report: plugins, -t (ns), -R (raw), -N

# SYNTHETIC lines in the styles of older kernels and tools (not captured here).
TRACEFS_4X = """\
# tracer: nop
#
# entries-in-buffer/entries-written: 6/9   #P:4
#
#           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION
           <...>-7770  [001] ....   300.498211: mm_page_alloc: page=ffffea0001234000 pfn=1193046 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_ZERO
 kworker/1:0-mm_-23    [001] d..2   300.498300: sched_switch: prev_comm=kworker/1:0-mm_ prev_pid=23 prev_prio=120 prev_state=S ==> next_comm=Web Content next_pid=812 next_prio=120
      bash-5 (    5) [003] ....   300.498400: mm_page_alloc: page=(null) pfn=0 order=0 migratetype=0 gfp_flags=GFP_KERNEL
      bash-5   [003] ....   300.498500: mm_page_free: page=ffffea0001234000 pfn=1193046 order=0
CPU:2 [LOST 42 EVENTS]
      bash-5   [002] ....   300.498600: tlb_flush: pages:-1 reason:remote shootdown (1)
"""
PERF_NS = """\
  stress-ng-fork   727/727 [000]  1292.947333123:     kmem:mm_page_alloc: page=0x1c8c63 pfn=0x1c8c63 order=0 migratetype=1 gfp_flags=GFP_HIGHUSER_MOVABLE|__GFP_COMP
             :-1    -1 [001]  1293.002553000:          tlb:tlb_flush: pages:-1 reason:flush on task switch (0)
"""


def events(path: Path, fmt: str | None = None) -> pl.DataFrame:
    return read_trace(str(path), fmt).df


def test_detects_each_format() -> None:
    assert detect_format(str(SAMPLES / "hackbench-1s.ftrace.txt.zst")) == "tracefs"
    assert detect_format(str(SAMPLES / "hackbench-1s.tracecmd.txt.zst")) == "trace-cmd"
    assert detect_format(str(SAMPLES / "hackbench-1s.perf.txt.zst")) == "perf-script"


@pytest.mark.parametrize("style", STYLES[1:])
def test_tracecmd_styles_give_the_same_events(style: str) -> None:
    base = events(REAL / "py-short.tracecmd.txt.zst")
    other = events(REAL / f"py-short.tracecmd{style}.txt.zst")
    cols = ["cpu", "pid", "event", "pfn", "order", "migratetype", "percpu_refill",
            "prev_pid", "next_pid", "next_comm", "tlb_pages", "tlb_reason"]
    assert other.select(cols).equals(base.select(cols))
    if style == "_t":
        # -t prints nanoseconds; the default output rounds them to the nearest microsecond
        assert (other["ts"] % 1000 != 0).any()
        assert (((other["ts"] + 500) // 1000) * 1000).equals(base["ts"])
    else:
        assert other["ts"].equals(base["ts"])


def test_raw_style_gfp_numbers_classify_like_names() -> None:
    named = replay(read_trace(str(REAL / "py-short.tracecmd.txt.zst")), strategies="sync")
    raw = replay(read_trace(str(REAL / "py-short.tracecmd_R.txt.zst")), strategies="sync")
    assert raw.strategies == named.strategies
    assert named.trace["lost_events"] == raw.trace["lost_events"] == 8458  # real drops


def test_tracefs_and_tracecmd_of_one_buffer_replay_identically() -> None:
    a = replay(read_trace(str(SAMPLES / "hackbench-1s.ftrace.txt.zst")))
    b = replay(read_trace(str(SAMPLES / "hackbench-1s.tracecmd.txt.zst")))
    assert a.strategies == b.strategies
    assert a.trace == b.trace


def test_tracefs_4x_style(tmp_path: Path) -> None:
    p = tmp_path / "trace"
    p.write_text(TRACEFS_4X)
    tr = read_trace(str(p))
    df = tr.df
    assert tr.info.cpus == 4 and tr.info.lost_events == 42 and tr.info.overflow == "6/9"
    assert df["pfn"].to_list()[:4] == [1193046, None, None, 1193046]
    assert df["ts"][0] == 300_498_211_000
    sw = df.filter(pl.col("event") == "sched_switch").row(0, named=True)
    assert (sw["comm"], sw["next_comm"], sw["next_pid"]) == ("kworker/1:0-mm_", "Web Content", 812)
    assert df["cpu"].to_list() == [1, 1, 3, 3, 2]
    assert df.filter(pl.col("event") == "tlb_flush")["tlb_reason"].to_list() == [1]


def test_perf_script_ns_and_odd_heads(tmp_path: Path) -> None:
    p = tmp_path / "perf.txt"
    p.write_text(PERF_NS)
    df = events(p)
    assert df["ts"].to_list() == [1_292_947_333_123, 1_293_002_553_000]
    assert df["comm"].to_list() == ["stress-ng-fork", ":-1"]
    assert df["pid"].to_list() == [727, -1]
    assert df["event"].to_list() == ["mm_page_alloc", "tlb_flush"]


def test_plugin_switch_with_colon_in_comm(tmp_path: Path) -> None:
    p = tmp_path / "r.txt"
    p.write_text("cpus=1\n     a-1 [000]   1.000001: sched_switch:         "
                 "memfd:sealed-91:1391 [120] S ==> kworker/1:2:80 [120]\n"
                 # (a page event: a trace without one is refused)
                 "     a-1 [000]   1.000002: mm_page_free:         page=0x1 pfn=0x1 order=0\n")
    row = events(p).row(0, named=True)
    assert (row["prev_comm"], row["prev_pid"]) == ("memfd:sealed-91", 1391)
    assert (row["next_comm"], row["next_pid"]) == ("kworker/1:2", 80)


@pytest.mark.parametrize("kind", ["gz", "xz", "zst"])
def test_compressed_inputs_equal_plain(tmp_path: Path, kind: str) -> None:
    plain = (REAL / "py-short.tracecmd.txt.zst").read_bytes()
    text = zstandard.ZstdDecompressor().decompressobj().decompress(plain)
    comp = {"gz": gzip.compress, "xz": lzma.compress,
            "zst": zstandard.ZstdCompressor().compress}[kind](text)
    (tmp_path / "plain.txt").write_bytes(text)
    (tmp_path / f"c.{kind}").write_bytes(comp)
    assert events(tmp_path / f"c.{kind}").equals(events(tmp_path / "plain.txt"))


def test_small_chunks_give_identical_tables() -> None:
    path = str(REAL / "py-short.tracecmd.txt.zst")
    def table(chunk: int) -> pl.DataFrame:
        tables, _ = open_trace(path, chunk_bytes=chunk)
        return pl.concat([pl.from_arrow(t) for t in tables])  # type: ignore[misc]
    small, big = table(4096), table(64 << 20)
    assert small.height == big.height > 0
    assert small.equals(big)
    assert small["seq"].to_list() == list(range(small.height))


def test_a_line_longer_than_the_buffers(tmp_path: Path) -> None:
    # SYNTHETIC: a garbage line of 200 kB (past a chunk and the buffer's slack) mid-trace
    lines = TRACEFS_4X.splitlines()
    path = tmp_path / "long.txt"
    path.write_text("\n".join([*lines[:6], "x" * 200_000, *lines[6:]]) + "\n")
    def read(chunk: int) -> tuple[pl.DataFrame, int | None, int]:
        tables, info = open_trace(str(path), chunk_bytes=chunk)
        df = pl.concat([pl.from_arrow(t) for t in tables])  # type: ignore[misc]
        return df, info.first_skipped_line, info.skipped_lines
    small, big = read(4096), read(64 << 20)
    assert small[0].equals(big[0]) and small[1:] == big[1:] == (7, 1)
    tiny = read(64)  # chunks shorter than a line
    assert tiny[0].equals(big[0]) and tiny[1:] == big[1:]


def test_format_can_be_forced(tmp_path: Path) -> None:
    p = tmp_path / "trace"
    p.write_text(TRACEFS_4X)
    assert read_trace(str(p), "trace-cmd").df.height == 5
    with pytest.raises(InputError, match="no trace events"):
        read_trace(str(p), "perf-script")


def test_invalid_utf8_and_nul_become_replacement_characters(tmp_path: Path) -> None:
    # SYNTHETIC: a comm with an invalid byte, another with a NUL (tracefs copies comm bytes)
    p = tmp_path / "trace"
    p.write_bytes(b"# tracer: nop\n"
                  b"  b\xffsh-5   [000] ....   1.000001: mm_page_free: page=x pfn=10 order=0\n"
                  b"  c\x00t-6   [001] ....   1.000002: mm_page_free: page=x pfn=11 order=0\n")
    df = events(p)
    assert df["comm"].to_list() == ["b\ufffdsh", "c\ufffdt"]
    assert df["pid"].to_list() == [5, 6] and df["pfn"].to_list() == [10, 11]
