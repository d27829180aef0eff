"""MODEL.md section 7 on hand-computed cases."""

from __future__ import annotations

import pytest

from xpfotrace.cost import added_cpu_ns, overhead
from xpfotrace.hardware import Profile

P = Profile(name="t", cpus=4, invlpg_ns=10, full_flush_ns=1000, ipi_base_ns=500,
            ipi_per_target_ns=50, ipi_recv_ns=300, broadcast_invalidate=False)
C = {"requests": 7, "full_requests": 2, "local_invlpg_pages": 20, "ipis": 21,
     "remote_invlpg_pages": 60, "remote_full_flushes": 6}


def test_sync_with_ipis() -> None:
    # local 20*10 + 2*1000 = 2200; sync 7*500 + 21*(50+300) + 60*10 + 6*1000 = 17450
    assert added_cpu_ns("sync", C, P) == 2200 + 17450


def test_sync_with_broadcast_invalidation_has_no_ipi_terms() -> None:
    b = Profile(**{**P.__dict__, "broadcast_invalidate": True})
    assert added_cpu_ns("sync+batch", C, b) == 2200 + 60 * 10 + 6 * 1000


def test_deferred_pays_remote_full_flushes_only() -> None:
    d = {**C, "ipis": 0, "remote_invlpg_pages": 0, "remote_full_flushes": 3}
    assert added_cpu_ns("deferred+lazy", d, P) == 2200 + 3 * 1000


def test_none_costs_nothing() -> None:
    assert added_cpu_ns("none", C, P) == 0


def test_overhead_projects_the_baseline() -> None:
    # baseline 1 s on 2 traced CPUs -> 48 s on 96
    assert overhead(4_800_000_000, 1_000_000_000, 96, 2) == pytest.approx(0.1)
    assert overhead(5, None, 4, 2) is None
