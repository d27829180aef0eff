#!/usr/bin/env bash
# Build the compiled kernels (_ctext, _cbin) with AddressSanitizer into a temporary copy of the tree and run
# tests/asan_fuzz.py against it; fails on any ASan report (or any other failure).
#
#   .ci/asan.sh [--seconds N]        (PYTHON=... picks the interpreter; default: .venv's)
#
# Needs gcc with libasan, and Cython>=3 and setuptools>=77 in that Python.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-$root/.venv/bin/python}
[ -x "$python" ] || python=python3
libasan=$(gcc -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
    echo "asan.sh: no libasan.so for gcc ($libasan)" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the working tree as it is (tracked and untracked files, not the ignored ones)
(cd "$root" && git ls-files -co --exclude-standard -z) |
    (cd "$root" && xargs -0 tar -cf - --ignore-failed-read) | tar -xf - -C "$work"

cd "$work"
echo "asan.sh: building xpfotrace.converters.text._ctext with ASan in $work"
CFLAGS='-fsanitize=address -fno-omit-frame-pointer -O1' \
    "$python" setup.py -q build_ext --inplace --force >"$work/build.log" 2>&1 ||
    { cat "$work/build.log"; echo "asan.sh: build failed" >&2; exit 1; }
so=$(ls "$work"/converters/text/_ctext*.so "$work"/converters/binary/_cbin*.so 2>/dev/null || true)
asan_linked=0
for s in $so; do readelf -d "$s" | grep -q 'libasan' && asan_linked=$((asan_linked + 1)); done
if [ "$asan_linked" -ne 2 ]; then
    cat "$work/build.log"
    echo "asan.sh: the extension was not built with ASan" >&2
    exit 1
fi

log="$work/asan.log"
# PYTHONMALLOC=malloc and Arrow's system pool: Python's and Arrow's buffers come from
# malloc, which ASan watches (pymalloc's and jemalloc's arenas it cannot see into)
set +e
env LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
    PYTHONMALLOC=malloc ARROW_DEFAULT_MEMORY_POOL=system PYTHONPATH="$work" \
    XPFOTRACE_NO_NATIVE= XPFOTRACE_NO_JIT= \
    "$python" "$work/tests/asan_fuzz.py" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -q 'ERROR: AddressSanitizer' "$log"; then
    echo "asan.sh: FAILED: AddressSanitizer reported an error (above)" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "asan.sh: FAILED: asan_fuzz.py exited with $status" >&2
    exit 1
fi
if ! grep -q "asan_fuzz: $work/xpfotrace/converters/text/_ctext" "$log" ||
   ! grep -q "asan_fuzz: $work/xpfotrace/converters/binary/_cbin" "$log"; then
    echo "asan.sh: FAILED: the fuzz did not use the ASan build" >&2
    exit 1
fi
echo "asan.sh: OK (no AddressSanitizer report)"
