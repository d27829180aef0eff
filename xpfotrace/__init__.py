"""xpfotrace: replay XPFO page-ownership TLB flushing over real kernel traces.

Library use (the CLI is a thin layer over these)::

    >>> import xpfotrace
    >>> tr = xpfotrace.read_trace("sample_traces/kbuild-1s.ftrace.txt.zst")
    >>> result = xpfotrace.replay(tr, strategies="sync,deferred")
    >>> sync = result.strategies["sync"]
    >>> sync["ipis"] == sync["requests"] * (tr.info.cpus - 1)
    True

Costs on hardware profiles, requests as frames, attribution to processes::

    >>> cmp = xpfotrace.compare(tr, xpfotrace.find_profiles(["3550"]), strategies="sync")
    >>> cmp.profiles["i5-3550"]["strategies"]["sync"]["added_cpu_ns"] > 0
    True
    >>> rep = xpfotrace.Replayer(tr)
    >>> deferred = xpfotrace.STRATEGIES[5]
    >>> deferred.name, rep.requests(deferred).columns
    ('deferred', ['ts', 'seq', 'cpu', 'n', 'comm', 'pid'])
    >>> int(rep.requests_by(deferred, "comm", top=None)["requests"].sum()) == (
    ...     rep.run().strategies["deferred"]["requests"])
    True

The cost in its three parts, and strategy parameters (docs/model.md section 8)::

    >>> row = cmp.profiles["i5-3550"]["strategies"]["sync"]
    >>> sum(row["cost_ns"].values()) == row["added_cpu_ns"]
    True
    >>> b = xpfotrace.replay(tr, strategies="deferred@bound=1ms").strategies["deferred@bound=1ms"]
    >>> b["bounded_flushes"] > 0 and b["window_max_ns"] <= 1_000_000
    True
    >>> sw = xpfotrace.sweep(tr, xpfotrace.find_profiles(["3550"])[0], bounds=[None, 1_000_000])
    >>> sw.frame.height, "sync" in sw.frontier
    (5, True)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

# a library's loggers stay quiet until the application configures logging (the CLI prints
# its own messages); "xpfotrace" carries the readers' warnings (read_trace)
logging.getLogger("xpfotrace").addHandler(logging.NullHandler())

# The public names load on first use (PEP 562): ``import xpfotrace`` and the console
# script start without Polars, NumPy or the engine, and a Ctrl-C while they load is
# handled like any other (see ``_entry``).
_LAZY: dict[str, tuple[str, str]] = {
    "batch": (".fleet.batch", "batch"),
    "Comparison": (".costing.compare", "Comparison"),
    "compare": (".costing.compare", "compare"),
    "COUNTERS": (".engine.replay", "COUNTERS"),
    "Counters": (".engine.replay", "Counters"),
    "WINDOW_COUNTERS": (".engine.replay", "WINDOW_COUNTERS"),
    "Replayer": (".engine.replay", "Replayer"),
    "ReplayResult": (".engine.replay", "ReplayResult"),
    "replay": (".engine.replay", "replay"),
    "InputError": (".core.errors", "InputError"),
    "UsageError": (".core.errors", "UsageError"),
    "XpfoError": (".core.errors", "XpfoError"),
    "Profile": (".costing.hardware", "Profile"),
    "builtin_profiles": (".costing.hardware", "builtin_profiles"),
    "find_profiles": (".costing.hardware", "find_profiles"),
    "write_events": (".parquet_io", "write_events"),
    "EVENT_SCHEMA": (".core.schema", "EVENT_SCHEMA"),
    "STRATEGIES": (".strategies", "ALL"),
    "Strategy": (".strategies", "Strategy"),
    "SweepResult": (".costing.sweep", "SweepResult"),
    "sweep": (".costing.sweep", "sweep"),
    "Trace": (".trace", "Trace"),
    "load": (".trace", "load"),
    "read_trace": (".trace", "read_trace"),
    "TraceInfo": (".core.traceinfo", "TraceInfo"),
}

if TYPE_CHECKING:  # what type checkers and IDEs see
    from .core.errors import InputError, UsageError, XpfoError
    from .core.schema import EVENT_SCHEMA
    from .core.traceinfo import TraceInfo
    from .costing.compare import Comparison, compare
    from .costing.hardware import Profile, builtin_profiles, find_profiles
    from .costing.sweep import SweepResult, sweep
    from .engine.replay import (
        COUNTERS,
        WINDOW_COUNTERS,
        Counters,
        Replayer,
        ReplayResult,
        replay,
    )
    from .fleet.batch import batch
    from .parquet_io import write_events
    from .strategies import ALL as STRATEGIES
    from .strategies import Strategy
    from .trace import Trace, load, read_trace


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'xpfotrace' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    value = getattr(importlib.import_module(module, __name__), attr)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "COUNTERS",
    "EVENT_SCHEMA",
    "STRATEGIES",
    "WINDOW_COUNTERS",
    "Comparison",
    "Counters",
    "InputError",
    "Profile",
    "ReplayResult",
    "Replayer",
    "Strategy",
    "SweepResult",
    "Trace",
    "TraceInfo",
    "UsageError",
    "XpfoError",
    "__version__",
    "batch",
    "builtin_profiles",
    "compare",
    "convert",
    "find_profiles",
    "load",
    "read_trace",
    "replay",
    "sweep",
    "write_events",
]


def convert(input: str, output: str, fmt: str | None = None, *,
            trust_cpus: bool = False, buffer: str | None = None) -> TraceInfo:
    """Convert a raw trace file to Parquet; returns what was learned about the trace.

    Events on implausible CPU numbers are set aside with a warning unless
    ``trust_cpus`` (``converters/sanity.py``); ``buffer`` chooses the buffer of a
    trace.dat with several (an instance's name, or "top")."""
    from .converters import open_trace
    from .parquet_io import write_events

    tables, info = open_trace(input, fmt, trust_cpus=trust_cpus, buffer=buffer)
    write_events(tables, lambda: info, output, [input])
    return info
