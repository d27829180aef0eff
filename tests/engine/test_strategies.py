"""Strategy names and their parameters (MODEL.md section 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synth import alloc, make_trace, with_seq
from typer.testing import CliRunner

from xpfotrace import read_trace, replay
from xpfotrace.cli import app
from xpfotrace.core.errors import UsageError
from xpfotrace.strategies import format_ns, parse, parse_one

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "kbuild-1s.parquet"


def test_parameters_in_any_order_keep_the_name_as_written() -> None:
    s = parse_one("deferred+batch@bound=2ms@ceiling=64")
    assert (s.remote, s.batch, s.lazy, s.bound_ns, s.ceiling) == ("deferred", True, False,
                                                                  2_000_000, 64)
    t = parse_one("deferred+batch@ceiling=64@bound=2000us")
    assert (t.bound_ns, t.ceiling) == (s.bound_ns, s.ceiling)
    assert t.name == "deferred+batch@ceiling=64@bound=2000us"
    assert parse_one("sync@ceiling=1").ceiling == 1
    assert parse_one(" deferred ").name == "deferred" and not parse_one("deferred").parameterised
    assert [x.name for x in parse("deferred@bound=5s,deferred,deferred@bound=5s")] == [
        "deferred@bound=5s", "deferred"]


@pytest.mark.parametrize(("name", "message"), [
    ("deferred@bund=2ms", "unknown parameter 'bund=2ms'"),
    ("deferred@bound", "unknown parameter 'bound'"),
    ("deferred@bound=2ms@bound=3ms", "parameter 'bound' given twice"),
    ("sync@bound=2ms", "bound applies to deferred strategies only"),
    ("none@ceiling=4", "'none' takes no parameters"),
    ("deferred@bound=1.5ms", "bound='1.5ms'"),
    ("deferred@bound=0ms", "must be positive"),
    ("deferred@bound=-1ms", "bound='-1ms'"),
    ("deferred@bound=10", "bound='10'"),
    ("deferred@bound=10min", "bound='10min'"),
    ("deferred@bound=99999999999999999999s", "out of range"),
    ("sync@ceiling=0", "ceiling='0'"),
    ("sync@ceiling=2147483648", "ceiling='2147483648'"),
    ("sync@ceiling=0x10", "ceiling='0x10'"),
    ("sync@ceiling=", "ceiling=''"),
    ("defered@ceiling=4", "unknown strategy 'defered'"),
])
def test_bad_parameters_name_the_culprit(name: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse(name)


def test_cli_bad_parameter_is_one_line_exit_2() -> None:
    res = CliRunner().invoke(app, ["replay", str(SAMPLE), "-s", "sync@bound=2ms"])
    assert res.exit_code == 2
    assert res.stderr.strip().count("\n") == 0 and "deferred strategies only" in res.stderr


def test_format_ns() -> None:
    assert [format_ns(x) for x in (2_000_000, 1_500_000, 7, 3_000_000_000)] == [
        "2ms", "1500us", "7ns", "3s"]


def test_default_parameters_change_nothing() -> None:
    tr = read_trace(str(SAMPLE))
    res = replay(tr, strategies="deferred+batch,deferred+batch@ceiling=33,sync,sync@ceiling=33")
    s = res.strategies
    assert s["deferred+batch"] == s["deferred+batch@ceiling=33"]
    assert s["sync"] == s["sync@ceiling=33"]


def test_ceiling_splits_range_and_full_requests() -> None:
    """SYNTHETIC: user allocations of 1, 2, 4 and 64 pages on 2 CPUs (no zero fill)."""
    events = [alloc(10 * i, pfn=1000 * (i + 1), order=o) for i, o in enumerate((0, 1, 2, 6))]
    tr = make_trace(with_seq(events), cpus=2)
    s = replay(tr, strategies="sync,sync@ceiling=1,sync@ceiling=2,sync@ceiling=64,"
               "deferred@ceiling=1").strategies
    # default 33: only the 64-page request is full
    assert (s["sync"]["full_requests"], s["sync"]["local_invlpg_pages"]) == (1, 1 + 2 + 4)
    assert (s["sync@ceiling=1"]["full_requests"], s["sync@ceiling=1"]["local_invlpg_pages"]
            ) == (3, 1)
    assert (s["sync@ceiling=2"]["full_requests"], s["sync@ceiling=2"]["local_invlpg_pages"]
            ) == (2, 3)
    assert s["sync@ceiling=64"]["full_requests"] == 0
    assert s["sync@ceiling=64"]["local_invlpg_pages"] == 1 + 2 + 4 + 64
    assert s["sync@ceiling=1"]["remote_full_flushes"] == 3  # N - 1 = 1 per full request
    assert s["deferred@ceiling=1"]["full_requests"] == 3


def test_bound_in_cli_json_keyed_as_written() -> None:
    res = CliRunner().invoke(app, ["replay", str(SAMPLE), "--json", "-s",
                                   "deferred,deferred@ceiling=8@bound=1ms"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)["strategies"]
    assert list(d) == ["deferred", "deferred@ceiling=8@bound=1ms"]
    b = d["deferred@ceiling=8@bound=1ms"]
    assert b["bounded_flushes"] > 0 and d["deferred"]["bounded_flushes"] == 0
    assert b["window_max_ns"] <= 1_000_000 < d["deferred"]["window_max_ns"]
    assert b["remote_full_flushes"] > d["deferred"]["remote_full_flushes"]


def test_api_takes_names_lists_and_strategy_objects() -> None:
    """replay, Replayer.run/requests/window_cdf and compare take a comma-separated string,
    one Strategy, or a list of names and Strategy objects, with the same result."""
    import xpfotrace
    from xpfotrace.strategies import parse_one

    tr = make_trace([alloc(0, 5, "GFP_HIGHUSER_MOVABLE", cpu=0), alloc(10, 6, "GFP_HIGHUSER_MOVABLE", cpu=1)],
                    cpus=2)
    by_text = xpfotrace.replay(tr, strategies="sync,deferred@bound=5ns").strategies
    deferred = parse_one("deferred@bound=5ns")
    assert xpfotrace.replay(tr, strategies=["sync", deferred]).strategies == by_text
    assert xpfotrace.replay(tr, strategies=deferred).strategies == {
        "deferred@bound=5ns": by_text["deferred@bound=5ns"]}
    rep = xpfotrace.Replayer(tr)
    assert rep.run(strategies=("sync",)).strategies == {"sync": by_text["sync"]}
    assert rep.requests("deferred").equals(rep.requests(parse_one("deferred")))
    assert rep.window_cdf("deferred", 4).equals(rep.window_cdf(parse_one("deferred"), 4))
    prof = xpfotrace.find_profiles(["3550"])
    a = xpfotrace.compare(tr, prof, strategies=["sync"]).to_dict()
    assert a == xpfotrace.compare(tr, prof, strategies="sync").to_dict()
