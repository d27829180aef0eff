"""GFP flag decoding (docs/model.md section 2): which allocations are user and zero-filled."""

from __future__ import annotations

from collections.abc import Iterable

# Linux 6.x single-bit values (include/linux/gfp_types.h).
BITS: dict[str, int] = {
    "__GFP_DMA": 0x01,
    "__GFP_HIGHMEM": 0x02,
    "__GFP_DMA32": 0x04,
    "__GFP_MOVABLE": 0x08,
    "__GFP_RECLAIMABLE": 0x10,
    "__GFP_HIGH": 0x20,
    "__GFP_IO": 0x40,
    "__GFP_FS": 0x80,
    "__GFP_ZERO": 0x100,
    "__GFP_DIRECT_RECLAIM": 0x400,
    "__GFP_KSWAPD_RECLAIM": 0x800,
    "__GFP_WRITE": 0x1000,
    "__GFP_NOWARN": 0x2000,
    "__GFP_RETRY_MAYFAIL": 0x4000,
    "__GFP_NOFAIL": 0x8000,
    "__GFP_NORETRY": 0x10000,
    "__GFP_MEMALLOC": 0x20000,
    "__GFP_COMP": 0x40000,
    "__GFP_NOMEMALLOC": 0x80000,
    "__GFP_HARDWALL": 0x100000,
    "__GFP_THISNODE": 0x200000,
    "__GFP_ACCOUNT": 0x400000,
    "__GFP_ZEROTAGS": 0x800000,
    "__GFP_SKIP_ZERO": 0x1000000,
    "__GFP_SKIP_KASAN": 0x2000000,
}

_B = BITS
RECLAIM = _B["__GFP_DIRECT_RECLAIM"] | _B["__GFP_KSWAPD_RECLAIM"]
_USER = RECLAIM | _B["__GFP_IO"] | _B["__GFP_FS"] | _B["__GFP_HARDWALL"]
_HIGHUSER = _USER | _B["__GFP_HIGHMEM"]
_HIGHUSER_MOVABLE = _HIGHUSER | _B["__GFP_MOVABLE"] | _B["__GFP_SKIP_KASAN"]
_TH_LIGHT = (_HIGHUSER_MOVABLE | _B["__GFP_COMP"] | _B["__GFP_NOMEMALLOC"]
             | _B["__GFP_NOWARN"]) & ~RECLAIM

#: Composite names, expanded exactly as docs/model.md section 2 lists them.
COMPOSITES: dict[str, int] = {
    "__GFP_RECLAIM": RECLAIM,
    "GFP_ATOMIC": _B["__GFP_HIGH"] | _B["__GFP_KSWAPD_RECLAIM"],
    "GFP_KERNEL": RECLAIM | _B["__GFP_IO"] | _B["__GFP_FS"],
    "GFP_KERNEL_ACCOUNT": RECLAIM | _B["__GFP_IO"] | _B["__GFP_FS"] | _B["__GFP_ACCOUNT"],
    "GFP_NOWAIT": _B["__GFP_KSWAPD_RECLAIM"] | _B["__GFP_NOWARN"],
    "GFP_NOIO": RECLAIM,
    "GFP_NOFS": RECLAIM | _B["__GFP_IO"],
    "GFP_USER": _USER,
    "GFP_DMA": _B["__GFP_DMA"],
    "GFP_DMA32": _B["__GFP_DMA32"],
    "GFP_HIGHUSER": _HIGHUSER,
    "GFP_HIGHUSER_MOVABLE": _HIGHUSER_MOVABLE,
    "GFP_TRANSHUGE_LIGHT": _TH_LIGHT,
    "GFP_TRANSHUGE": _TH_LIGHT | _B["__GFP_DIRECT_RECLAIM"],
}

GFP_HIGHUSER = _HIGHUSER  # 0x100cc2
GFP_ZERO = _B["__GFP_ZERO"]


def decode(text: str | None) -> int:
    """Bits of a printed gfp_flags value: names joined by ``|``, ``none``, or a number.

    Unknown names contribute no bits (they cannot make an allocation a user one).
    """
    if text is None:
        return 0
    text = text.strip()
    if not text or text == "none":
        return 0
    low = text.lower()
    if low.startswith("0x"):
        try:
            return int(low, 16)
        except ValueError:
            return 0
    if text.isdigit():
        return int(text)
    bits = 0
    for name in text.split("|"):
        name = name.strip()
        bits |= COMPOSITES.get(name, BITS.get(name, 0))
    return bits


def is_user(bits: int) -> bool:
    """``(gfp & GFP_HIGHUSER) == GFP_HIGHUSER``, as in the kernel."""
    return bits & GFP_HIGHUSER == GFP_HIGHUSER


def is_zero(bits: int) -> bool:
    return bits & GFP_ZERO != 0


def classify(values: Iterable[str | None]) -> tuple[list[str | None], list[bool], list[bool]]:
    """(value, user, zero) for each distinct printed value (called on uniques, not events)."""
    keys = list(values)
    decoded = [decode(v) for v in keys]
    return keys, [is_user(b) for b in decoded], [is_zero(b) for b in decoded]
