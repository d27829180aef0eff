"""Facts about a trace that are not events: CPU count, lost events, provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import schema
from .schema import (
    META_CORRUPT_AT,
    META_CORRUPT_EVENTS,
    META_CORRUPT_PAGES,
    META_CPU_OUTLIER_AT,
    META_CPU_OUTLIER_CPUS,
    META_CPU_OUTLIERS,
    META_CPUS_HEADER_IGNORED,
    META_SKIPPED_RECORD_AT,
    META_SKIPPED_RECORDS,
)

#: No kernel numbers CPUs this high (NR_CPUS is at most 8192): a CPU number from 2^16 on
#: is corruption, and a replay is refused on more CPUs than this.
MAX_CPUS = 1 << 16

_OWN_KEYS = (META_CPU_OUTLIERS, META_CPU_OUTLIER_CPUS, META_CPU_OUTLIER_AT,
             META_CPUS_HEADER_IGNORED, META_CORRUPT_PAGES, META_CORRUPT_EVENTS,
             META_CORRUPT_AT, META_SKIPPED_RECORDS, META_SKIPPED_RECORD_AT)


#: The largest lost-event count kept (int64): beyond, it saturates with a warning.
LOST_MAX = (1 << 63) - 1


@dataclass
class TraceInfo:
    """What a converter learned about its input besides the events themselves."""

    source_format: str = "unknown"
    source_file: str = ""
    cpus_header: int | None = None  # '#P:N' or 'cpus=N' or a binary header
    max_cpu: int = -1
    lost_events: int = 0
    events: int = 0
    skipped_lines: int = 0
    first_skipped_line: int | None = None
    overflow: str | None = None  # "in_buffer/written" when the ring buffer overwrote events
    cpu_first_ts: dict[int, int] = field(default_factory=dict)  # first ts seen on each CPU
    out_of_order: int = 0  # events whose ts is below the previous one of the same CPU
    missed_pages_uncounted: int = 0  # trace.dat pages flagged "missed events", no count
    cut_last_line: int | None = None  # line number of a last line without its newline
    lost_saturated: bool = False  # the lost-event counts summed beyond LOST_MAX
    # CPU numbers not to be trusted (converters/sanity.py): events set aside
    cpu_outliers: int = 0  # events set aside for their CPU number
    cpu_outlier_cpus: list[int] = field(default_factory=list)
    cpu_outlier_at: str | None = None  # "line N" or "offset N" of the first
    cpus_header_ignored: int | None = None  # an impossible header count (0, > MAX_CPUS)
    cpu_bound: int | None = None  # the header bounds CPU numbers (trace.dat, perf.data)
    # binary readers: ring-buffer pages that do not parse (trace.dat) or records that
    # do not fit (perf.data), whose events are skipped
    corrupt_pages: int = 0  # trace.dat pages, perf.data sample records
    corrupt_events: int = 0  # events in them (trace.dat: estimated from the pages' sizes)
    corrupt_at: str | None = None  # where the first one starts
    # binary records with a field the replay cannot use (order > 20, beyond int32)
    skipped_records: int = 0
    skipped_record_at: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def add_lost(self, n: int) -> None:
        """Add ``n`` lost events exactly; the total saturates at 2^63 - 1 (what an int64
        column and most JSON readers hold), with a warning, instead of wrapping."""
        total = self.lost_events + n
        if total > LOST_MAX:
            self.lost_saturated = True
            total = LOST_MAX
        self.lost_events = total

    @property
    def skew_ns(self) -> int:
        """Spread of the CPUs' first timestamps (large after a ring-buffer overflow)."""
        if len(self.cpu_first_ts) < 2:
            return 0
        return max(self.cpu_first_ts.values()) - min(self.cpu_first_ts.values())

    def warnings(self) -> list[str]:
        """What the user should know about this trace, one sentence each."""
        out = []
        if self.skipped_lines:
            out.append(f"skipped {self.skipped_lines:,} malformed or unrecognised line(s), "
                       f"first at line {self.first_skipped_line}")
        if self.skipped_records:
            out.append(f"skipped {self.skipped_records:,} record(s) with a malformed field "
                       "(a page order beyond 20, a value beyond its column's type), first at "
                       f"{self.skipped_record_at}")
        if self.corrupt_pages:
            what = ("damaged sample record(s) (contents that do not fit the record, an event "
                    "ID without a format, or a time out of line with its CPU's)"
                    if self.source_format == "perf.data" else
                    "corrupt ring-buffer page(s) (records that do not parse to the page's "
                    "commit size or do not fit their event format, or timestamps that run "
                    "backwards)")
            about = "" if self.source_format == "perf.data" else "about "
            out.append(f"{self.corrupt_pages:,} {what}, first at {self.corrupt_at}: "
                       f"{about}{self.corrupt_events:,} event(s) in them skipped "
                       "(corrupt_events, not in lost_events): counters are a lower bound")
        if self.cpus_header_ignored is not None:
            out.append(f"the header's CPU count ({self.cpus_header_ignored:,}) is impossible: "
                       "ignored")
        if self.cpu_outliers:
            cpus = ", ".join(str(c) for c in self.cpu_outlier_cpus[:5])
            if len(self.cpu_outlier_cpus) > 5:
                cpus += f" and {len(self.cpu_outlier_cpus) - 5:,} more"
            out.append(f"set aside {self.cpu_outliers:,} event(s) on CPU {cpus}, first at "
                       f"{self.cpu_outlier_at}: a CPU number beyond the trace's {self.cpus} "
                       "CPU(s) and seen on only a handful of events, or beyond what the "
                       "header allows, is taken as corrupted (--trust-cpus keeps them, "
                       f"unless {MAX_CPUS} or more)")
        if self.cut_last_line is not None:
            out.append(f"the last line ({self.cut_last_line}) is cut off (no newline): ignored")
        if self.lost_events:
            out.append(f"the trace reports {self.lost_events:,} lost events: counters are "
                       "a lower bound")
        if self.lost_saturated:
            out.append("the lost-event counts add up to more than 2^63 - 1: lost_events is "
                       "that maximum (saturated), the trace's markers are corrupt or absurd")
        if self.missed_pages_uncounted:
            out.append(f"{self.missed_pages_uncounted:,} ring-buffer page(s) report missed "
                       "events without a count (not in lost_events): counters are a lower "
                       "bound")
        if self.overflow is not None:
            skew = f"; the CPUs' first timestamps differ by {self.skew_ns / 1e6:.3f} ms"
            out.append(f"the ring buffer overflowed (entries-in-buffer/entries-written "
                       f"{self.overflow}): early events are missing on some CPUs"
                       + (skew if self.skew_ns else "")
                       + "; --trim-to-common-window starts the replay where all CPUs have "
                       "events")
        if self.extra.get("buffer_choice"):
            out.append(f"the trace.dat file holds several trace buffers with page-allocation "
                       f"events: {self.extra['buffer_choice']}; read "
                       f"{self.extra.get('buffer', '?')!r}, the one with the most "
                       "(--buffer NAME reads another)")
        if self.out_of_order:
            out.append(f"{self.out_of_order:,} event(s) have a timestamp below the previous "
                       "one of their CPU: replayed in (ts, seq) order")
        return out

    @property
    def cpus(self) -> int:
        """N_trace (docs/model.md section 1): the header's count, else the highest CPU + 1.

        If events name a CPU beyond the header's count the header is wrong; the
        larger value is used so that no CPU's events are dropped. (Events on CPU numbers
        that look corrupted are set aside before this: ``converters/sanity.py``.)
        """
        seen = self.max_cpu + 1
        if self.cpus_header is None:
            return max(seen, 1)
        return max(self.cpus_header, seen)

    def to_metadata(self) -> dict[str, str]:
        meta = {
            schema.META_FORMAT: self.source_format,
            schema.META_SOURCE: self.source_file,
            schema.META_CPUS: str(self.cpus),
            schema.META_LOST: str(self.lost_events),
            schema.META_VERSION: schema.CONVERTER_VERSION,
            schema.META_EVENTS: str(self.events),
            schema.META_SKIPPED: str(self.skipped_lines),
        }
        if self.overflow is not None:
            meta[schema.META_OVERFLOW] = self.overflow
        meta[schema.META_FIRST_TS] = json.dumps({str(k): v for k, v in
                                                 sorted(self.cpu_first_ts.items())})
        meta[schema.META_OUT_OF_ORDER] = str(self.out_of_order)
        meta[schema.META_MISSED_PAGES] = str(self.missed_pages_uncounted)
        # counts of what was set aside or skipped, only when there was any (clean traces
        # keep the keys they always had)
        for key, value in ((META_CPU_OUTLIERS, self.cpu_outliers),
                           (META_CORRUPT_PAGES, self.corrupt_pages),
                           (META_CORRUPT_EVENTS, self.corrupt_events),
                           (META_SKIPPED_RECORDS, self.skipped_records)):
            if value:
                meta[key] = str(value)
        if self.cpu_outliers:
            meta[META_CPU_OUTLIER_CPUS] = json.dumps(self.cpu_outlier_cpus)
        for key, text in ((META_CPU_OUTLIER_AT, self.cpu_outlier_at),
                          (META_CORRUPT_AT, self.corrupt_at),
                          (META_SKIPPED_RECORD_AT, self.skipped_record_at)):
            if text is not None:
                meta[key] = text
        if self.cpus_header_ignored is not None:
            meta[META_CPUS_HEADER_IGNORED] = str(self.cpus_header_ignored)
        meta.update({schema.META_PREFIX + k: v for k, v in self.extra.items()})
        return meta

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> TraceInfo:
        known = {schema.META_FORMAT, schema.META_SOURCE, schema.META_CPUS, schema.META_LOST,
                 schema.META_VERSION, schema.META_EVENTS, schema.META_OVERFLOW,
                 schema.META_SKIPPED, schema.META_FIRST_TS, schema.META_OUT_OF_ORDER,
                 schema.META_MISSED_PAGES, *_OWN_KEYS}
        extra = {k[len(schema.META_PREFIX):]: v for k, v in meta.items()
                 if k.startswith(schema.META_PREFIX) and k not in known}
        cpus = meta.get(schema.META_CPUS)
        return cls(
            source_format=meta.get(schema.META_FORMAT, "parquet"),
            source_file=meta.get(schema.META_SOURCE, ""),
            cpus_header=int(cpus) if cpus else None,
            lost_events=int(meta.get(schema.META_LOST, "0")),
            events=int(meta.get(schema.META_EVENTS, "0")),
            skipped_lines=int(meta.get(schema.META_SKIPPED, "0")),
            overflow=meta.get(schema.META_OVERFLOW),
            cpu_first_ts={int(k): int(v) for k, v in
                          json.loads(meta.get(schema.META_FIRST_TS, "{}")).items()},
            out_of_order=int(meta.get(schema.META_OUT_OF_ORDER, "0")),
            missed_pages_uncounted=int(meta.get(schema.META_MISSED_PAGES, "0")),
            cpu_outliers=_count(meta, META_CPU_OUTLIERS) or 0,
            cpu_outlier_cpus=_cpu_list(meta.get(META_CPU_OUTLIER_CPUS, "[]")),
            cpu_outlier_at=meta.get(META_CPU_OUTLIER_AT),
            cpus_header_ignored=_count(meta, META_CPUS_HEADER_IGNORED),
            corrupt_pages=_count(meta, META_CORRUPT_PAGES) or 0,
            corrupt_events=_count(meta, META_CORRUPT_EVENTS) or 0,
            corrupt_at=meta.get(META_CORRUPT_AT),
            skipped_records=_count(meta, META_SKIPPED_RECORDS) or 0,
            skipped_record_at=meta.get(META_SKIPPED_RECORD_AT),
            extra=extra,
        )


def _count(meta: dict[str, str], key: str) -> int | None:
    """An integer value of ``meta`` (None when absent or not an integer: these counts
    only feed warnings)."""
    try:
        return int(meta[key])
    except (KeyError, ValueError):
        return None


def _cpu_list(text: str) -> list[int]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [c for c in value if isinstance(c, int)] if isinstance(value, list) else []
