"""Per-CPU counts of boolean row masks, the counters' last step.

Every counter of docs/model.md section 5 is kept per traced CPU (the projection
multiplies each CPU's by its multiplicity). Gathering the CPU numbers of the
selected rows (``cpu[mask]``) and ``bincount`` costs a branchy pass per mask; on
a trace of few CPUs, ``count_nonzero(mask & is_cpu[c])`` per CPU is an order of
magnitude cheaper, so the rows' one-hot CPU masks are made once and shared.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

#: Up to this many CPUs, counts go through one-hot masks (n_cpus bytes per row).
ONE_HOT_MAX = 16
#: Rows per block of a blocked pass: its temporaries stay in cache and are reused,
#: where full-size ones would each be fresh memory (page faults).
BLOCK = 1 << 16


def bincount(values: npt.NDArray[np.integer], minlength: int = 0, offset: int = 0) -> I64:
    """``np.bincount(values + offset, minlength=minlength)`` block by block: bincount
    copies its input to 64-bit integers, a full-size array for a 32-bit column."""
    out = np.zeros(minlength, dtype=np.int64)
    for start in range(0, len(values), BLOCK):  # a loop over blocks, not rows
        part = values[start:start + BLOCK]
        found = np.bincount(part + offset if offset else part, minlength=minlength)
        if len(found) > len(out):
            out = np.concatenate([out, np.zeros(len(found) - len(out), dtype=np.int64)])
        out[:len(found)] += found
    return out


def per_cpu(cpu: npt.NDArray[np.integer], n_cpus: int) -> I64:
    """Rows per CPU 0 .. n_cpus-1 of ``cpu`` (CPUs past N_trace do not replay)."""
    return bincount(cpu, n_cpus)[:n_cpus]


def weighted(cpu: npt.NDArray[np.integer], weights: I64, n_cpus: int) -> I64:
    """The sum of integer ``weights`` per CPU 0 .. n_cpus-1, exactly (``np.bincount``
    sums weights as float64, inexact past 2^53: pages of an order-62 allocation)."""
    out = np.zeros(n_cpus, dtype=np.int64)
    keep = cpu < n_cpus
    np.add.at(out, np.compress(keep, cpu), np.compress(keep, weights))
    return out


class CpuCounts:
    """Counts per CPU 0 .. n_cpus-1 over one fixed set of rows; rows of CPUs past
    n_cpus (past N_trace: they do not replay) are never counted."""

    def __init__(self, cpu: npt.NDArray[np.integer], n_cpus: int) -> None:
        self.cpu, self.n_cpus = cpu, n_cpus
        self.one_hot = ([cpu == c for c in range(n_cpus)] if n_cpus <= ONE_HOT_MAX
                        else None)

    def count(self, mask: BOOL) -> I64:
        """How many rows of each CPU ``mask`` selects."""
        if self.one_hot is not None:
            return np.array([np.count_nonzero(mask & h) for h in self.one_hot],
                            dtype=np.int64)
        return per_cpu(np.compress(mask, self.cpu), self.n_cpus)

    def rows(self) -> I64:
        """How many rows each CPU has."""
        if self.one_hot is not None:
            return np.array([np.count_nonzero(h) for h in self.one_hot], dtype=np.int64)
        return per_cpu(self.cpu, self.n_cpus)

    def total(self, weights: I64) -> I64:
        """The sum of ``weights`` over each CPU's rows."""
        if self.one_hot is not None:
            return np.array([int(np.sum(weights, where=h)) for h in self.one_hot],
                            dtype=np.int64)
        return weighted(self.cpu, weights, self.n_cpus)


def cpu_sort_key(cpu: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.unsignedinteger[Any]]:
    """CPU numbers as the narrowest unsigned type: NumPy's stable sort of 8- and 16-bit
    keys is a linear-time radix sort (one pass per byte)."""
    top = int(cpu.max()) if len(cpu) else 0
    return cpu.astype(np.uint8 if top < 1 << 8 else np.uint16 if top < 1 << 16 else np.uint32)
