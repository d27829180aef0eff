"""What every trace reader shares: how much text it parses at a time and the shape of
its progress callback (here, below both ``trace`` and the converters, so neither imports
the other for them)."""

from __future__ import annotations

from collections.abc import Callable

#: Bytes of text parsed at a time (``convert --chunk-mb``).
DEFAULT_CHUNK_BYTES = 16 << 20
#: Called with the number of input bytes just consumed.
ProgressFn = Callable[[int], None]
