"""Converters: every supported capture format to one Arrow event table.

``open_trace(path)`` detects the format from the content (``fmt`` forces it)
and returns an iterator of Arrow tables in :data:`xpfotrace.schema.EVENT_SCHEMA`
plus the :class:`~xpfotrace.traceinfo.TraceInfo` it fills while reading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyarrow as pa

from xpfotrace.core.errors import InputError, UsageError
from xpfotrace.core.reading import DEFAULT_CHUNK_BYTES, ProgressFn
from xpfotrace.core.traceinfo import TraceInfo

from .binary.magic import PERF_MAGICS, TRACEDAT_MAGIC
from .compression import read_head
from .text import perf_script, tracecmd, tracefs
from .text.base import TextFormat, has_page_events, no_page_events
from .text.reader import read_text

TEXT_FORMATS: dict[str, TextFormat] = {
    "tracefs": tracefs.FORMAT,
    "trace-cmd": tracecmd.FORMAT,
    "perf-script": perf_script.FORMAT,
}
FORMAT_NAMES: tuple[str, ...] = (*TEXT_FORMATS, "trace.dat", "perf.data")

__all__ = ["FORMAT_NAMES", "TEXT_FORMATS", "detect_format", "open_trace"]


def _looks_binary(head: bytes) -> bool:
    sample = head[:4096]
    return b"\x00" in sample or (bool(sample) and sum(
        b < 9 or 13 < b < 32 for b in sample) > len(sample) // 20)


def detect_format(path: str) -> str:
    """Name of the text format of ``path``, from its first decompressed bytes."""
    head = read_head(path)
    if not head.strip():
        raise InputError(path, "empty file: no trace events")
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(TRACEDAT_MAGIC):
        return "trace.dat"
    if head.startswith(PERF_MAGICS):
        return "perf.data"
    text = head.decode("utf-8", errors="replace")
    lines = text.splitlines()[:-1] or text.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if re.match(r"^(cpus=\d+|version = )", first):
        return "trace-cmd"
    if "# tracer:" in text or "entries-in-buffer/entries-written" in text:
        return "tracefs"
    scores = {name: sum(1 for ln in lines[:2000] if re.match(f.line_regex, ln))
              for name, f in TEXT_FORMATS.items() if name != "trace-cmd"}
    best = max(scores, key=lambda k: scores[k])
    if scores[best] == 0:  # lines of other events only (cpu-clock samples, syscalls)
        scores = {name: sum(1 for ln in lines[:2000] if re.match(f.other_line_regex, ln))
                  for name, f in TEXT_FORMATS.items()
                  if name != "trace-cmd" and f.other_line_regex is not None}
        best = max(scores, key=lambda k: scores[k])
    if scores[best] == 0:
        # a corrupted line in a text trace is not a binary file: judge only now
        if _looks_binary(head):
            raise InputError(path, "not a text trace (binary data)", offset=0)
        raise InputError(path, "unrecognised format: no trace event lines "
                         "(expected tracefs, trace-cmd report or perf script text)", line=1)
    return best


def open_trace(path: str, fmt: str | None = None, *, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
               progress: ProgressFn | None = None, trust_cpus: bool = False,
               buffer: str | None = None) -> tuple[Iterator[pa.Table], TraceInfo]:
    """Tables of events of a raw trace, and the TraceInfo completed once they are consumed.

    Events on implausible CPU numbers are set aside with a warning
    (:mod:`converters.sanity`); ``trust_cpus`` keeps them (all but numbers of 2^16 and up).
    ``buffer`` chooses the trace buffer (tracefs instance) of a trace.dat file that holds
    several (``"top"``: the top level); other formats have one and refuse the choice.
    A trace without page-allocation events is an input error once its tables are read.
    """
    name = fmt or detect_format(path)
    if buffer is not None and name != "trace.dat":
        raise UsageError(f"{path}: a {name} file has a single trace buffer: --buffer "
                         "chooses among the buffers of a trace.dat file")
    if name == "trace.dat":
        from .binary import tracedat  # (each binary reader loads when it is used)

        return tracedat.read_tracedat(path, trust_cpus=trust_cpus, buffer=buffer)
    if name == "perf.data":
        from .binary import perfdata

        tables, info = perfdata.read_perfdata(path, trust_cpus=trust_cpus)
        return _require_page_events(path, tables, info), info
    if name not in TEXT_FORMATS:
        raise InputError(path, f"cannot convert format {name!r} "
                         f"(known: {', '.join(FORMAT_NAMES)})")
    info = TraceInfo()
    return read_text(path, TEXT_FORMATS[name], chunk_bytes=chunk_bytes, progress=progress,
                     info=info, trust_cpus=trust_cpus), info


def _require_page_events(path: str, tables: Iterator[pa.Table],
                         info: TraceInfo) -> Iterator[pa.Table]:
    """``tables``, then an input error if none held a page-allocation event (the text
    and trace.dat readers check this themselves)."""
    found = False
    rows = 0
    for table in tables:
        rows += table.num_rows
        if not found and table.num_rows:
            found = has_page_events(table)
        yield table
    if not found and rows:
        raise no_page_events(path, rows)
