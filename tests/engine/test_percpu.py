"""Per-CPU counts: the one-hot path (few CPUs) and the bincount path agree (SYNTHETIC rows)."""

from __future__ import annotations

import numpy as np
import pytest

from xpfotrace.engine import percpu
from xpfotrace.engine.percpu import CpuCounts


@pytest.mark.parametrize("n_cpus", [3, percpu.ONE_HOT_MAX + 5])
def test_counts_equal_a_plain_loop(n_cpus: int) -> None:
    rng = np.random.default_rng(n_cpus)
    cpu = rng.integers(0, n_cpus + 2, 5000).astype(np.int32)  # some past N_trace
    mask = rng.random(5000) < 0.3
    weights = rng.integers(0, 40, 5000).astype(np.int64)
    c = CpuCounts(cpu, n_cpus)
    assert (c.one_hot is None) == (n_cpus > percpu.ONE_HOT_MAX)
    assert c.count(mask).tolist() == [int(np.sum(mask & (cpu == k))) for k in range(n_cpus)]
    assert c.rows().tolist() == [int(np.sum(cpu == k)) for k in range(n_cpus)]
    assert c.total(weights).tolist() == [int(weights[cpu == k].sum()) for k in range(n_cpus)]


@pytest.mark.parametrize("n_cpus", [3, percpu.ONE_HOT_MAX + 5])
def test_weights_past_2_to_53_sum_exactly(n_cpus: int) -> None:
    """Pages of order-60 allocations: float64 sums (np.bincount's) would round them."""
    cpu = np.array([0, 0, 1, 2, n_cpus + 1], dtype=np.int32)
    weights = np.array([1 << 60, 3, 1 << 60, 5, 7], dtype=np.int64)
    want = [(1 << 60) + 3, 1 << 60, 5] + [0] * (n_cpus - 3)
    assert CpuCounts(cpu, n_cpus).total(weights).tolist() == want
    assert percpu.weighted(cpu, weights, n_cpus).tolist() == want
