"""MODEL.md section 2: gfp flags to user / zero-filled."""

from __future__ import annotations

import pytest

from xpfotrace.core import gfp


@pytest.mark.parametrize(("text", "user", "zero"), [
    ("GFP_HIGHUSER_MOVABLE|__GFP_ZERO|__GFP_COMP", True, True),
    ("GFP_HIGHUSER_MOVABLE|__GFP_COMP", True, False),
    ("GFP_HIGHUSER|__GFP_ACCOUNT", True, False),
    ("GFP_USER", False, False),  # no __GFP_HIGHMEM
    ("GFP_KERNEL_ACCOUNT|__GFP_ZERO|__GFP_COMP", False, True),
    ("GFP_TRANSHUGE", False, False),  # THP lacks __GFP_KSWAPD_RECLAIM
    ("GFP_TRANSHUGE_LIGHT", False, False),
    ("GFP_NOFS|__GFP_HIGHMEM|__GFP_MOVABLE|__GFP_NOWARN|__GFP_HARDWALL", False, False),
    ("GFP_NOIO|__GFP_IO|__GFP_FS|__GFP_HARDWALL|__GFP_HIGHMEM", True, False),
    ("0x100cca", True, False),  # raw number printed by 6.10-6.13
    ("0x100dca", True, True),
    ("1051850", True, False),  # decimal raw value (trace-cmd -R of older tools)
    ("none", False, False),
    ("", False, False),
])
def test_classification(text: str, user: bool, zero: bool) -> None:
    bits = gfp.decode(text)
    assert (gfp.is_user(bits), gfp.is_zero(bits)) == (user, zero)


def test_highuser_value() -> None:
    assert gfp.GFP_HIGHUSER == 0x100CC2
