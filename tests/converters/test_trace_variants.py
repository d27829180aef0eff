"""Ways of recording (issue 16, items 4 to 8) on real captures (fixtures/variants/README.md):
trace.dat files of named instances and of several buffers, comm names from sched_switch
where the saved cmdlines lack a pid, traces without page-allocation events, batch inputs
found by content, and text lines of other events (syscalls, stack traces, cpu-clock).

Each capture is checked field by field against its reference tool's output: the
committed one, and a fresh ``trace-cmd report -t`` / ``perf script`` when the tool is
installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
import zstandard
from paths import binary_path  # noqa: F401  (each test on both paths: tests/paths.py)
from test_textfast import _same
from typer.testing import CliRunner

from xpfotrace import InputError, UsageError, batch, convert, read_trace
from xpfotrace.cli import app
from xpfotrace.converters import TEXT_FORMATS, detect_format
from xpfotrace.converters.binary.tracedat.header import read_header
from xpfotrace.converters.text import fast as textfast
from xpfotrace.fleet.batch import expand_inputs, scan_inputs

VAR = Path(__file__).parent.parent / "fixtures" / "variants"
EXPECTED = json.loads((VAR / "expected.json").read_text())
COLUMNS = ["ts", "cpu", "pid", "comm", "event", "pfn", "order", "gfp_flags",
           "migratetype", "percpu_refill", "prev_pid", "prev_comm", "next_pid", "next_comm",
           "tlb_pages", "tlb_reason"]
RECORD = ("record kmem:mm_page_alloc, kmem:mm_page_free, kmem:mm_page_alloc_zone_locked "
          "and sched:sched_switch")
HAVE_TRACE_CMD = shutil.which("trace-cmd") is not None
HAVE_PERF = shutil.which("perf") is not None
runner = CliRunner()


def _text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".zst":
        data = zstandard.ZstdDecompressor().stream_reader(data).read()
    return data.decode()


def _plain(path: Path, tmp_path: Path) -> Path:
    """The file decompressed (the tools read no .zst)."""
    if path.suffix != ".zst":
        return path
    out = tmp_path / path.stem
    out.write_bytes(zstandard.ZstdDecompressor().stream_reader(path.read_bytes()).read())
    return out


def _buffer_lines(report: str, buffer: str) -> str:
    """The lines of one buffer of a multi-buffer ``trace-cmd report``: an instance's are
    prefixed ``NAME: ``, the top level's are not."""
    names = set(re.findall(r"^(\w+): ", report, re.M)) - {"cpus"}
    out = []
    for line in report.splitlines():
        m = re.match(r"^(\w+): (.*)$", line)
        if m and m.group(1) in names:
            if m.group(1) == buffer:
                out.append(m.group(2))
        elif buffer == "top":
            out.append(line)
    return "\n".join(out) + "\n"


def _report(dat: Path, tmp_path: Path, source: str) -> str:
    if source == "committed":
        name = dat.name.split(".")[0] + ".report-t.txt.zst"
        return _text(VAR / name)
    if not HAVE_TRACE_CMD:
        pytest.skip("trace-cmd is not installed")
    return subprocess.run(["trace-cmd", "report", "-t", "-i", str(_plain(dat, tmp_path))],
                          capture_output=True, text=True, check=True).stdout


BUFFERS = [("instance.dat", None, "xpfo16a"), ("all-buffers.dat", None, "xpfo16b"),
           ("all-buffers.v6.dat.zst", "xpfo16b", "xpfo16b"),
           ("both-paged.dat", "top", "top"), ("both-paged.dat", "xpfo16c", "xpfo16c"),
           ("both-paged.dat", None, "xpfo16c")]


