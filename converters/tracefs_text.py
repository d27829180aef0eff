"""tracefs ``trace`` / ``trace_pipe`` text (4.x and 6.x kernels).

    <comm>-<pid> [(tgid)] [CPU] [flags] SEC.FRAC: event: fields
"""

from __future__ import annotations

import polars as pl

from xpfotrace.traceinfo import TraceInfo

from .textbase import TextFormat, cut_suffix

LINE_RE = (
    r"^\s*(?P<comm>.*)-(?P<pid>-?\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:[^\s\[\]]{4,5}\s+)?(?P<sec>\d+)\.(?P<frac>\d+):\s+(?P<event>\w+):\s*(?P<rest>.*)$"
)


def _header(other: pl.DataFrame, info: TraceInfo) -> None:
    hdr = other.filter(pl.col("line").str.starts_with("#"))
    if not hdr.height:
        return
    line = pl.col("line")
    row = hdr.select(
        line.str.extract(r"#P:(\d+)", 1).drop_nulls().first().alias("p"),
        line.str.extract(r"entries-in-buffer/entries-written:\s*(\d+)/(\d+)", 1)
        .drop_nulls().first().alias("inbuf"),
        line.str.extract(r"entries-in-buffer/entries-written:\s*(\d+)/(\d+)", 2)
        .drop_nulls().first().alias("written"),
    ).row(0)
    if row[0] is not None and info.cpus_header is None:
        # online CPUs: not a bound on CPU numbers (converters/sanity.py); a number too long
        # to parse stands for 2^63 - 1, which the check ignores as impossible
        info.cpus_header = int(row[0]) if len(row[0]) < 19 else (1 << 63) - 1
    if row[1] is not None and row[2] is not None and int(row[1]) < int(row[2]):
        info.overflow = f"{row[1]}/{row[2]}"


ANCHOR = r"\[\d+\]\s+(?:[^\s\[\]]{4,5}\s+)?\d+\.\d+:\s+\w+:\s*"


def head(pre: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    r"""``<comm>-<pid> [(<tgid>)] `` -> comm, pid: the pid is the trailing digits after
    the last ``-`` (what the greedy ``(.*)-(-?\d+)`` of LINE_RE takes)."""
    text = pre.str.replace(r"\s+\(\s*[-\d]+\)\s+$", " ").str.strip_chars()
    pid = text.str.extract(r"-\d+$", 0)
    return cut_suffix(text, pid), pid.str.strip_prefix("-")


FORMAT = TextFormat(name="tracefs", line_regex=LINE_RE, anchor=ANCHOR, head=head,
                    header=_header, kernel=0)
