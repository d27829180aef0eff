"""``perf script`` text of tracepoint samples (``--ns`` or µs timestamps).

    <comm> <pid>[/<tid>] [CPU] SEC.FRAC: [period] system:event: fields

No CPU-count header: N_trace is the highest CPU seen plus one.
"""

from __future__ import annotations

import polars as pl

from xpfotrace.traceinfo import TraceInfo

from .textbase import TextFormat, cut_suffix

LINE_RE = (
    r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)(?:/-?\d+)?\s+\[(?P<cpu>\d+)\]\s+"
    r"(?P<sec>\d+)\.(?P<frac>\d+):\s+(?:\d+\s+)?\w+:(?P<event>\w+):\s*(?P<rest>.*)$"
)


def _header(other: pl.DataFrame, info: TraceInfo) -> None:
    """perf script prints no header that the replay needs."""


ANCHOR = r"\[\d+\]\s+\d+\.\d+:\s+(?:\d+\s+)?\w+:\w+:\s*"


def head(pre: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    r"""``<comm> <pid>[/<tid>] `` -> comm, pid: the pid is the last token (what the lazy
    ``(.*?)\s+(-?\d+)(?:/-?\d+)?`` of LINE_RE takes)."""
    text = pre.str.strip_chars_end()
    token = text.str.extract(r"\s-?\d+(?:/-?\d+)?$", 0)
    pid = token.str.strip_chars_start().str.split_exact("/", 1).struct.field("field_0")
    return cut_suffix(text, token).str.strip_chars(), pid


FORMAT = TextFormat(name="perf-script", line_regex=LINE_RE, anchor=ANCHOR, head=head,
                    header=_header, kernel=1)
