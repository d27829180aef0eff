"""compare: projection per profile, costs, JSON shape, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from xpfotrace import read_trace, replay
from xpfotrace.cli import app
from xpfotrace.compare import compare
from xpfotrace.cost import added_cpu_ns
from xpfotrace.hardware import find_profiles

SAMPLE = Path(__file__).parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
runner = CliRunner()


def test_profile_and_cpus_agree() -> None:
    tr = read_trace(str(SAMPLE))
    (prof,) = find_profiles(["3550"])
    cmp = compare(tr, [prof], baseline_sys_ns=2_000_000_000)
    direct = replay(tr, cpus=prof.cpus)
    entry = cmp.profiles[prof.name]
    assert entry["cpus"] == 4 and entry["baseline_sys_ns"] == 4_000_000_000
    for name, counters in direct.strategies.items():
        got = entry["strategies"][name]
        assert {k: got[k] for k in counters} == counters
        assert got["added_cpu_ns"] == added_cpu_ns(name, counters, prof)
        assert got["overhead"] == got["added_cpu_ns"] / 4_000_000_000


def test_progress_is_called_once_per_profile() -> None:
    tr = read_trace(str(SAMPLE))
    profs = find_profiles(["3550", "altra"])
    calls: list[int] = []
    cmp = compare(tr, profs, strategies="sync", progress=calls.append)
    assert calls == [1, 1] and len(cmp.profiles) == 2


def test_cli_json_shape_and_null_overhead() -> None:
    res = runner.invoke(app, ["compare", str(SAMPLE), "-p", "3550", "-p", "altra", "--json",
                              "-s", "sync,deferred"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert list(d["profiles"]) == ["i5-3550", "altra-q80"]
    alt = d["profiles"]["altra-q80"]
    assert alt["cpus"] == 80 and alt["baseline_sys_ns"] is None
    assert set(alt["strategies"]) == {"sync", "deferred"}
    assert alt["strategies"]["sync"]["overhead"] is None
    assert alt["strategies"]["sync"]["ipis"] == alt["strategies"]["sync"]["requests"] * 79


def test_cli_human_table_and_baseline() -> None:
    res = runner.invoke(app, ["compare", str(SAMPLE), "-p", "3550", "--baseline-sys", "0.5",
                              "-s", "sync,deferred,deferred+batch"])
    assert res.exit_code == 0, res.output
    assert "i5-3550: added s" in res.stdout and "%" in res.stdout
    assert "baseline kernel time 1.000 s" in res.stdout  # 0.5 s x 4 / 2


def test_profile_with_fewer_cpus_than_trace_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "one.toml"
    f.write_text('name = "uni"\ncpus = 1\ninvlpg_ns = 1\nfull_flush_ns = 1\nipi_base_ns = 1\n'
                 'ipi_per_target_ns = 1\nipi_recv_ns = 1\nbroadcast_invalidate = false\n')
    res = runner.invoke(app, ["compare", str(SAMPLE), "--profile-file", str(f), "-p", "uni"])
    assert res.exit_code == 2
    assert "fewer than the trace's 2" in res.stderr


def test_profiles_json() -> None:
    res = runner.invoke(app, ["profiles", "--json"])
    items = json.loads(res.stdout)
    assert {"name", "cpus", "params", "sources", "description"} <= set(items[0])
    assert set(items[0]["params"]) == {"invlpg_ns", "full_flush_ns", "ipi_base_ns",
                                       "ipi_per_target_ns", "ipi_recv_ns",
                                       "broadcast_invalidate"}
    by_name = {p["name"]: p for p in items}
    assert by_name["xeon-8160-2s"]["cpus"] == 96
    assert by_name["epyc-7713-invlpgb"]["params"]["broadcast_invalidate"] is True
    assert all(s["source"] for p in items for s in p["sources"])
