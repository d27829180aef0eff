"""compare: projection per profile, costs, JSON shape, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from xpfotrace import read_trace, replay
from xpfotrace.cli import app
from xpfotrace.costing.compare import compare
from xpfotrace.costing.cost import added_cpu_ns
from xpfotrace.costing.hardware import find_profiles

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
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
    assert "i5-3550: 4 CPUs" in res.stdout and "%" in res.stdout
    for head in ("local s", "pte s", "remote s", "added s", "overhead", "IPIs"):
        assert head in res.stdout
    assert "1 + overhead is the system-time ratio" in res.stdout
    assert "baseline kernel time 1.000 s" in res.stdout  # 0.5 s x 4 / 2


def test_profile_with_fewer_cpus_than_trace_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "one.toml"
    f.write_text('name = "uni"\ncpus = 1\ninvlpg_ns = 1\nfull_flush_ns = 1\nipi_base_ns = 1\n'
                 'ipi_per_target_ns = 1\nipi_recv_ns = 1\nbroadcast_invalidate = false\n'
                 'flush_call_ns = 1\npte_write_ns = 1\ncacheline_ns = 1\n')
    res = runner.invoke(app, ["compare", str(SAMPLE), "--profile-file", str(f), "-p", "uni"])
    assert res.exit_code == 2
    assert "fewer than the trace's 2" in res.stderr


def test_profiles_json() -> None:
    res = runner.invoke(app, ["profiles", "--json"])
    items = json.loads(res.stdout)
    assert {"name", "cpus", "params", "sources", "description"} <= set(items[0])
    for p in items:
        assert set(p["params"]) == {"invlpg_ns", "flush_call_ns", "full_flush_ns",
                                    "pte_write_ns", "cacheline_ns", "ipi_base_ns",
                                    "ipi_per_target_ns", "ipi_recv_ns", "broadcast_invalidate"}
        cited = {s["param"] for s in p["sources"] if "param" in s}
        assert {"flush_call_ns", "pte_write_ns", "cacheline_ns"} <= cited, p["name"]
    by_name = {p["name"]: p for p in items}
    assert by_name["xeon-8160-2s"]["cpus"] == 96
    assert by_name["epyc-7713-invlpgb"]["params"]["broadcast_invalidate"] is True
    assert all(s["source"] for p in items for s in p["sources"])


def test_cost_parts_sum_and_follow_section_7() -> None:
    tr = read_trace(str(SAMPLE))
    profs = find_profiles(["3550", "epyc-7713"])
    cmp = compare(tr, profs, baseline_sys_ns=1_000_000_000,
                  strategies="sync,deferred+batch,deferred@bound=1ms@ceiling=8")
    for prof in profs:
        for row in cmp.profiles[prof.name]["strategies"].values():
            parts = row["cost_ns"]
            assert set(parts) == {"local", "pte", "remote"}
            assert sum(parts.values()) == row["added_cpu_ns"] > 0
            assert parts["pte"] == row["pte_writes"] * prof.pte_write_ns
            assert parts["local"] == (row["requests"] * prof.flush_call_ns
                                      + row["local_invlpg_pages"] * prof.invlpg_ns
                                      + row["full_requests"] * prof.full_flush_ns)
    bounded = cmp.profiles["i5-3550"]["strategies"]["deferred@bound=1ms@ceiling=8"]
    p = profs[0]
    assert bounded["bounded_flushes"] > 0
    assert bounded["cost_ns"]["remote"] == (
        bounded["remote_full_flushes"] * (p.full_flush_ns + p.cacheline_ns)
        + bounded["requests"] * p.cacheline_ns + bounded["bounded_flushes"] * p.ipi_recv_ns)


def test_sensitivity_brackets_the_overhead() -> None:
    tr = read_trace(str(SAMPLE))
    (prof,) = find_profiles(["8160"])
    cmp = compare(tr, [prof], baseline_sys_ns=1_000_000_000, strategies="sync,deferred",
                  with_sensitivity=True)
    for name, row in cmp.profiles[prof.name]["strategies"].items():
        sv = row["sensitivity"]
        assert sv["overhead"]["min"] <= row["overhead"] <= sv["overhead"]["max"]
        # each parameter halved and doubled moves the added time down and up
        spans = {k: v["added_cpu_ns"][1] - v["added_cpu_ns"][0]
                 for k, v in sv["by_param"].items()}
        assert sv["most_sensitive"] == max(spans, key=lambda k: spans[k]), name
    sync = cmp.profiles[prof.name]["strategies"]["sync"]["sensitivity"]
    assert sync["by_param"]["cacheline_ns"]["added_cpu_ns"][0] == \
        sync["by_param"]["cacheline_ns"]["added_cpu_ns"][1]  # sync moves no pending mask
    res = runner.invoke(app, ["compare", str(SAMPLE), "-p", "8160", "--baseline-sys", "1",
                              "-s", "sync,deferred", "--sensitivity", "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)["profiles"][prof.name]["strategies"]["deferred"]
    assert got["sensitivity"]["most_sensitive"] in got["sensitivity"]["by_param"]
    text = runner.invoke(app, ["compare", str(SAMPLE), "-p", "8160", "--baseline-sys", "1",
                               "-s", "sync,deferred", "--sensitivity"])
    assert "most sensitive" in text.stdout and "overhead x0.5..x2" in text.stdout


def test_row_beyond_the_machine_is_flagged() -> None:
    tr = read_trace(str(SAMPLE))
    (prof,) = find_profiles(["8160"])  # sync on 96 CPUs: IPIs swamp the traced second
    row = compare(tr, [prof], strategies="sync").profiles[prof.name]["strategies"]["sync"]
    window = tr.df["ts"].max() - tr.df["ts"].min()
    assert row["capacity_factor"] == row["added_cpu_ns"] / (96 * window)
    assert row["exceeds_capacity"] == (row["capacity_factor"] > 1)


def test_broadcast_profile_shows_remote_invalidations() -> None:
    res = runner.invoke(app, ["compare", str(SAMPLE), "-p", "epyc-7713", "-s", "sync"])
    assert res.exit_code == 0, res.output
    assert "remote inval" in res.stdout and "IPIs" not in res.stdout.split("\n\n")[1]
