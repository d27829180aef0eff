"""``trace-cmd report`` text: plugin or ``-R`` raw fields, with or without the
flags column (trace-cmd >= 3.3), µs or ns (``-t``) timestamps.

    cpus=N
    <comm>-<pid> [CPU] [flags] SEC.FRAC: event:<padding> fields
"""

from __future__ import annotations

import polars as pl

from xpfotrace.traceinfo import TraceInfo

from .textbase import TextFormat
from .tracefs_text import ANCHOR, LINE_RE, head


def _header(other: pl.DataFrame, info: TraceInfo) -> None:
    cpus = other.select(pl.col("line").str.extract(r"^cpus=(\d+)", 1).drop_nulls().first()).item()
    if cpus is not None and info.cpus_header is None:
        info.cpus_header = int(cpus)


FORMAT = TextFormat(name="trace-cmd", line_regex=LINE_RE, anchor=ANCHOR, head=head,
                    header=_header, kernel=0)