@pytest.mark.parametrize("source", ["committed", "trace-cmd"])
@pytest.mark.parametrize(("dat", "buffer", "read"), BUFFERS)
def test_each_buffer_is_what_trace_cmd_report_prints(
        tmp_path: Path, dat: str, buffer: str | None, read: str, source: str) -> None:
    """Every field, comm included (trace-cmd's names from sched_switch), and the lost
    events, of the buffer read equal the report's lines of that buffer."""
    report = _report(VAR / dat, tmp_path, source)
    text = tmp_path / "buffer.txt"
    text.write_text(_buffer_lines(report, read))
    want = read_trace(str(text), "trace-cmd")
    got = read_trace(str(VAR / dat), buffer=buffer)
    assert got.info.extra["buffer"] == read
    assert got.df.height == want.df.height > 0
    for col in COLUMNS:
        assert got.df[col].equals(want.df[col]), col
    assert got.info.lost_events == want.info.lost_events
    assert got.info.cpus == want.info.cpus
    counts = dict(Counter(got.df["event"].to_list()))
    assert counts == EXPECTED[dat.replace(".v6", "").removesuffix(".zst")][read]


def test_buffers_are_named_in_the_metadata(tmp_path: Path) -> None:
    tr = read_trace(str(VAR / "all-buffers.dat"))
    assert json.loads(tr.info.extra["buffers"]) == {"top": 40, "xpfo16b": 819}
    assert tr.info.warnings() == []
    out = tmp_path / "t.parquet"
    convert(str(VAR / "all-buffers.dat"), str(out))
    back = read_trace(str(out))
    assert back.info.extra["buffers"] == tr.info.extra["buffers"]
    assert back.info.extra["buffer"] == "xpfo16b"
    assert read_trace(str(out), buffer="xpfo16b").df.equals(back.df)
    with pytest.raises(UsageError, match="converted from trace buffer 'xpfo16b'"):
        read_trace(str(out), buffer="top")
    # a file of one (top-level) buffer keeps the metadata it always had
    assert "buffers" not in read_trace(str(VAR.parent / "binary" / "hb.dat")).info.extra


def test_v6_and_v7_instances_read_alike() -> None:
    v7 = read_trace(str(VAR / "all-buffers.dat"))
    v6 = read_trace(str(VAR / "all-buffers.v6.dat.zst"))
    assert v6.df.equals(v7.df)
    assert json.loads(v6.info.extra["buffers"]) == json.loads(v7.info.extra["buffers"])


def test_choosing_a_buffer() -> None:
    both = read_trace(str(VAR / "both-paged.dat"))
    assert both.info.extra["buffer"] == "xpfo16c"
    (warning,) = both.info.warnings()
    assert "top (324 page-allocation events), xpfo16c (738" in warning
    assert "--buffer NAME" in warning
    assert read_trace(str(VAR / "both-paged.dat"), buffer="").df.equals(
        read_trace(str(VAR / "both-paged.dat"), buffer="top").df)
    with pytest.raises(InputError, match=r"no trace buffer 'nope' in the file \(it holds "
                       r"top \(330 events\), xpfo16c \(750 events\)\)"):
        read_trace(str(VAR / "both-paged.dat"), buffer="nope")
    with pytest.raises(UsageError, match="single trace buffer"):
        read_trace(str(VAR / "syscalls.ftrace.txt.zst"), buffer="top")


def test_comm_from_sched_switch_where_cmdlines_lack_the_pid() -> None:
    """instance.dat's saved cmdlines lost the workload's pids: trace-cmd names them from
    the sched_switch events (checked field by field above); here, that the fixture
    exercises it."""
    hdr = read_header((VAR / "instance.dat").read_bytes())
    df = read_trace(str(VAR / "instance.dat")).df
    missing = df.filter(~pl.col("pid").is_in(list(hdr.comms)))
    assert missing.height > 18_000
    named = missing.filter(pl.col("comm") != "<...>")
    assert named.height == missing.height - 4
    assert set(named["comm"]) >= {"python3", "bash"}
    # an unnamed event comes before the sched_switch that names its task
    first = missing.filter(pl.col("comm") == "<...>").row(0, named=True)
    later = df.filter((pl.col("pid") == first["pid"]) & (pl.col("seq") > first["seq"]))
    assert later.height and (later["comm"] != "<...>").all()


# --- traces without page-allocation events (item 5)


