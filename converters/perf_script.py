"""``perf script`` text of tracepoint samples (``--ns`` or µs timestamps).

    <comm> <pid>[/<tid>] [CPU] SEC.FRAC: [period] system:event: fields

No CPU-count header: N_trace is the highest CPU seen plus one.
"""

from __future__ import annotations

import polars as pl

from xpfotrace.traceinfo import TraceInfo

from .textbase import TextFormat

LINE_RE = (
    r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)(?:/-?\d+)?\s+\[(?P<cpu>\d+)\]\s+"
    r"(?P<sec>\d+)\.(?P<frac>\d+):\s+(?:\d+\s+)?\w+:(?P<event>\w+):\s*(?P<rest>.*)$"
)


def _header(other: pl.DataFrame, info: TraceInfo) -> None:
    """perf script prints no header that the replay needs."""


ANCHOR = (r"\[(?P<cpu>\d+)\]\s+(?P<sec>\d+)\.(?P<frac>\d+):\s+(?:\d+\s+)?\w+:"
          r"(?P<event>\w+):\s*")
HEAD = r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)(?:/-?\d+)?\s+$"

FORMAT = TextFormat(name="perf-script", line_regex=LINE_RE, anchor=ANCHOR, head=HEAD,
                    header=_header)
