"""Facts about a trace that are not events: CPU count, lost events, provenance."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from . import schema


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
    extra: dict[str, str] = field(default_factory=dict)

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
        if self.cut_last_line is not None:
            out.append(f"the last line ({self.cut_last_line}) is cut off (no newline): ignored")
        if self.lost_events:
            out.append(f"the trace reports {self.lost_events:,} lost events: counters are "
                       "a lower bound")
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
        if self.out_of_order:
            out.append(f"{self.out_of_order:,} event(s) have a timestamp below the previous "
                       "one of their CPU: replayed in (ts, seq) order")
        return out

    @property
    def cpus(self) -> int:
        """N_trace (docs/model.md section 1): the header's count, else the highest CPU + 1.

        If events name a CPU beyond the header's count the header is wrong; the
        larger value is used so that no CPU's events are dropped.
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
        meta.update({schema.META_PREFIX + k: v for k, v in self.extra.items()})
        return meta

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> TraceInfo:
        known = {schema.META_FORMAT, schema.META_SOURCE, schema.META_CPUS, schema.META_LOST,
                 schema.META_VERSION, schema.META_EVENTS, schema.META_OVERFLOW,
                 schema.META_SKIPPED, schema.META_FIRST_TS, schema.META_OUT_OF_ORDER,
                 schema.META_MISSED_PAGES}
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
            extra=extra,
        )
