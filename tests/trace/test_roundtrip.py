"""Property test: every text format the project reads, with garbage lines mixed in, and
its Parquet conversion, give the counters of the events themselves (SYNTHETIC traces)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from render import render
from synth import make_trace, traces

from xpfotrace import convert, read_trace, replay
from xpfotrace.converters import TEXT_FORMATS

LINE_RES = [re.compile(f.line_regex) for f in TEXT_FORMATS.values()]
garbage_line = st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
                       min_size=1, max_size=60).filter(
    lambda s: s.strip() and not any(r.match(s) for r in LINE_RES)
    and not s.lstrip().startswith(("#", "CPU")) and not s.startswith("cpus="))


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(traces(), st.dictionaries(st.integers(1, 45), garbage_line, max_size=4),
       st.sampled_from(["tracefs", "trace-cmd", "perf"]), st.sampled_from([6, 9]))
def test_text_and_parquet_equal_direct(case: tuple[list[dict[str, Any]], int, int],
                                       garbage: dict[int, str], style: str,
                                       digits: int) -> None:
    events, n_trace, n = case
    events = [{**e, "ts": e["ts"] * 1000} for e in events]  # µs-exact for 6-digit output
    for e in events:
        if e["event"] == "mm_page_alloc" and not e["gfp_flags"].strip():
            e["gfp_flags"] = "none"
    if not any(e["event"] in ("mm_page_alloc", "mm_page_free", "mm_page_alloc_zone_locked")
               for e in events):
        return  # a trace without page events is rejected on purpose (test_bad_inputs)
    cpus = n_trace if style != "perf" else None
    direct = replay(make_trace(events, cpus=cpus), cpus=n)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "t.txt"
        p.write_text(render(events, style, n_trace, garbage, digits))
        raw = read_trace(str(p))
        assert raw.info.skipped_lines == len([k for k in garbage if k < len(events)])
        assert replay(raw, cpus=n).strategies == direct.strategies
        pq = Path(d) / "t.parquet"
        convert(str(p), str(pq))
        assert replay(read_trace(str(pq)), cpus=n).strategies == direct.strategies
