"""Property test: the vectorized engine equals the plain reference loop (SYNTHETIC traces)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_replay
from synth import make_trace, traces

from xpfotrace import replay
from xpfotrace.strategies import ALL


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces())
def test_engine_matches_reference(case: tuple[list[dict[str, Any]], int, int]) -> None:
    events, n_trace, n = case
    trace = make_trace(events, cpus=n_trace)
    result = replay(trace, cpus=n)
    for s in ALL:
        want = reference_replay(events, n_trace, n, s.name)
        got = result.strategies[s.name]
        for key, value in want.items():
            assert got[key] == value, (s.name, key, got[key], value)
    # the same trace classified on dictionary codes, as a Parquet trace is
    assert replay(trace.with_codes(), cpus=n).to_dict() == result.to_dict()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces())
def test_interpolation_search_matches_reference(case: tuple[list[dict[str, Any]], int, int]
                                                ) -> None:
    """The same, with window quantiles found by the sampled bracket and the search loop
    instead of listing, and the switches split into tiny uncached chunks."""
    import dataclasses

    from xpfotrace.engine.deferred.quantile import TUNING

    events, n_trace, n = case
    knobs = {"min_sample": 1, "chunk_entries": 7, "cache_entries": 0, "materialize": 0}
    saved = dataclasses.asdict(TUNING)
    for k, v in knobs.items():
        setattr(TUNING, k, v)
    try:
        result = replay(make_trace(events, cpus=n_trace), cpus=n, strategies="deferred")
    finally:
        for k, v in saved.items():
            setattr(TUNING, k, v)
    want = reference_replay(events, n_trace, n, "deferred")
    assert {k: result.strategies["deferred"][k] for k in want} == want


PARAMETERISED = st.lists(
    st.tuples(st.sampled_from([s.name for s in ALL if s.remote != "none"]),
              st.one_of(st.none(), st.integers(1, 45)),  # bound in ns (deferred only)
              st.one_of(st.none(), st.sampled_from([1, 2, 3, 4, 33]))),
    min_size=1, max_size=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), PARAMETERISED)
def test_parameters_match_reference(case: tuple[list[dict[str, Any]], int, int],
                                    params: list[tuple[str, int | None, int | None]]) -> None:
    """bound and ceiling (MODEL.md section 8), ties at exactly a + T included: bounds up
    to the trace's whole span over timestamps 0..40 make every tie likely."""
    events, n_trace, n = case
    names = []
    for base, bound, ceiling in params:
        name = base
        if bound is not None and base.startswith("deferred"):
            name += f"@bound={bound}ns"
        if ceiling is not None:
            name += f"@ceiling={ceiling}"
        names.append(name)
    result = replay(make_trace(events, cpus=n_trace), cpus=n, strategies=",".join(names))
    for name in names:
        want = reference_replay(events, n_trace, n, name)
        got = result.strategies[name]
        assert {k: got[k] for k in want} == want, name


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), st.integers(1, 45))
def test_bounded_bisection_matches_reference(case: tuple[list[dict[str, Any]], int, int],
                                             bound: int) -> None:
    """Bounded quantiles found by bisection on counts instead of listing the windows."""
    from xpfotrace.engine.deferred.quantile import TUNING

    events, n_trace, n = case
    name = f"deferred+batch@bound={bound}ns"
    saved = TUNING.list_limit
    TUNING.list_limit = -1
    try:
        result = replay(make_trace(events, cpus=n_trace), cpus=n, strategies=name)
    finally:
        TUNING.list_limit = saved
    want = reference_replay(events, n_trace, n, name)
    assert {k: result.strategies[name][k] for k in want} == want


def _events_of(trace: Any) -> list[dict[str, Any]]:
    """A real trace's rows as the reference loop's event dicts (gfp_flags as printed)."""
    df = trace.df
    out = []
    for r in df.iter_rows(named=True):
        e = {k: v for k, v in r.items() if v is not None}
        e.setdefault("gfp_flags", "none")
        e.setdefault("next_comm", "")
        e.setdefault("next_pid", 0)
        out.append(e)
    return out


def test_parameters_match_reference_on_a_real_trace() -> None:
    """REAL: the bundled hackbench capture, plain and projected to 3 CPUs, against the
    reference loop, with bounds shorter and longer than its typical windows."""
    from pathlib import Path

    from xpfotrace import read_trace

    path = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
    trace = read_trace(str(path))
    events = _events_of(trace)
    names = ["deferred+batch@bound=1ms@ceiling=8", "deferred@bound=50us",
             "deferred+lazy@ceiling=1@bound=20ms", "sync+batch@ceiling=1"]
    for n in (trace.info.cpus, trace.info.cpus + 1):
        result = replay(trace, cpus=n, strategies=",".join(names))
        for name in names:
            want = reference_replay(events, trace.info.cpus, n, name)
            got = result.strategies[name]
            assert {k: got[k] for k in want} == want, (n, name)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traces(), st.lists(st.sampled_from([1, 2, 3]), min_size=45, max_size=45),
       st.one_of(st.none(), st.integers(1, 45)))
def test_only_matches_reference(case: tuple[list[dict[str, Any]], int, int],
                                pids: list[int], bound: int | None) -> None:
    """--only pid=2: every event drives the page state, only pid 2's count and request."""
    from xpfotrace.focus import Only

    events, n_trace, n = case
    events = [{**e, "pid": p} for e, p in zip(events, pids, strict=False)]
    names = [s.name for s in ALL]
    if bound is not None:
        names += [f"deferred+batch@bound={bound}ns", f"deferred+lazy@bound={bound}ns"]
    result = replay(make_trace(events, cpus=n_trace), cpus=n, strategies=",".join(names),
                    only=Only(pids=frozenset({2})))
    for name in names:
        want = reference_replay(events, n_trace, n, name, only=lambda e: e["pid"] == 2)
        got = result.strategies[name]
        assert {k: got[k] for k in want} == want, name
