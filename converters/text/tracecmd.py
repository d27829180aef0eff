"""``trace-cmd report`` text: plugin or ``-R`` raw fields, with or without the
flags column (trace-cmd >= 3.3), µs or ns (``-t``) timestamps.

    cpus=N
    <comm>-<pid> [CPU] [flags] SEC.FRAC: event:<padding> fields
"""

from __future__ import annotations

import polars as pl

from xpfotrace.core.traceinfo import TraceInfo

from .base import TextFormat
from .tracefs import ANCHOR, LINE_RE, OTHER_ANCHOR, OTHER_LINE_RE, head, other_event


def _header(other: pl.DataFrame, info: TraceInfo) -> None:
    cpus = other.select(pl.col("line").str.extract(r"^cpus=(\d+)", 1).drop_nulls().first()).item()
    if cpus is not None and info.cpus_header is None:
        # one ring buffer per CPU: no event has a CPU number beyond (converters/sanity.py);
        # a number too long to parse stands for 2^63 - 1, which the check ignores as impossible
        info.cpus_header = info.cpu_bound = int(cpus) if len(cpus) < 19 else (1 << 63) - 1


FORMAT = TextFormat(name="trace-cmd", line_regex=LINE_RE, anchor=ANCHOR, head=head,
                    header=_header, kernel=0, other_anchor=OTHER_ANCHOR,
                    other_event=other_event, other_line_regex=OTHER_LINE_RE)
