"""MODEL.md section 4 (deferred mode, exposure windows) on SYNTHETIC traces."""

from __future__ import annotations

from typing import Any

import pytest
from synth import USER, alloc, make_trace, switch

from xpfotrace import replay
from xpfotrace.engine.classify import KTHREAD_PREFIXES
from xpfotrace.engine.deferred.quantile import nearest_rank


def deferred(events: list[dict[str, Any]], cpus: int = 2) -> dict[str, Any]:
    return replay(make_trace(events, cpus=cpus), strategies="deferred").strategies["deferred"]


def test_pending_cpu_flushes_once_at_next_mm_switch() -> None:
    ev = [alloc(10, 1, cpu=0), alloc(20, 2, cpu=0), switch(50, cpu=1), switch(60, cpu=1)]
    c = deferred(ev)
    assert c["remote_full_flushes"] == 1
    assert (c["windows"], c["censored_windows"]) == (2, 0)
    assert (c["window_p50_ns"], c["window_max_ns"]) == (30, 40)


@pytest.mark.parametrize("comm", ["swapper/1", "kworker/1:2", "rcu_preempt", "ksoftirqd/1",
                                  "kswapd0", "jbd2/sda1-8", "writeback"])
def test_switch_to_kernel_thread_is_not_mm_switch(comm: str) -> None:
    c = deferred([alloc(10, 1, cpu=0), switch(20, cpu=1, next_comm=comm)])
    assert (c["remote_full_flushes"], c["windows"], c["censored_windows"]) == (0, 0, 1)


def test_next_pid_zero_is_idle() -> None:
    c = deferred([alloc(10, 1, cpu=0), switch(20, cpu=1, next_comm="bash", next_pid=0)])
    assert c["remote_full_flushes"] == 0


def test_prefix_list_is_exact() -> None:
    # "kthreadd2" starts with "kthreadd" (kernel); "rc" does not start with "rcu" (user)
    assert "kthreadd" in KTHREAD_PREFIXES
    c = deferred([alloc(10, 1, cpu=0), switch(20, cpu=1, next_comm="rc")])
    assert c["remote_full_flushes"] == 1


def test_own_requests_and_own_switches_do_not_interact() -> None:
    ev = [alloc(10, 1, cpu=0), switch(20, cpu=0)]  # cpu 0's own switch after own request
    c = deferred(ev)
    assert c["remote_full_flushes"] == 0
    assert c["censored_windows"] == 1  # cpu 1 never switches


def test_switch_at_same_ts_but_earlier_seq_is_before_the_request() -> None:
    ev = [switch(10, cpu=1), alloc(10, 1, cpu=0), switch(10, cpu=1)]
    c = deferred(ev)
    assert c["remote_full_flushes"] == 1
    assert (c["windows"], c["window_max_ns"]) == (1, 0)


def test_replay_order_is_ts_then_seq_not_file_order() -> None:
    # the switch is first in the file but later in time
    ev = [switch(30, cpu=1), alloc(10, 1, cpu=0)]
    c = deferred(ev)
    assert (c["remote_full_flushes"], c["window_max_ns"]) == (1, 20)


def test_no_windows_gives_null_quantiles() -> None:
    c = deferred([alloc(10, 1, USER, cpu=0)])
    assert c["windows"] == 0 and c["window_p50_ns"] is None and c["window_p99_ns"] is None


def test_nearest_rank_formula() -> None:
    assert nearest_rank(50, 1) == 0
    assert nearest_rank(50, 2) == 0
    assert nearest_rank(50, 3) == 1
    assert nearest_rank(99, 100) == 98
    assert nearest_rank(99, 101) == 99
    assert nearest_rank(100, 7) == 6


def test_request_circle_matches_an_unrolled_list() -> None:
    """_Requests' extended indices (turns of the circle) against an explicit unrolled list
    (SYNTHETIC arrays)."""
    import numpy as np

    from xpfotrace.engine.deferred.circle import Requests as _Requests

    rng = np.random.default_rng(7)
    period = 50
    t = np.sort(rng.integers(0, period, 30)).astype(np.int64)
    cpu = rng.integers(0, 3, 30).astype(np.int64)
    w = rng.integers(1, 3, 30).astype(np.int64)
    rq = _Requests(t, np.arange(30, dtype=np.int64) * 2, cpu, w, period, 3)
    turns = range(-3, 3)
    times = np.concatenate([t + a * period for a in turns])
    cpus, weights = np.tile(cpu, len(turns)), np.tile(w, len(turns))
    base = 3 * 30  # list position of extended index 0
    for y in range(-3 * period + 1, 2 * period):
        i = int(rq.at(np.array([y]))[0])
        assert i == int(np.searchsorted(times, y)) - base
        assert int(rq.at(np.array([y]), True)[0]) == int(np.searchsorted(times, y, "right")) - base
    for i in range(-3 * 30, 2 * 30 + 1):
        before = slice(0, i + base)
        far = rq.cum(np.array([i, 40 * 30]))  # out of the table's turns: divides instead
        assert int(far[0]) == int(rq.cum(np.array([i]))[0])
        assert int(rq.cum(np.array([i]))[0]) - int(rq.cum(np.array([0]))[0]) == \
            int(weights[before].sum()) - int(weights[:base].sum())
        for c in range(3):
            own = int(rq.own_cum_at(np.array([c]), np.array([i]))[0])
            own0 = int(rq.own_cum_at(np.array([c]), np.array([0]))[0])
            mask = cpus == c
            assert own - own0 == int(weights[before][mask[before]].sum()) - \
                int(weights[:base][mask[:base]].sum())
            if i < 2 * 30:
                assert int(rq.time(np.array([i]))[0]) == times[i + base]
                nxt = int(rq.first_other(np.array([c]), np.array([i]))[0])
                assert nxt == i + int(np.argmax(cpus[i + base:] != c))
