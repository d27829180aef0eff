"""Both paths of the binary readers: a module that imports ``binary_path`` runs each of
its tests twice, with the compiled loops (``converters._cbin``) and with the numpy
fallback (``XPFOTRACE_NO_NATIVE=binary``: the text kernel stays on), which must read
every file alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from xpfotrace.converters.binary import binfile


@pytest.fixture(autouse=True, params=["native", "numpy"])
def binary_path(request: pytest.FixtureRequest,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "native":
        if binfile.cbin is None:
            pytest.skip("the compiled binary kernels (_cbin) are not built (no C compiler at install)")
        monkeypatch.delenv("XPFOTRACE_NO_NATIVE", raising=False)
        assert binfile.native()
    else:
        monkeypatch.setenv("XPFOTRACE_NO_NATIVE", "binary")
        assert not binfile.native()
    yield request.param