def _no_page_text(tmp_path: Path) -> Path:
    """SYNTHETIC from real lines: the syscall capture without its page events."""
    lines = [ln for ln in _text(VAR / "syscalls.ftrace.txt.zst").splitlines()
             if not re.search(r": mm_page_\w+:", ln)]
    p = tmp_path / "nopage.ftrace.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_no_page_events_is_one_input_error(tmp_path: Path) -> None:
    text = _no_page_text(tmp_path)
    with pytest.raises(InputError, match="holds no page-allocation events") as exc:
        read_trace(str(text))
    assert RECORD in str(exc.value) and "among its 10,571 event(s)" in str(exc.value)
    with pytest.raises(InputError, match="holds no page-allocation events of buffer 'top'"
                       ) as exc:
        read_trace(str(VAR / "all-buffers.dat"), buffer="top")
    assert RECORD in str(exc.value) and "\n" not in str(exc.value)
    out = tmp_path / "out.parquet"
    for args in (["replay", str(text)], ["convert", str(text), "-o", str(out)]):
        res = runner.invoke(app, args)
        assert res.exit_code == 1, res.output
        (err,) = res.stderr.strip().splitlines()
        assert str(text) in err and "no page-allocation events" in err and RECORD in err
    assert not out.exists()


def test_batch_gives_a_trace_without_page_events_an_error_row(tmp_path: Path) -> None:
    text = _no_page_text(tmp_path)
    df = batch([str(text), str(VAR / "syscalls.ftrace.txt.zst")], strategies="sync")
    assert df["error"][0] is not None and "no page-allocation events" in df["error"][0]
    assert df["error"][1] is None


# --- batch finds traces by content (item 7)


def test_batch_reads_directory_files_by_content(tmp_path: Path) -> None:
    d = tmp_path / "traces"
    d.mkdir()
    _plain(VAR / "mixed.perf.data.zst", tmp_path).rename(d / "perf.data.old")
    (d / "trace-dump").write_text(_text(VAR / "syscalls.ftrace.txt.zst"))
    shutil.copy(VAR / "instance.dat", d / "instance")
    (d / "README").write_text("notes about these traces\n")
    (d / "core").write_bytes(bytes(range(256)) * 64)
    (d / "notes.txt").write_text("not a trace\n")  # a trace suffix: read, an error row
    paths, skipped = scan_inputs([str(d)])
    assert [Path(p).name for p in paths] == ["instance", "notes.txt", "perf.data.old",
                                             "trace-dump"]
    assert [Path(p).name for p in skipped] == ["README", "core"]
    assert expand_inputs([str(d)]) == paths
    # named files are always taken
    assert scan_inputs([str(d / "README")]) == ([str(d / "README")], [])
    df = batch([str(d)], strategies="sync")
    errors = df.filter(pl.col("error").is_not_null())
    assert errors["trace"].to_list() == [str(d / "notes.txt")]
    assert df.filter(pl.col("error").is_null()).height == 3


# --- text lines of other events (item 8)


