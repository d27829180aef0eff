"""``perf script`` text of tracepoint samples (``--ns`` or µs timestamps).

    <comm> <pid>[/<tid>] [CPU] SEC.FRAC: [period] system:event: fields

No CPU-count header: N_trace is the highest CPU seen plus one.
"""

from __future__ import annotations

import polars as pl

from xpfotrace.core.traceinfo import TraceInfo

from .base import TextFormat, cut_suffix

#: perf's event modifiers (``cycles:u``, ``cycles:P``): an event "name" of only these
#: letters after a colon is a modifier, not a tracepoint's ``system:event``.
MODIFIERS = "ukhIGHpPSDWebR"
#: a tracepoint's name: a word with a letter that is no modifier
_TP_NAME = rf"\w*[^\W{MODIFIERS}]\w*"
LINE_RE = (
    r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)(?:/-?\d+)?\s+\[(?P<cpu>\d+)\]\s+"
    rf"(?P<sec>\d+)\.(?P<frac>\d+):\s+(?:\d+\s+)?\w+:(?P<event>{_TP_NAME}):\s*(?P<rest>.*)$"
)


def _header(other: pl.DataFrame, info: TraceInfo) -> None:
    """perf script prints no header that the replay needs."""


ANCHOR = rf"\[\d+\]\s+\d+\.\d+:\s+(?:\d+\s+)?\w+:{_TP_NAME}:\s*"


def head(pre: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    r"""``<comm> <pid>[/<tid>] `` -> comm, pid: the pid is the last token (what the lazy
    ``(.*?)\s+(-?\d+)(?:/-?\d+)?`` of LINE_RE takes)."""
    text = pre.str.strip_chars_end()
    token = text.str.extract(r"\s-?\d+(?:/-?\d+)?$", 0)
    pid = token.str.strip_chars_start().str.split_exact("/", 1).struct.field("field_0")
    return cut_suffix(text, token).str.strip_chars(), pid


#: Samples of events that are no tracepoints (``cpu-clock:``, ``cycles:P:``,
#: ``page-faults/period=10/u:``), tried where ANCHOR is not found: the event is the
#: name perf prints, modifiers included.
OTHER_ANCHOR = r"\[\d+\]\s+\d+\.\d+:\s+(?:\d+\s+)?[^\s:]\S*:(?:\s+|$)"
OTHER_LINE_RE = (
    r"^\s*(?P<comm>.*?)\s+(?P<pid>-?\d+)(?:/-?\d+)?\s+\[(?P<cpu>\d+)\]\s+"
    r"(?P<sec>\d+)\.(?P<frac>\d+):\s+(?:\d+\s+)?(?P<event>[^\s:]\S*):(?:\s|$)"
)


def other_event(anchor: pl.Expr, rest: pl.Expr) -> pl.Expr:
    """The event name that ends the anchor (``cpu-clock``, ``cycles:P``)."""
    return anchor.str.extract(r"[^\s:]\S*:\s*$", 0).str.strip_chars_end().str.strip_suffix(":")


FORMAT = TextFormat(name="perf-script", line_regex=LINE_RE, anchor=ANCHOR, head=head,
                    header=_header, kernel=1, other_anchor=OTHER_ANCHOR,
                    other_event=other_event, other_line_regex=OTHER_LINE_RE)
