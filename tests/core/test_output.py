"""Outputs never replace anything but a regular file we may replace (issue: hostile paths)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from xpfotrace.cli import app
from xpfotrace.core.errors import OutputError, UsageError
from xpfotrace.core.output import atomic_path, check

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
runner = CliRunner()


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "trace.txt.zst"
    dst.write_bytes(SAMPLE.read_bytes())
    return dst


def test_output_naming_the_input_is_refused(tmp_path: Path) -> None:
    src = _copy(tmp_path)
    before = src.read_bytes()
    link = tmp_path / "alias"
    link.symlink_to(src)
    hard = tmp_path / "hard"
    os.link(src, hard)
    for out in (src, link, hard):
        for cmd in (["convert", str(src), "-o", str(out)],
                    ["report", str(src), "-o", str(out)],
                    ["sweep", str(src), "-p", "3550", "-o", str(out)]):
            res = runner.invoke(app, cmd)
            assert res.exit_code == 2, (cmd, res.output)
            assert "is the input" in res.stderr and res.stderr.count("\n") == 1
    assert src.read_bytes() == before and link.is_symlink()


def test_symlink_is_written_through(tmp_path: Path) -> None:
    src = _copy(tmp_path)
    target = tmp_path / "real.parquet"
    link = tmp_path / "link.parquet"
    link.symlink_to(target)  # dangling until written
    res = runner.invoke(app, ["convert", str(src), "-o", str(link)])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and target.is_file()
    assert pl.read_parquet(link).height > 0


def test_device_and_fifo_are_streamed_not_replaced(tmp_path: Path) -> None:
    src = _copy(tmp_path)
    res = runner.invoke(app, ["convert", str(src), "-o", "/dev/null"])
    assert res.exit_code == 0, res.output
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    import threading

    def drain() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=drain)
    reader.start()
    res = runner.invoke(app, ["convert", str(src), "-o", str(fifo)])
    reader.join(timeout=60)
    assert res.exit_code == 0, res.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got and got[0][:4] == b"PAR1"


def test_directory_missing_dir_and_unwritable_dir(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        check(str(tmp_path))
    with pytest.raises(UsageError, match="does not exist"):
        check(str(tmp_path / "no" / "such.parquet"))
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(UsageError, match="not writable"):
            check(str(ro / "x.parquet"))
    res = runner.invoke(app, ["convert", str(SAMPLE), "-o", str(tmp_path / "no" / "x.pq")])
    assert res.exit_code == 2 and "does not exist" in res.stderr


def test_failure_leaves_nothing_and_disk_full_is_an_output_error(tmp_path: Path) -> None:
    out = tmp_path / "x.bin"
    out.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(str(out)) as tmp:
        Path(tmp).write_text("new")
        raise RuntimeError("boom")
    assert out.read_text() == "old" and os.listdir(tmp_path) == ["x.bin"]
    with pytest.raises(OutputError, match=r"x\.bin: cannot write"), atomic_path(str(out)):
        raise OSError(28, "No space left on device")
    assert out.read_text() == "old"


def test_batch_skips_its_own_previous_summary(tmp_path: Path) -> None:
    _copy(tmp_path)
    out = tmp_path / "summary.parquet"
    first = runner.invoke(app, ["batch", str(tmp_path), "-o", str(out)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, ["batch", str(tmp_path), "-o", str(out)])
    assert second.exit_code == 0, second.output
    assert "is the output of this batch" in second.stderr
    assert pl.read_parquet(out)["trace"].unique().to_list() == [str(tmp_path / "trace.txt.zst")]