@pytest.mark.parametrize("name", ["syscalls", "stacktrace"])
def test_tracefs_text_of_other_events_is_the_trace_dat(tmp_path: Path, name: str) -> None:
    """The tracefs text and trace.dat of the same buffer: the same events (names as in
    the trace.dat: the kernel prints syscall events as calls and returns, stack traces
    as ``<stack trace>``), fields, and timestamps to the text's microsecond."""
    text = read_trace(str(VAR / f"{name}.ftrace.txt.zst"))
    dat = read_trace(str(VAR / f"{name}.dat"))
    assert text.info.warnings() == [] and text.info.skipped_lines == 0
    assert text.df.height == dat.df.height
    for col in COLUMNS[1:]:
        assert text.df[col].equals(dat.df[col]), col
    assert text.df["ts"].equals((dat.df["ts"] + 500) // 1000 * 1000)
    (buffer,) = EXPECTED[f"{name}.dat"].values()
    assert dict(Counter(text.df["event"].to_list())) == buffer


@pytest.mark.skipif(not HAVE_TRACE_CMD, reason="trace-cmd is not installed")
@pytest.mark.parametrize("name", ["syscalls", "stacktrace"])
def test_trace_dat_of_other_events_is_what_trace_cmd_report_prints(
        tmp_path: Path, name: str) -> None:
    dat = VAR / f"{name}.dat"
    report = subprocess.run(["trace-cmd", "report", "-t", "-i", str(dat)],
                            capture_output=True, text=True, check=True).stdout
    text = tmp_path / "r.txt"
    (buffer,) = EXPECTED[dat.name]
    text.write_text(_buffer_lines(report, buffer))
    want, got = read_trace(str(text), "trace-cmd"), read_trace(str(dat))
    assert want.info.skipped_lines == 0
    for col in COLUMNS:
        assert got.df[col].equals(want.df[col]), col


_FIELDS = re.compile(r"^\s*(.*?)\s+(-?\d+)\s+\[(\d+)\]\s+(\d+)\.(\d{9}):\s+(\S+):(?:\s|$)")
TRACEPOINT_SYSTEMS = ("kmem", "sched", "syscalls")


def _perf_fields(text: str) -> pl.DataFrame:
    """``perf script -F comm,tid,cpu,time,event,trace --ns`` lines (the fields up to the
    event), read by a plain regex; a tracepoint's event without its system, as the
    readers name it."""
    rows = []
    for line in text.splitlines():
        m = _FIELDS.match(line)
        assert m, line
        comm, pid, cpu, sec, frac, event = m.groups()
        system, _, name = event.partition(":")
        rows.append((int(sec) * 10**9 + int(frac), int(cpu), int(pid), comm,
                     name if system in TRACEPOINT_SYSTEMS else event))
    return pl.DataFrame(rows, schema=["ts", "cpu", "pid", "comm", "event"], orient="row")


def _fresh_perf(tmp_path: Path, *args: str) -> str:
    data = _plain(VAR / "mixed.perf.data.zst", tmp_path)
    return subprocess.run(["perf", "script", "-i", str(data), *args], capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.parametrize("source", ["committed", "perf"])
def test_perf_script_with_cpu_clock_samples(tmp_path: Path, source: str) -> None:
    if source == "committed":
        script, fields = (_text(VAR / "mixed.script-ns.txt.zst"),
                          _text(VAR / "mixed.fields-ns.txt.zst"))
    else:
        if not HAVE_PERF:
            pytest.skip("perf is not installed")
        script = _fresh_perf(tmp_path, "--ns")
        fields = _fresh_perf(tmp_path, "--ns", "-F", "comm,tid,cpu,time,event,trace")
    p = tmp_path / "mixed.txt"
    p.write_text(script)
    tr = read_trace(str(p))
    want = _perf_fields(fields)
    assert tr.info.warnings() == [] and tr.info.skipped_lines == 0
    assert tr.df.select(want.columns).cast(want.schema).equals(want)
    counts = Counter(tr.df["event"].to_list())
    assert counts["cpu-clock"] == 252 and counts["faults:u"] == 131
    perf_names = EXPECTED["mixed.perf.data.zst"]
    assert sum(counts.values()) == sum(perf_names.values())


def test_perf_script_in_microseconds_is_the_same_events() -> None:
    us = read_trace(str(VAR / "mixed.script.txt.zst"))
    ns = read_trace(str(VAR / "mixed.script-ns.txt.zst"))
    assert us.info.skipped_lines == 0
    for col in ("cpu", "pid", "comm", "event", "pfn", "gfp_flags", "next_comm"):
        assert us.df[col].equals(ns.df[col]), col


def test_perf_data_and_its_script_text_count_the_same_events() -> None:
    binary = read_trace(str(VAR / "mixed.perf.data.zst"))
    text = read_trace(str(VAR / "mixed.script-ns.txt.zst"))
    assert Counter(binary.df["event"].to_list()) == Counter(text.df["event"].to_list())


def test_detected_by_other_event_lines_alone(tmp_path: Path) -> None:
    """SYNTHETIC from real lines: a perf script text whose first 2,000 lines are
    cpu-clock samples is still perf script text."""
    lines = _text(VAR / "mixed.script-ns.txt.zst").splitlines()
    clock = [ln for ln in lines if " cpu-clock: " in ln]
    p = tmp_path / "clock-first.txt"
    p.write_text("\n".join(clock * 9 + lines) + "\n")
    assert detect_format(str(p)) == "perf-script"


# SYNTHETIC: lines made by hand (the awkward cases of other-event lines), each format
# read with and without the compiled kernel.
OTHER_TRACEFS = """\
# tracer: nop
          bash-5   [001] .....   10.000001: mm_page_alloc: page=0x1 pfn=0x1 order=0 migratetype=0 gfp_flags=GFP_KERNEL
          bash-5   [001] .....   10.000002: sys_read(fd: 3, buf: 0x7ffc, count: 0x340)
          bash-5   [001] .....   10.000003: sys_read -> 0x340
          bash-5   [001] .....   10.000004: do_sys_openat2 <-__x64_sys_openat
          bash-5   [001] .....   10.000005: <stack trace>
 => __alloc_pages
 => do_anonymous_page
          bash-5   [001] .....   10.000006: <user stack trace>
 =>  <00007f5c73732b20>
          bash-5   [001] .....   10.000007: read(fd: 3)
          bash-5   [001] .....   10.000008: nothing we know
          bash-5   [001] .....   10.000009: mm_page_free: page=0x1 pfn=0x1 order=0
"""
OTHER_PERF = """\
              sh 10051 [001]  6127.659600:         10        faults:u:      7f32cebb36a8 dl_main+0x6e8 (/usr/lib/ld.so)
              sh 10051 [001]  6127.659601:     250000       cycles:P:  ffffffff81594a60 perf_swevent_event+0x160 ([kernel.kallsyms])
              sh 10051 [001]  6127.659602:     250000       cpu-clock:ppp:  ffffffff81594a60 x ([kernel.kallsyms])
              sh 10051 [001]  6127.659603:  page-faults/period=10/u:  ffffffff81594a60 x ([kernel.kallsyms])
              sh 10051 [001]  6127.659604:          kmem:mm_page_alloc: page=0x1 pfn=0x1 order=0 migratetype=0 gfp_flags=GFP_KERNEL
\tffffffff8163eab7 __alloc_frozen_pages_noprof+0x2b7 ([kernel.kallsyms])
\t          1af8bb _PyObject_Malloc+0x9b (/usr/lib/libpython3.11.so.1.0)
\t a230a706f6e203a [unknown] ([unknown])

              sh 10051 [001]  6127.659605:          kmem:u: page=0x1 pfn=0x1
              sh 10051  6127.659606:     250000       cpu-clock:  ffffffff81594a60 x ([kernel.kallsyms])
"""


@pytest.mark.parametrize(("text", "fmt", "events", "skipped"), [
    (OTHER_TRACEFS, "tracefs", ["mm_page_alloc", "sys_enter_read", "sys_exit_read", "function",
                                "kernel_stack", "user_stack", "mm_page_free"], 2),
    (OTHER_PERF, "perf-script", ["faults:u", "cycles:P", "cpu-clock:ppp",
                                 "page-faults/period=10/u", "mm_page_alloc", "kmem:u"], 1),
])
def test_awkward_other_event_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   text: str, fmt: str, events: list[str],
                                   skipped: int) -> None:
    p = tmp_path / "t.txt"
    p.write_text(text)
    tr = read_trace(str(p), fmt)
    assert tr.df["event"].to_list() == events
    assert tr.info.skipped_lines == skipped  # no event name / no CPU column
    _same(p, monkeypatch, fmt=fmt)
    # the kernel reads the page events' lines and leaves the others to the Polars path
    mode = TEXT_FORMATS[fmt].kernel
    assert mode is not None
    fast = textfast.parse(text.rstrip("\n").encode(), mode)
    assert fast.table.column("ln").to_pylist() == [
        i for i, line in enumerate(text.splitlines()) if "mm_page_" in line]
