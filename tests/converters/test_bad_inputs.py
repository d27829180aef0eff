"""Bad inputs: what the user gets for each (issue: reliability).

Fatal cases exit 1 with one line on stderr naming the file and leave no output;
recoverable ones exit 0 with a counted warning and the clean trace's counters.
The dirty variants are SYNTHETIC edits of a real capture.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
from pathlib import Path

import polars as pl
import pytest
import zstandard
from paths import binary_path  # noqa: F401  (each test on both paths: tests/paths.py)
from typer.testing import CliRunner

from xpfotrace import read_trace, replay
from xpfotrace.cli import app

HERE = Path(__file__).parent.parent
SAMPLE = HERE.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
OVERFLOW = HERE / "fixtures" / "real" / "hackbench-overflow.ftrace.txt.zst"
runner = CliRunner()


def clean_lines() -> list[str]:
    text = zstandard.ZstdDecompressor().decompressobj().decompress(SAMPLE.read_bytes())
    return text.decode().splitlines(keepends=True)[:6000]


def check_fatal(path: Path, tmp_path: Path, words: str) -> None:
    out = tmp_path / "out.parquet"
    for args in (["replay", str(path)], ["convert", str(path), "-o", str(out)]):
        res = runner.invoke(app, args)
        assert res.exit_code == 1, (args, res.output)
        err = res.stderr.strip().splitlines()
        assert len(err) == 1 and str(path) in err[0] and words in err[0], err
        assert "Traceback" not in res.output
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def compressed(kind: str, data: bytes) -> bytes:
    return {"gz": gzip.compress, "xz": lzma.compress,
            "zst": zstandard.ZstdCompressor().compress}[kind](data)


@pytest.mark.parametrize(("name", "content", "words"), [
    ("empty.txt", b"", "empty file"),
    ("random.bin", os.urandom(4096), "binary"),
    ("data.json", b'{"events": [1, 2, 3], "cpus": 2}\n', "unrecognised format"),
    ("data.csv", b"ts,cpu,event\n1,0,mm_page_alloc\n", "unrecognised format"),
    ("forks-only.txt", b"# tracer: nop\n#P:2\n  sh-1 [000] ..... 1.000001: sched_process_fork:"
     b" comm=sh pid=1 child_comm=sh child_pid=2\n", "none of the events the replay reads"),
])
def test_fatal_content(tmp_path: Path, name: str, content: bytes, words: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    check_fatal(p, tmp_path, words)


@pytest.mark.parametrize("kind", ["zst", "gz", "xz"])
def test_truncated_compressed_input(tmp_path: Path, kind: str) -> None:
    data = compressed(kind, "".join(clean_lines()).encode())
    p = tmp_path / f"cut.txt.{kind}"
    p.write_bytes(data[: len(data) * 2 // 3])
    check_fatal(p, tmp_path, "offset")


def test_missing_and_directory(tmp_path: Path) -> None:
    check_fatal(tmp_path / "nope.txt", tmp_path, "no such file")
    d = tmp_path / "adir"
    d.mkdir()
    check_fatal(d, tmp_path, "directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable(tmp_path: Path) -> None:
    p = tmp_path / "secret.txt"
    p.write_text("".join(clean_lines()))
    p.chmod(0)
    check_fatal(p, tmp_path, "permission denied")


def dirty(lines: list[str]) -> tuple[str, int]:
    """Garbage lines, malformed known events and unknown events mixed in; last line cut."""
    out: list[str] = []
    bad = 0
    for i, line in enumerate(lines):
        if i % 500 == 7:
            out.append("@@@ this is not a trace line @@@\n")
            bad += 1
        if i % 700 == 11 and "mm_page_alloc:" in line:
            out.append(line.replace(" order=0", ""))  # missing field
            bad += 1
        if i % 900 == 13 and "mm_page_free:" in line:
            out.append(line.replace("pfn=0x", "pfn=0xZZ"))  # malformed field
            bad += 1
        if i % 600 == 5 and "sched_switch:" in line:
            # an unknown event just before a sched_switch of the same CPU and ts
            head = line.split(" sched_switch:")[0]
            out.append(f"{head} my_unknown_event: foo=1 bar=2\n")
        out.append(line)
    out.append(lines[-1][: len(lines[-1]) // 2])  # a last line cut mid-way
    return "".join(out), bad


def test_recoverable_dirt_keeps_clean_counters(tmp_path: Path) -> None:
    lines = clean_lines()
    clean = tmp_path / "clean.txt"
    clean.write_text("".join(lines))
    text, bad = dirty(lines)
    p = tmp_path / "dirty.txt"
    p.write_text(text)
    res = runner.invoke(app, ["replay", str(p), "--json"])
    assert res.exit_code == 0, res.output
    warn = res.stderr
    assert f"skipped {bad:,} malformed or unrecognised line(s), first at line 8" in warn
    assert "cut off" in warn
    got = json.loads(res.stdout)
    want = replay(read_trace(str(clean))).to_dict()
    assert got["strategies"] == want["strategies"]
    assert got["trace"]["event_counts"]["my_unknown_event"] > 0


def test_overflow_skew_warning_and_trim() -> None:
    tr = read_trace(str(OVERFLOW))  # real capture into a 96 KiB buffer
    assert tr.info.overflow == "4447/41825"
    assert tr.info.skew_ns > 10_000_000
    assert any("--trim-to-common-window" in w for w in tr.info.warnings())
    cut = tr.common_window_start()
    trimmed = tr.trimmed()
    assert trimmed.df["ts"].min() == cut
    assert trimmed.df.group_by("cpu").agg(pl.col("ts").min())["ts"].max() == cut
    res = runner.invoke(app, ["replay", str(OVERFLOW), "--json", "--trim-to-common-window"])
    assert json.loads(res.stdout)["trace"]["events"] == trimmed.df.height < tr.df.height


def test_lost_events_are_summed_with_warning(tmp_path: Path) -> None:
    lines = clean_lines()
    p = tmp_path / "pipe.txt"
    p.write_text("".join(lines[:100]) + "CPU:1 [LOST 17 EVENTS]\n" + "".join(lines[100:])
                 + "CPU:0 [LOST 3 EVENTS]\n")
    res = runner.invoke(app, ["replay", str(p), "--json", "-s", "sync"])
    assert json.loads(res.stdout)["trace"]["lost_events"] == 20
    assert "20 lost events" in res.stderr


def test_out_of_order_timestamps_warn_once_and_sort(tmp_path: Path) -> None:
    lines = [ln for ln in clean_lines() if not ln.startswith("#")][:2000]
    swapped = lines[:]
    i = next(k for k in range(500, 1500) if "[000]" in lines[k] and "[000]" in lines[k + 1]
             and lines[k].split(": ")[0][-12:] != lines[k + 1].split(": ")[0][-12:])
    swapped[i], swapped[i + 1] = lines[i + 1], lines[i]
    p = tmp_path / "ooo.txt"
    p.write_text("#P:2\n" + "".join(swapped))
    res = runner.invoke(app, ["replay", str(p), "-s", "sync"])
    assert res.exit_code == 0
    assert res.stderr.count("below the previous one") == 1


def test_debug_shows_traceback(tmp_path: Path) -> None:
    res = runner.invoke(app, ["--debug", "replay", str(tmp_path / "missing.txt")])
    assert res.exit_code == 1
    assert "Traceback" in res.stderr


def test_parquet_with_wrong_column_types(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "types.parquet"
    pq.write_table(pa.table({"ts": pa.array([1, 2]), "cpu": pa.array([0, 0], pa.int32()),
                             "seq": pa.array([0, 1]), "event": pa.array([1, 2])}), p)
    res = runner.invoke(app, ["replay", str(p)])  # (convert refuses Parquet input anyway)
    err = res.stderr.strip().splitlines()
    assert res.exit_code == 1 and len(err) == 1, res.output
    assert str(p) in err[0] and "column 'event' is int64, expected string" in err[0]
