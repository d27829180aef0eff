"""MODEL.md section 3 rules, one at a time, on SYNTHETIC traces (hand-built, not captured)."""

from __future__ import annotations

from typing import Any

from synth import KERNEL, USER, USER_ZERO, alloc, free, make_trace, refill, switch

from xpfotrace import replay

Events = list[dict[str, Any]]


def counters(events: Events, strategy: str, cpus: int = 1) -> dict[str, Any]:
    return replay(make_trace(events, cpus=cpus), strategies=strategy).strategies[strategy]


def test_user_alloc_requests_once_until_freed() -> None:
    ev = [alloc(1, 100), alloc(2, 100), free(3, 100), alloc(4, 100)]
    c = counters(ev, "sync")
    assert c["alloc_requests"] == 2  # the second alloc finds `user` already set
    assert c["user_allocs"] == 3
    assert c["unmaps"] == 0  # without lazy, only kunmaps unmap


def test_zero_filled_user_alloc_makes_kunmap_requests_per_frame() -> None:
    c = counters([alloc(1, 64, USER_ZERO, order=2)], "sync")
    assert (c["alloc_requests"], c["kunmap_requests"]) == (1, 4)
    assert c["local_invlpg_pages"] == 4 + 4  # one 4-page range + four 1-page flushes
    assert (c["unmaps"], c["remaps"]) == (4, 0)


def test_zero_filled_realloc_remaps_then_unmaps() -> None:
    c = counters([alloc(1, 5, USER_ZERO), alloc(2, 5, USER_ZERO)], "sync")
    assert (c["unmaps"], c["remaps"], c["kunmap_requests"]) == (2, 1, 2)


def test_kernel_alloc_clears_user_and_remaps() -> None:
    c = counters([alloc(1, 5, USER_ZERO), alloc(2, 5, KERNEL), alloc(3, 5, USER)], "sync")
    assert c["kernel_allocs"] == 1
    assert c["remaps"] == 1
    assert c["alloc_requests"] == 2  # user cleared by the kernel allocation


def test_large_allocation_is_a_full_request() -> None:
    c = counters([alloc(1, 1024, USER, order=6)], "sync")  # 64 pages > ceiling 33
    assert (c["full_requests"], c["local_invlpg_pages"]) == (1, 0)
    c5 = counters([alloc(1, 1024, USER, order=5)], "sync")  # 32 pages: a range flush
    assert (c5["full_requests"], c5["local_invlpg_pages"]) == (0, 32)


def test_failed_allocation_is_skipped_but_counted_as_event() -> None:
    res = replay(make_trace([alloc(1, 0), alloc(2, 7)], cpus=1), strategies="sync")
    assert res.strategies["sync"]["user_allocs"] == 1
    assert res.trace["event_counts"]["mm_page_alloc"] == 2


def test_lazy_keeps_freed_user_pages_unmapped() -> None:
    ev = [alloc(1, 9), free(2, 9), alloc(3, 9)]
    assert counters(ev, "sync")["alloc_requests"] == 2
    lazy = counters(ev, "sync+lazy")
    assert lazy["alloc_requests"] == 1  # still unmapped: no new flush
    assert (lazy["unmaps"], lazy["remaps"]) == (1, 0)


def test_lazy_zero_filled_realloc_of_user_page_needs_only_kunmap() -> None:
    c = counters([alloc(1, 9, USER_ZERO), free(2, 9), alloc(3, 9, USER_ZERO)], "sync+lazy")
    assert c["alloc_requests"] == 1
    assert c["kunmap_requests"] == 2
    assert (c["unmaps"], c["remaps"]) == (1 + 1 + 1, 2)


def test_refill_run_is_one_full_request_at_its_last_event() -> None:
    ev = [refill(1, 10), refill(2, 11), refill(3, 12, mt=0), alloc(4, 10)]
    c = counters(ev, "sync+batch")
    assert (c["refill_runs"], c["refill_requests"], c["full_requests"]) == (1, 1, 1)
    assert c["alloc_requests"] == 0  # frame 10 already user via the refill
    assert counters(ev, "sync")["refill_runs"] == 0


def test_refill_run_is_broken_by_any_event_of_its_cpu_only() -> None:
    ev = [refill(1, 10, cpu=0), switch(2, cpu=1), refill(3, 11, cpu=0),
          refill(4, 12, cpu=0, percpu=0), refill(5, 13, cpu=0)]
    c = counters(ev, "sync+batch", cpus=2)
    assert c["refill_runs"] == 2  # [10, 11] then [13]; the percpu_refill=0 event breaks


def test_unmarked_refill_run_counts_but_makes_no_request() -> None:
    ev = [refill(1, 10), alloc(2, 20), refill(3, 10)]
    c = counters(ev, "sync+batch")
    assert c["refill_runs"] == 2
    assert c["refill_requests"] == 1  # frame 10 is still unmapped at the second run


def test_sync_counts_ipis_for_every_other_cpu() -> None:
    c = counters([alloc(1, 1, USER_ZERO), switch(2, 3)], "sync", cpus=4)
    assert c["requests"] == 2
    assert (c["ipis"], c["remote_invlpg_pages"]) == (6, 6)
