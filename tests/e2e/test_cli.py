"""The command line: convert, replay, errors and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xpfotrace.cli import app

SAMPLES = Path(__file__).parent.parent.parent / "sample_traces"
SAMPLE = SAMPLES / "hackbench-1s.ftrace.txt.zst"
runner = CliRunner()


def test_convert_then_replay_parquet(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    res = runner.invoke(app, ["convert", str(SAMPLE), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert out.exists() and "wrote" in res.stderr
    a = json.loads(runner.invoke(app, ["replay", str(out), "--json"]).stdout)
    b = json.loads(runner.invoke(app, ["replay", str(SAMPLE), "--json"]).stdout)
    assert a["strategies"] == b["strategies"]
    assert set(a) == {"trace", "observed", "cpus", "strategies", "input", "tlb_flush_reasons",
                      "check"}
    assert a["input"] == {"lost_events": 0, "overflowed": False, "warnings": []}
    assert len(a["strategies"]) == 9


def test_table_lists_seed_strategies_first() -> None:
    res = runner.invoke(app, ["replay", str(SAMPLE)])
    assert res.exit_code == 0
    rows = [ln.split()[0] for ln in res.stdout.splitlines()
            if ln and ln.split()[0] in {"sync", "deferred", "deferred+batch", "none",
                                        "sync+lazy"}]
    assert rows[:3] == ["sync", "deferred", "deferred+batch"]
    assert rows[-1] == "none"


def test_strategies_and_cpus_options() -> None:
    res = runner.invoke(app, ["replay", str(SAMPLE), "--json", "-s", "sync,deferred+lazy",
                              "--cpus", "8"])
    d = json.loads(res.stdout)
    assert list(d["strategies"]) == ["sync", "deferred+lazy"]
    assert d["cpus"] == 8 and d["trace"]["cpus"] == 2
    assert d["strategies"]["sync"]["ipis"] == d["strategies"]["sync"]["requests"] * 7


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 10)
    csv = tmp_path / "a.csv"
    csv.write_text("a,b\n1,2\n")
    cases = [
        (["replay", str(tmp_path / "missing")], 1, "no such file"),
        (["replay", str(empty)], 1, "empty file"),
        (["replay", str(junk)], 1, "binary"),
        (["replay", str(csv)], 1, "unrecognised format"),
        (["replay", str(SAMPLE), "-s", "bogus"], 2, "unknown strategy"),
        (["replay", str(SAMPLE), "--cpus", "1"], 2, "cannot replay on 1 CPUs"),
        (["convert", str(csv), "-o", str(tmp_path / "o.parquet")], 1, "unrecognised"),
    ]
    for args, code, text in cases:
        res = runner.invoke(app, args)
        assert res.exit_code == code, (args, res.output)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and text in lines[0] and "Traceback" not in res.output, args
    assert not (tmp_path / "o.parquet").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]


def test_version_and_packaging() -> None:
    import importlib.metadata
    from pathlib import Path

    import xpfotrace

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"xpfotrace {xpfotrace.__version__}"
    assert importlib.metadata.version("xpfotrace") == xpfotrace.__version__  # one source
    assert (Path(xpfotrace.__file__).parent / "py.typed").exists()


def test_per_cpu_reasons_and_check() -> None:
    res = CliRunner().invoke(app, ["replay", str(SAMPLE), "--json", "--per-cpu", "-s",
                                   "sync,deferred@bound=1ms"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    for name, rows in d["per_cpu"].items():
        assert [r["cpu"] for r in rows] == list(range(d["cpus"]))
        for key in ("requests", "pte_writes", "full_requests", "unmaps"):
            assert sum(r[key] for r in rows) == d["strategies"][name][key]
    sync, bounded = d["per_cpu"]["sync"], d["per_cpu"]["deferred@bound=1ms"]
    assert sum(r["ipis_received"] for r in sync) == d["strategies"]["sync"]["ipis"]
    for key in ("remote_full_flushes", "bounded_flushes"):
        assert sum(r[key] for r in bounded) == d["strategies"]["deferred@bound=1ms"][key]
    names = {r["code"]: r["name"] for r in d["tlb_flush_reasons"]}
    assert all(names[int(k)].startswith("TLB_") for k in d["observed"]["tlb_flush"])
    assert d["check"]["traced"]["remote_ipi_sends"] == d["observed"]["tlb_flush"].get("4", 0)
    text = CliRunner().invoke(app, ["replay", str(SAMPLE), "-s", "sync", "--per-cpu"])
    assert "check: the traced kernel itself did" in text.stdout
    assert "per CPU (sync):" in text.stdout and "TLB_FLUSH_ON_TASK_SWITCH" in text.stdout


def test_quiet_verbose_and_profile_names_in_help(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    quiet = runner.invoke(app, ["-q", "convert", str(SAMPLE), "-o", str(out)])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    loud = runner.invoke(app, ["-v", "replay", str(out), "-s", "sync"])
    assert loud.exit_code == 0 and "events (tracefs" in loud.stderr
    both = runner.invoke(app, ["-v", "-q", "replay", str(out)])
    assert both.exit_code == 2
    helptext = runner.invoke(app, ["compare", "--help"], env={"COLUMNS": "200"}).stdout
    assert "genoa-9654-2s" in helptext and "deferred+batch+lazy" in helptext
    err = runner.invoke(app, ["-q", "replay", str(tmp_path / "missing.txt")])
    assert err.exit_code == 1 and "missing.txt" in err.stderr  # errors are never quiet


def test_tables_fit_the_width_without_breaking_numbers() -> None:
    from xpfotrace.render.tables import table

    rows = [["strategy", "requests", "remote full flushes", "win p99 (ms)"],
            ["deferred+batch@bound=100us@ceiling=16", "1,234,567", "5", "0.100"]]
    narrow = table(rows, width=75).splitlines()
    assert max(len(line) for line in narrow) <= 75 and len(narrow) > 3  # headers wrapped
    assert any("1,234,567" in line for line in narrow)  # the number whole
    wide = table(rows).splitlines()  # not a terminal: one row per line, nothing wrapped
    assert len(wide) == 3 and "remote full flushes" in wide[0]
    res = runner.invoke(app, ["replay", str(SAMPLE), "-s", "sync"])
    assert "full req = requests flushed whole" in res.stdout and "win p99 (ms)" in res.stdout


def test_help_loads_no_heavy_module() -> None:
    """--help and --version start without Polars, pyarrow, NumPy or the converters."""
    import subprocess
    import sys

    code = ("import sys, xpfotrace.cli; print(sorted(m for m in ('polars', 'pyarrow', "
            "'numpy', 'xpfotrace.converters', 'xpfotrace.engine') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
    from xpfotrace.cli import _options
    from xpfotrace.converters import FORMAT_NAMES

    assert tuple(FORMAT_NAMES) == _options.FORMAT_NAMES


def test_replay_loads_only_what_it_uses() -> None:
    """A replay of a raw text trace imports no compare or sweep, Parquet writer, pyarrow.compute,
    batch or HTML report: each command imports its own dependencies (start-up time)."""
    import subprocess
    import sys

    code = ("import sys, io, contextlib\n"
            "from xpfotrace.cli import app\n"
            f"sys.argv = ['xpfotrace', '-q', 'replay', {str(SAMPLE)!r}, '-s', 'sync']\n"
            "try:\n"
            "    with contextlib.redirect_stdout(io.StringIO()): app()\n"
            "except SystemExit as e: assert not e.code, e.code\n"
            "print(sorted(m for m in ('pyarrow.parquet', 'pyarrow.compute',"
            " 'xpfotrace.costing.compare', 'xpfotrace.costing.sweep', 'xpfotrace.fleet',"
            " 'xpfotrace.render.html', 'xpfotrace.capture', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_buffer_option_and_batch_skips_by_content(tmp_path: Path) -> None:
    import shutil

    both = Path(__file__).parent.parent / "fixtures" / "variants" / "both-paged.dat"
    res = {}
    for buf in ("top", None):
        args = ["replay", str(both), "--json", "-s", "sync"] + (["--buffer", buf] if buf else [])
        out = runner.invoke(app, args)
        assert out.exit_code == 0, out.output
        res[buf] = json.loads(out.stdout)["trace"]["events"]
    assert res["top"] > 0 and res[None] > 0
    bad = runner.invoke(app, ["replay", str(both), "--buffer", "no-such-buffer"])
    assert bad.exit_code in (1, 2) and "no-such-buffer" in bad.stderr
    # batch: an extension-less tracefs dump is a trace, a text file is not
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(SAMPLES / "hackbench-1s.ftrace.txt.zst", d / "dump")
    (d / "notes").write_text("not a trace\n")
    b = runner.invoke(app, ["batch", str(d), "-o", str(tmp_path / "s.parquet"), "-s", "sync"])
    assert b.exit_code == 0, b.output
    assert "skipped 1 file(s) that are not traces" in b.stderr and "notes" in b.stderr


def test_reader_warnings_go_to_the_logger_and_quiet_means_quiet(
        caplog: pytest.LogCaptureFixture) -> None:
    """A library user gets the readers' warnings through the 'xpfotrace' logger; the CLI
    prints them once (as its own warning lines), and -q prints none."""
    import logging
    import subprocess
    import sys

    import xpfotrace

    path = str(Path(__file__).parent.parent / "fixtures" / "real" / "py-short.tracecmd.txt.zst")
    with caplog.at_level(logging.WARNING, logger="xpfotrace"):
        xpfotrace.read_trace(path)
    assert any("lost events" in r.getMessage() for r in caplog.records)
    cmd = [sys.executable, "-m", "xpfotrace", "replay", path, "--json", "-s", "sync"]
    quiet = subprocess.run([*cmd[:3], "-q", *cmd[3:]], capture_output=True, text=True)
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = subprocess.run(cmd, capture_output=True, text=True)
    assert loud.stderr.count("lost events") == 1, loud.stderr
