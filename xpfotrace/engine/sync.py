"""The ``sync`` rule (docs/model.md section 4): every request interrupts each of the
other N - 1 CPUs, which performs the same flush before the requester goes on."""

from __future__ import annotations


def sync_totals(base: dict[str, int], n: int) -> dict[str, int]:
    """IPIs and remote flushes of a strategy's requests on ``n`` CPUs."""
    return {"ipis": base["requests"] * (n - 1),
            "remote_invlpg_pages": base["local_invlpg_pages"] * (n - 1),
            "remote_full_flushes": base["full_requests"] * (n - 1)}


def sync_received(own: list[dict[str, int]]) -> None:
    """What each CPU of ``own`` (its own counters) receives from all the others."""
    total_req = sum(c["requests"] for c in own)
    total_full = sum(c["full_requests"] for c in own)
    total_pages = sum(c["local_invlpg_pages"] for c in own)
    for c in own:
        c["ipis_received"] = total_req - c["requests"]
        c["remote_invlpg_pages_received"] = total_pages - c["local_invlpg_pages"]
        c["remote_full_received"] = total_full - c["full_requests"]
