"""The one event schema every converter produces, and the Parquet metadata keys.

Timestamps are integer nanoseconds; PFNs are unsigned 64-bit. Columns that an
event does not carry are null.
"""

from __future__ import annotations

import pyarrow as pa

#: Bump when the produced table changes meaning.
CONVERTER_VERSION = "1"

EVENT_SCHEMA = pa.schema(
    [
        pa.field("ts", pa.int64(), nullable=False),  # ns
        pa.field("cpu", pa.int32(), nullable=False),
        pa.field("seq", pa.int64(), nullable=False),  # index among parsed events
        pa.field("pid", pa.int32()),
        pa.field("comm", pa.string()),
        pa.field("event", pa.string(), nullable=False),  # tracepoint name, no system
        pa.field("pfn", pa.uint64()),  # null when the page is (null)
        pa.field("order", pa.int32()),
        pa.field("gfp_flags", pa.string()),  # as the kernel prints it
        pa.field("migratetype", pa.int32()),
        pa.field("percpu_refill", pa.int32()),
        pa.field("prev_pid", pa.int32()),
        pa.field("prev_comm", pa.string()),
        pa.field("next_pid", pa.int32()),
        pa.field("next_comm", pa.string()),
        pa.field("tlb_pages", pa.int64()),  # -1 = TLB_FLUSH_ALL
        pa.field("tlb_reason", pa.int32()),  # the number in parentheses
    ]
)

COLUMNS: tuple[str, ...] = tuple(EVENT_SCHEMA.names)

# Parquet key-value metadata keys (values are UTF-8 strings).
META_PREFIX = "xpfotrace."
META_FORMAT = META_PREFIX + "source_format"
META_SOURCE = META_PREFIX + "source_file"
META_CPUS = META_PREFIX + "cpus"
META_LOST = META_PREFIX + "lost_events"
META_VERSION = META_PREFIX + "converter_version"
META_EVENTS = META_PREFIX + "events"
META_OVERFLOW = META_PREFIX + "overflow"  # "entries_in_buffer/entries_written" when they differ
META_SKIPPED = META_PREFIX + "skipped_lines"
META_FIRST_TS = META_PREFIX + "cpu_first_ts"  # JSON {cpu: first ts}
META_OUT_OF_ORDER = META_PREFIX + "out_of_order"
META_MISSED_PAGES = META_PREFIX + "missed_pages_uncounted"  # trace.dat pages, no count

# Counts of what the converters set aside or skipped (converters/sanity.py), written only
# when nonzero
META_CPU_OUTLIERS = META_PREFIX + "cpu_outliers"  # events set aside for their CPU number
META_CPU_OUTLIER_CPUS = META_PREFIX + "cpu_outlier_cpus"  # JSON list of those CPUs
META_CPU_OUTLIER_AT = META_PREFIX + "cpu_outlier_at"  # "line N" / "offset N" of the first
META_CPUS_HEADER_IGNORED = META_PREFIX + "cpus_header_ignored"  # an impossible CPU count
META_CORRUPT_PAGES = META_PREFIX + "corrupt_pages"  # trace.dat pages / perf.data records
META_CORRUPT_EVENTS = META_PREFIX + "corrupt_events"  # events skipped in them
META_CORRUPT_AT = META_PREFIX + "corrupt_at"
META_SKIPPED_RECORDS = META_PREFIX + "skipped_records"  # binary records, malformed field
META_SKIPPED_RECORD_AT = META_PREFIX + "skipped_record_at"
