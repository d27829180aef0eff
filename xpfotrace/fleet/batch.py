"""Batch analysis: many traces, one table (optionally as tasks on a Dask cluster)."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import polars as pl

from .. import strategies as strat
from ..core.errors import UsageError, XpfoError
from ..costing.compare import compare
from ..costing.hardware import Profile
from ..engine.replay import COUNTERS, WINDOW_COUNTERS, Replayer
from ..focus import Only, Window
from ..trace import read_trace

#: Suffixes of files a directory input always contributes (a bad one gets an error row);
#: its other files are read when their content is a trace (``perf.data.old``, a tracefs
#: dump without a suffix) and listed as skipped otherwise.
TRACE_SUFFIXES = (".parquet", ".txt", ".trace", ".dat", ".data", ".zst", ".gz", ".xz")

COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "trace": pl.String, "profile": pl.String, "strategy": pl.String, "cpus": pl.Int64,
    **{c: pl.Int64 for c in COUNTERS}, **{c: pl.Int64 for c in WINDOW_COUNTERS},
    "cost_local_ns": pl.Int64, "cost_pte_ns": pl.Int64, "cost_remote_ns": pl.Int64,
    "added_cpu_ns": pl.Int64, "overhead": pl.Float64, "exceeds_capacity": pl.Boolean,
    "lost_events": pl.Int64, "overflowed": pl.Boolean, "warnings": pl.List(pl.String),
    "error": pl.String,
}


def _is_trace(path: str) -> bool:
    """Whether the content of ``path`` is a trace of a known format, as ``convert``
    detects it (Parquet, trace.dat, perf.data or trace text; compressed or not)."""
    from xpfotrace.converters import detect_format

    try:
        detect_format(path)
    except XpfoError:
        return False
    return True


def scan_inputs(inputs: Iterable[str]) -> tuple[list[str], list[str]]:
    """Files, directories (not recursive) and globs, in order, unique; and the files of
    the directories that were skipped.

    A directory contributes its files with a trace suffix (:data:`TRACE_SUFFIXES`) and
    every other file whose content is a trace (detected as ``convert`` does); the rest
    are skipped. Files and glob matches named on the command line are always taken.
    """
    out: list[str] = []
    skipped: list[str] = []
    for item in inputs:
        if any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(item))
            if not matches:
                raise UsageError(f"no file matches {item!r}")
            out.extend(matches)
        elif os.path.isdir(item):
            for p in sorted(str(p) for p in Path(item).iterdir() if p.is_file()):
                if p.endswith(TRACE_SUFFIXES) or _is_trace(p):
                    out.append(p)
                else:
                    skipped.append(p)
        else:
            out.append(item)
    return list(dict.fromkeys(out)), list(dict.fromkeys(skipped))


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """The trace files of ``inputs`` (:func:`scan_inputs` without the skipped list)."""
    return scan_inputs(inputs)[0]


def exclude_output(paths: list[str], output: str) -> tuple[list[str], list[str]]:
    """``paths`` without the batch's own output file (same device and inode: a previous
    run's summary in the input directory), and what was left out."""
    try:
        out = os.stat(output)
    except OSError:
        return paths, []
    keep: list[str] = []
    own: list[str] = []
    for p in paths:
        try:
            st = os.stat(p)
            same = (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino)
        except OSError:
            same = False
        (own if same else keep).append(p)
    return keep, own


def analyze(path: str, profiles: list[Profile], strategies: list[strat.Strategy],
            baseline_sys_ns: int | None = None, window: Window | None = None,
            only: Only | None = None, trust_cpus: bool = False) -> list[dict[str, Any]]:
    """Rows of one trace; a bad trace gives one row with its error instead (any error:
    one trace never fails the others)."""
    try:
        tr = read_trace(path, trust_cpus=trust_cpus)
        if window is not None:
            tr = window.apply(tr)
        facts = {"lost_events": tr.info.lost_events,
                 "overflowed": tr.info.overflow is not None,
                 "warnings": tr.info.warnings()}
        rep = Replayer(tr, only)
        if not profiles:
            res = rep.run(None, strategies)
            return [{"trace": path, "profile": None, "strategy": name, "cpus": res.cpus,
                     **counters, "added_cpu_ns": None, "overhead": None, **facts,
                     "error": None}
                    for name, counters in res.strategies.items()]
        cmp = compare(tr, profiles, strategies=strategies, baseline_sys_ns=baseline_sys_ns,
                      replayer=rep)
        return [{"trace": path, "profile": prof, "strategy": name, "cpus": entry["cpus"],
                 **row, **{f"cost_{k}_ns": v for k, v in row["cost_ns"].items()},
                 **facts, "error": None}
                for prof, entry in cmp.profiles.items()
                for name, row in entry["strategies"].items()]
    except XpfoError as exc:
        return [{"trace": path, "profile": None, "strategy": None, "cpus": None,
                 "error": str(exc)}]
    except Exception as exc:  # a bug, or an input no check caught: this trace's row only
        first = (str(exc).strip().splitlines() or [""])[0]
        return [{"trace": path, "profile": None, "strategy": None, "cpus": None,
                 "error": f"{path}: internal error: {type(exc).__name__}: {first}"}]


def to_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([{c: r.get(c) for c in COLUMNS} for r in rows], schema=COLUMNS)


def batch(inputs: Iterable[str], profiles: list[Profile] | None = None,
          strategies: strat.StrategiesLike = None, *,
          baseline_sys_ns: int | None = None, dask: str | None = None,
          window: Window | None = None, only: Only | None = None,
          trust_cpus: bool = False,
          progress: Callable[[int], None] | None = None) -> pl.DataFrame:
    """One row per (trace, profile, strategy); ``dask`` is a scheduler address or 'local'.

    >>> import xpfotrace
    >>> df = xpfotrace.batch(["sample_traces/hackbench-1s.ftrace.txt.zst"],
    ...                      strategies="sync,deferred")
    >>> df.select("strategy", "cpus").rows()
    [('sync', 2), ('deferred', 2)]
    """
    chosen = strat.parse(strategies)
    paths = expand_inputs(inputs)
    profs = profiles or []
    rows: list[dict[str, Any]] = []
    if dask is None:
        for p in paths:
            rows.extend(analyze(p, profs, chosen, baseline_sys_ns, window, only, trust_cpus))
            if progress is not None:
                progress(1)
        return to_frame(rows)
    from .distributed import run_on_dask

    for part in run_on_dask(dask, analyze, paths, profs, chosen, baseline_sys_ns, window,
                            only, trust_cpus):
        rows.extend(part)
        if progress is not None:
            progress(1)
    order = {p: i for i, p in enumerate(paths)}
    rows.sort(key=lambda r: order[r["trace"]])  # stable: keeps profile/strategy order
    return to_frame(rows)
