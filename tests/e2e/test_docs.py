"""Examples in the docs are executed: module doctests and the README's Python blocks."""

from __future__ import annotations

import doctest
import importlib
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent.parent


@pytest.fixture(autouse=True)
def _at_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("module", ["xpfotrace", "xpfotrace.fleet.batch", "xpfotrace.engine.replay"])
def test_module_doctests(module: str) -> None:
    mod = importlib.import_module(module)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert res.attempted > 0 and res.failed == 0


def test_readme_python_examples() -> None:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for block in blocks:
        res = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS).run(
            doctest.DocTestParser().get_doctest(block, {}, "README", "README.md", 0))
        assert res.failed == 0 and res.attempted > 0


def test_readme_quickstart_has_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quickstart", 1)[1].split("```", 2)[1]
    commands = [ln for ln in quick.splitlines()[1:] if ln.strip()]
    assert len(commands) == 2
    assert "replay sample_traces/" in commands[0]
    assert "pytest" in commands[1]
    assert os.path.exists(ROOT / commands[0].split("replay ")[1].split()[0])
