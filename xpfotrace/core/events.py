"""Event names and limits every converter shares (no imports of its own: any module of
the package may use it)."""

from __future__ import annotations

#: Orders above this are malformed lines or records, not huge pages.
MAX_ORDER = 20

#: The page-allocator events whose rows carry a pfn and an order.
PAGE_EVENTS = ("mm_page_alloc", "mm_page_free", "mm_page_free_batched",
               "mm_page_alloc_zone_locked", "mm_page_pcpu_drain")
