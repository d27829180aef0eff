"""tracefs ``trace`` / ``trace_pipe`` text (4.x and 6.x kernels).

    <comm>-<pid> [(tgid)] [CPU] [flags] SEC.FRAC: event: fields
"""

from __future__ import annotations

import polars as pl

from xpfotrace.core.traceinfo import TraceInfo

from .base import TextFormat, cut_suffix

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


#: Lines of events without the ``event:`` name (tried where ANCHOR is not found).
OTHER_ANCHOR = r"\[\d+\]\s+(?:[^\s\[\]]{4,5}\s+)?\d+\.\d+:\s+"
OTHER_LINE_RE = (
    r"^\s*(?P<comm>.*)-(?P<pid>-?\d+)\s+(?:\(\s*[-\d]+\)\s+)?\[(?P<cpu>\d+)\]\s+"
    r"(?:[^\s\[\]]{4,5}\s+)?(?P<sec>\d+)\.(?P<frac>\d+):\s+"
    r"(?:sys_\w+(?:\(| -> )|\S+ <-\S+\s*$|<(?:user )?stack trace>\s*$)"
)


def other_event(anchor: pl.Expr, rest: pl.Expr) -> pl.Expr:
    """The event of a line printed without its name: the kernel prints a syscall event
    as the call (``sys_openat(dfd: …)``: ``sys_enter_openat``) or its return
    (``sys_openat -> 0x3``: ``sys_exit_openat``), the function tracer's as
    ``func <-parent`` (``function``), the stacktrace options' as ``<stack trace>``
    (``kernel_stack``) and ``<user stack trace>`` (``user_stack``), their frames on
    the lines below; anything else is no event (null)."""
    call = rest.str.extract(r"^sys_\w+\(", 0).str.strip_suffix("(").str.strip_prefix("sys_")
    ret = rest.str.extract(r"^sys_\w+ -> ", 0).str.strip_suffix(" -> ").str.strip_prefix("sys_")
    return (pl.when(call.is_not_null()).then(pl.concat_str([pl.lit("sys_enter_"), call]))
            .when(ret.is_not_null()).then(pl.concat_str([pl.lit("sys_exit_"), ret]))
            .when(rest.str.contains(r"^\S+ <-\S+\s*$")).then(pl.lit("function"))
            .when(rest.str.contains(r"^<stack trace>\s*$")).then(pl.lit("kernel_stack"))
            .when(rest.str.contains(r"^<user stack trace>\s*$")).then(pl.lit("user_stack")))


FORMAT = TextFormat(name="tracefs", line_regex=LINE_RE, anchor=ANCHOR, head=head,
                    header=_header, kernel=0, other_anchor=OTHER_ANCHOR,
                    other_event=other_event, other_line_regex=OTHER_LINE_RE)
