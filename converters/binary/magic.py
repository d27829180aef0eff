"""The first bytes of each binary format, for detection without loading its reader."""

from __future__ import annotations

#: trace.dat (trace-cmd), any version
TRACEDAT_MAGIC = b"\x17\x08Dtracing"
#: perf.data v2, little-endian (what perf writes on every platform it runs on)
PERF_MAGIC = b"PERFILE2"
#: perf.data v1 (refused by name)
PERF_MAGIC_V1 = b"PERFFILE"
#: every perf.data magic: v2 and v1, either byte order
PERF_MAGICS = (PERF_MAGIC, PERF_MAGIC[::-1], PERF_MAGIC_V1, PERF_MAGIC_V1[::-1])
