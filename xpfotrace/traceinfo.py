"""Facts about a trace that are not events: CPU count, lost events, provenance."""

from __future__ import annotations

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
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def cpus(self) -> int:
        """N_trace (MODEL.md section 1): the header's count, else the highest CPU + 1.

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
        meta.update({schema.META_PREFIX + k: v for k, v in self.extra.items()})
        return meta

    @classmethod
    def from_metadata(cls, meta: dict[str, str]) -> TraceInfo:
        known = {schema.META_FORMAT, schema.META_SOURCE, schema.META_CPUS, schema.META_LOST,
                 schema.META_VERSION, schema.META_EVENTS, schema.META_OVERFLOW,
                 schema.META_SKIPPED}
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
            extra=extra,
        )
