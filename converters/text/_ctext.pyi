"""Typed signatures of the compiled text kernel (converters/_ctext.pyx)."""

import numpy as np
from numpy.typing import NDArray

_Bytes = NDArray[np.uint8] | bytes | bytearray | memoryview

SP: int
MAX_ORDER: int
EV_ALLOC: int
EV_FREE: int
EV_FREE_BATCHED: int
EV_ZONE_LOCKED: int
EV_DRAIN: int
EV_SWITCH: int
EV_TLB: int
I64_TS: int
I64_PFN: int
I64_TLB_PAGES: int
I32_LN: int
I32_CPU: int
I32_PID: int
I32_ORDER: int
I32_MIG: int
I32_REFILL: int
I32_PREV_PID: int
I32_NEXT_PID: int
I32_TLB_REASON: int
OK_PFN: int
OK_ORDER: int
OK_MIG: int
OK_REFILL: int
OK_TLB_PAGES: int
S_COMM: int
S_EVENT: int
S_GFP: int
S_PREV_COMM: int
S_NEXT_COMM: int

def scan(mode: int, buf: _Bytes, starts: NDArray[np.int32], ends: NDArray[np.int32],
         clean: NDArray[np.bool_], i64: NDArray[np.int64], pfn_out: NDArray[np.uint64],
         i32: NDArray[np.int32], oks: NDArray[np.bool_], ev: NDArray[np.int8],
         spans: NDArray[np.int32]) -> int: ...
def count_lines(buf: _Bytes) -> int: ...
def lines(buf: _Bytes, starts: NDArray[np.int32], ends: NDArray[np.int32],
          clean: NDArray[np.bool_]) -> None: ...
def gather(buf: _Bytes, starts: NDArray[np.int32], ends: NDArray[np.int32], rows: int,
           offsets: NDArray[np.int32], out: NDArray[np.uint8] | None) -> int: ...
