"""report: a self-contained HTML page; rendered in headless Chromium where available."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xpfotrace.cli import app

SAMPLE = Path(__file__).parent.parent / "sample_traces" / "hackbench-1s.ftrace.txt.zst"
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
