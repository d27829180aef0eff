"""Build of the optional C extensions: ``xpfotrace.converters.text._ctext`` (the text
kernel of :mod:`xpfotrace.converters.text.fast`) and ``xpfotrace.converters.binary._cbin``
(the binary readers' record walks and field gathers); everything else is configured in
pyproject.toml.

The extension is optional: when it cannot be compiled (no C compiler, no Python
headers) the install still succeeds and the text converters use the Polars path only.
``XPFOTRACE_NO_EXT=1`` skips it on purpose.
"""

import os

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("XPFOTRACE_NO_EXT", "") in ("", "0"):
    try:
        from Cython.Build import cythonize
    except ImportError:  # (Cython is a build requirement; a bare `setup.py` run may lack it)
        print("xpfotrace: Cython is missing: the compiled kernels are not built")
    else:
        ext_modules = cythonize(
            [Extension("xpfotrace.converters.text._ctext", ["converters/text/_ctext.pyx"],
                       optional=True),
             Extension("xpfotrace.converters.binary._cbin", ["converters/binary/_cbin.pyx"],
                       optional=True, extra_compile_args=["-O3"])],
            compiler_directives={"language_level": "3"},
        )
        for ext in ext_modules:  # (cythonize makes new Extensions and drops ``optional``)
            ext.optional = True

setup(ext_modules=ext_modules)
