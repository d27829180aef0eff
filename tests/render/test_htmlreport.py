"""report: a self-contained HTML page; rendered in headless Chromium where available."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xpfotrace.cli import app

SAMPLE = Path(__file__).parent.parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "report.html"
    res = CliRunner().invoke(app, ["report", str(SAMPLE), "-o", str(out), "-p", "3550",
                                   "-p", "altra"])
    assert res.exit_code == 0, res.output
    return out


def test_page_is_self_contained(page: Path) -> None:
    text = page.read_text()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', text)
    assert len(images) == 4
    assert any("CDF" in t for t in images) and any("process" in t for t in images)
    assert "http://" not in text and "https://" not in text  # nothing fetched
    assert "altra-q80" in text and "i5-3550" in text


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium package is not installed")
def test_page_renders_in_headless_chromium(page: Path, tmp_path: Path) -> None:
    import matplotlib.image as mpimg

    shot = tmp_path / "shot.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'u'}",
                    "--window-size=1200,2400", f"--screenshot={shot}", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = mpimg.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1000
    assert pixels.std() > 0.05  # plots drawn, not a blank page


def test_cost_table_has_three_parts_and_sweep_plot(tmp_path: Path) -> None:
    out = tmp_path / "sweep.html"
    res = CliRunner().invoke(app, ["report", str(SAMPLE), "-o", str(out), "-p", "3550",
                                   "--baseline-sys", "1", "--sweep", "--bound", "none,1ms",
                                   "--ceiling", "33", "-s",
                                   "sync,deferred,deferred+batch@bound=1ms"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    images = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,', text)
    assert any("three parts" in t for t in images)
    assert any("Design space" in t for t in images)
    assert "<th>local s</th><th>pte s</th><th>remote s</th>" in text
    assert "deferred+batch@bound=1ms" in text and "1 + overhead" in text
    no_profile = CliRunner().invoke(app, ["report", str(SAMPLE), "-o", str(out), "--sweep"])
    assert no_profile.exit_code == 2 and "--sweep needs a --profile" in no_profile.stderr


def test_trace_strings_are_data_not_markup(tmp_path: Path) -> None:
    """SYNTHETIC: comms that are HTML, matplotlib math text and control characters."""
    from synth import USER, alloc, make_trace, switch

    from xpfotrace.render.html import build, plot_text

    hostile = ["<script>alert(1)</script>", "a$\\q$b", "$x$", "bell\x07\x1b[31m", "a\\$b"]
    events = []
    for i, comm in enumerate(hostile):
        events.append({**alloc(10 * i, pfn=100 + i, gfp=USER), "comm": comm, "pid": 10 + i})
        events.append(switch(10 * i + 5, 1))
    page = build(make_trace(events, cpus=2), [], "<b>title</b> $t$")
    assert "<script>alert" not in page and "<b>title" not in page
    assert "&lt;b&gt;title&lt;/b&gt; $t$" in page
    # what matplotlib is given shows each string as it is: no math, no control bytes
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.text import Text

    for comm in hostile:
        t = Text(0, 0, plot_text(comm))
        shown, math = t._preprocess_math(t.get_text())
        assert math is False and shown.isprintable()
        assert shown.replace("\\x07", "\x07").replace("\\x1b", "\x1b") == comm


def test_header_counters_without_profile_and_time_axis(tmp_path: Path) -> None:
    out = tmp_path / "plain.html"
    res = CliRunner().invoke(app, ["report", str(SAMPLE), "-o", str(out), "-s",
                                   "sync+lazy,deferred@bound=2ms"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    import xpfotrace

    assert f"<td>{xpfotrace.__version__}</td>" in text  # the header block
    assert "<th>command</th><td>xpfotrace" in text and "<th>kernel</th>" in text
    assert "No warnings about the input." in text
    assert "<h2>Counters (2 CPUs, as traced)</h2>" in text  # no --profile needed
    assert "<td>sync+lazy</td>" in text and "<td>deferred@bound=2ms</td>" in text
    # the attribution names the strategy it shows (the first chosen, not deferred+batch)
    assert "Flush requests by process (top 15, sync+lazy)" in text


def test_time_plot_keeps_empty_bins() -> None:
    """SYNTHETIC: requests at the start and the end only; the middle bins are 0."""
    import matplotlib
    from synth import USER, alloc, make_trace, switch

    from xpfotrace.engine.replay import Replayer
    from xpfotrace.render.html import _time_plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    events = [alloc(0, 1, USER), alloc(10, 2, USER), switch(500, 1), alloc(1000, 3, USER)]
    rep = Replayer(make_trace(events, cpus=2))
    drawn: list[tuple[list[int], list[float]]] = []
    real = plt.Axes.stairs

    def spy(self, values, edges=None, **kw):  # type: ignore[no-untyped-def]
        drawn.append((list(values), list(edges)))
        return real(self, values, edges, **kw)

    plt.Axes.stairs = spy  # type: ignore[method-assign]
    try:
        _time_plot(plt, rep, bins=10)
    finally:
        plt.Axes.stairs = real  # type: ignore[method-assign]
    values, edges = drawn[0]
    assert len(values) == 10 and values[0] == 2 and values[-1] == 1 and sum(values[1:-1]) == 0
    assert edges[0] == 0 and edges[-1] == 1000 / 1e9
