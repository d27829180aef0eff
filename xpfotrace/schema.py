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
