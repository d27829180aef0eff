"""Focus on the workload: a time window of the trace, and the tasks whose allocations
make the flush requests.

``--window START:END`` crops the trace to the events with START <= ts - t0 < END
(seconds from the trace's first event, exact to the ns; either end may be left out;
``abs:START:END`` gives absolute trace timestamps instead). The replay then runs as if
the trace had been recorded over that window only: page state starts clear at its start.

``--only`` selects tasks: ``pid=N``, ``comm=NAME`` (exact) or ``workload`` (the process
tree ``capture`` recorded), comma-separated, their union. Every event still drives the
page state and the mm switches (the kernel's state does not care who caused it); only
the selected tasks' events make flush requests and are counted (allocations, unmaps,
remaps, PTE writes; a refill run belongs to the task of its last event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
import numpy.typing as npt
import polars as pl

from .core.errors import UsageError
from .trace import Trace

#: TraceInfo.extra key written by capture: the traced command's process tree (JSON list)
META_WORKLOAD = "workload_pids"


def _seconds(text: str, what: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"--window: {what} {text!r} is not a number of seconds") from None
    if not value.is_finite():
        raise UsageError(f"--window: {what} {text!r} is not a number of seconds")
    return int(value * 1_000_000_000)


@dataclass(frozen=True)
class Window:
    """A time window, in ns: relative to the trace's first event unless ``absolute``."""

    start: int | None
    end: int | None
    absolute: bool = False

    @classmethod
    def parse(cls, text: str) -> Window:
        body = text.strip()
        absolute = body.startswith("abs:")
        if absolute:
            body = body[4:]
        if body.count(":") != 1:
            raise UsageError(f"--window takes START:END in seconds (or abs:START:END), not "
                             f"{text!r}")
        a, b = (x.strip() for x in body.split(":"))
        start = _seconds(a, "start") if a else None
        end = _seconds(b, "end") if b else None
        if start is not None and end is not None and end <= start:
            raise UsageError(f"--window {text!r}: the end must be after the start")
        if not absolute and start is not None and start < 0:
            raise UsageError(f"--window {text!r}: the start is before the trace")
        return cls(start, end, absolute)

    def apply(self, trace: Trace) -> Trace:
        """The trace cropped to the window (an error if nothing is left)."""
        df = trace.df
        if df.height == 0:
            return trace
        t0 = 0 if self.absolute else int(df["ts"].min())  # type: ignore[arg-type]
        keep = pl.lit(True)
        if self.start is not None:
            keep = keep & (pl.col("ts") >= t0 + self.start)
        if self.end is not None:
            keep = keep & (pl.col("ts") < t0 + self.end)
        out = df.filter(keep)
        if out.height == 0:
            raise UsageError("--window selects no events of the trace (it spans "
                             f"{(int(df['ts'].max()) - int(df['ts'].min())) / 1e9:.3f} s"  # type: ignore[arg-type]
                             ", from ts " f"{int(df['ts'].min()) / 1e9:.6f})")  # type: ignore[arg-type]
        return Trace(df=out, info=trace.info)


@dataclass(frozen=True)
class Only:
    """The selected tasks: by pid, by exact comm, or the recorded workload."""

    pids: frozenset[int] = frozenset()
    comms: frozenset[str] = frozenset()
    workload: bool = False

    @classmethod
    def parse(cls, text: str) -> Only:
        pids: set[int] = set()
        comms: set[str] = set()
        workload = False
        for item in text.split(","):
            item = item.strip()
            key, eq, value = item.partition("=")
            if item == "workload":
                workload = True
            elif key == "pid" and eq and value.isdigit():
                pids.add(int(value))
            elif key == "comm" and eq and value:
                comms.add(value)
            else:
                raise UsageError(f"--only takes pid=N, comm=NAME or workload "
                                 f"(comma-separated), not {item!r}")
        return cls(frozenset(pids), frozenset(comms), workload)

    def pid_set(self, trace: Trace) -> set[int]:
        pids = set(self.pids)
        if self.workload:
            raw = trace.info.extra.get(META_WORKLOAD)
            if not raw:
                raise UsageError("--only workload: this trace has no recorded workload "
                                 "(record one with 'xpfotrace capture -o OUT -- COMMAND')")
            pids |= {int(p) for p in json.loads(raw)}
        return pids

    def mask(self, trace: Trace) -> npt.NDArray[np.bool_]:
        """Per row of ``trace.df``: whether the row's task is selected."""
        pids = self.pid_set(trace)
        sel = pl.col("pid").is_in(sorted(pids)) | pl.col("comm").is_in(sorted(self.comms))
        out: npt.NDArray[np.bool_] = trace.df.select(sel.fill_null(False)).to_series(
            ).to_numpy()
        return out
