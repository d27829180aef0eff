"""MODEL.md section 6: projection onto more CPUs."""

from __future__ import annotations

import pytest
from synth import alloc, make_trace, switch

from xpfotrace import UsageError, replay
from xpfotrace.engine.projection import Projection


def test_shift_and_multiplicity() -> None:
    p = Projection(n=5, n_trace=2, t0=100, duration_ns=9)  # k = 3, D = 10
    assert (p.replicas, p.period) == (3, 10)
    assert [p.shift(r) for r in range(3)] == [0, 3, 6]
    assert p.multiplicities().tolist() == [3, 2]  # the last replica is partial


def test_fewer_cpus_than_traced_is_an_error() -> None:
    with pytest.raises(UsageError, match="trace has 2"):
        replay(make_trace([alloc(1, 1), switch(2, cpu=1)], cpus=2), cpus=1)


def test_projected_counters_scale_with_virtual_cpus() -> None:
    # SYNTHETIC: one request on cpu 0 of a 1-CPU trace, replayed on 3 CPUs
    tr = make_trace([alloc(0, 1), switch(4, cpu=0)], cpus=1)
    c = replay(tr, cpus=3, strategies="deferred,sync").strategies
    assert c["sync"]["requests"] == 3 and c["sync"]["ipis"] == 6
    assert c["sync"]["user_allocs"] == 3
    # D = 5, k = 3: replica shifts 0, 1, 3 -> requests at 0,1,3 and switches at 4,0,2
    # order (mts, r, seq): req v0@0, sw v1@0, req v1@1, sw v2@2, req v2@3, sw v0@4
    d = c["deferred"]
    assert d["remote_full_flushes"] == 3
    assert (d["windows"], d["censored_windows"]) == (5, 1)  # windows 0, 2, 1, 3, 1
    assert (d["window_p50_ns"], d["window_p99_ns"], d["window_max_ns"]) == (1, 3, 3)


@pytest.mark.parametrize("threshold", [0, 1000])
def test_window_selection_paths_agree_with_golden(monkeypatch: pytest.MonkeyPatch,
                                                  threshold: int) -> None:
    """Interpolation search (threshold 0) and listing a small bracket give the golden values."""
    import json
    from pathlib import Path

    from xpfotrace import read_trace
    from xpfotrace.engine.deferred.quantile import TUNING

    golden = Path(__file__).parent.parent / "fixtures" / "golden"
    monkeypatch.setattr(TUNING, "materialize", threshold)
    want = json.loads((golden / "kbuild-1s.ftrace.txt.cpus6.expected.json").read_text())
    got = replay(read_trace(str(golden / "kbuild-1s.ftrace.txt.zst")), cpus=6,
                 strategies="deferred,deferred+batch+lazy").strategies
    for name in ("deferred", "deferred+batch+lazy"):
        for key in ("window_p50_ns", "window_p99_ns", "window_max_ns", "remote_full_flushes"):
            assert got[name][key] == want["strategies"][name][key], (name, key)
