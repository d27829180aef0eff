"""MODEL.md section 7 on hand-computed cases: the three parts, term by term."""

from __future__ import annotations

import pytest

from xpfotrace.costing.cost import Cost, added_cpu_ns, cost, overhead
from xpfotrace.costing.hardware import Profile

P = Profile(name="t", cpus=4, invlpg_ns=10, flush_call_ns=7, full_flush_ns=1000,
            pte_write_ns=3, cacheline_ns=40, ipi_base_ns=500, ipi_per_target_ns=50,
            ipi_recv_ns=300, broadcast_invalidate=False)
C = {"requests": 7, "full_requests": 2, "local_invlpg_pages": 20, "ipis": 21,
     "remote_invlpg_pages": 60, "remote_full_flushes": 6, "pte_writes": 11}
# local: 7*7 + 20*10 + 2*1000 = 2249; pte: 11*3 = 33
LOCAL, PTE = 2249, 33


def test_sync_with_ipis() -> None:
    # remote: 7*500 + 21*(50+300) + 60*10 + 6*1000 = 17450
    assert cost("sync", C, P) == Cost(LOCAL, PTE, 17450)
    assert added_cpu_ns("sync", C, P) == LOCAL + PTE + 17450


def test_sync_with_broadcast_invalidation_has_no_ipi_terms() -> None:
    b = Profile(**{**P.__dict__, "broadcast_invalidate": True})
    assert cost("sync+batch", C, b) == Cost(LOCAL, PTE, 60 * 10 + 6 * 1000)


def test_deferred_pays_flushes_and_the_pending_mask_line() -> None:
    d = {**C, "ipis": 0, "remote_invlpg_pages": 0, "remote_full_flushes": 3,
         "bounded_flushes": 0}
    # 3 flushes; (7 requests + 3 flushes) cache-line moves
    assert cost("deferred+lazy", d, P) == Cost(LOCAL, PTE, 3 * 1000 + (7 + 3) * 40)


def test_bounded_flushes_pay_an_interrupt_each() -> None:
    # remote_full_flushes counts switch and bounded flushes alike (MODEL.md section 8)
    d = {**C, "ipis": 0, "remote_invlpg_pages": 0, "remote_full_flushes": 5,
         "bounded_flushes": 2}
    name = "deferred+batch@bound=2ms@ceiling=64"
    assert cost(name, d, P).remote == 5 * 1000 + (7 + 5) * 40 + 2 * 300


def test_none_costs_nothing() -> None:
    assert added_cpu_ns("none", C, P) == 0
    assert cost("none", C, P).to_dict() == {"local": 0, "pte": 0, "remote": 0}


def test_overhead_projects_the_baseline() -> None:
    # baseline 1 s on 2 traced CPUs -> 48 s on 96
    assert overhead(4_800_000_000, 1_000_000_000, 96, 2) == pytest.approx(0.1)
    assert overhead(5, None, 4, 2) is None


def test_scaled_profile_changes_one_parameter() -> None:
    q = P.scaled("cacheline_ns", 0.5)
    assert q.cacheline_ns == 20 and q.params() == {**P.params(), "cacheline_ns": 20}
