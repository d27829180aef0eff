"""Where output files go, and what they may replace.

Every output is written under a temporary name beside its target and renamed over it
when complete, so an interrupted run leaves nothing behind. The rename only ever
replaces a regular file (or nothing):

* a symlink is written through: its target is the output;
* a character device or FIFO (``/dev/null``, ``/dev/stdout``, a named pipe) is
  streamed to: the finished file is copied into it, nothing is renamed over it;
* a directory, a block device or a socket is refused;
* an output that is the same file as an input (same device and inode, whatever
  the names) is refused;
* the directory must exist and be writable, which ``check`` tells before any work.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .errors import OutputError, UsageError

#: write errors that are the output's place, not a bug: full, over quota, too big, read-only
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


@dataclass(frozen=True)
class Target:
    """Where ``out`` really goes: a regular file's path (renamed into), or a stream."""

    path: str  # the symlink resolved
    stream: bool  # a character device or FIFO: copy into it, never rename over it


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check(out: str, inputs: Iterable[str] = ()) -> Target:
    """Validate an output path before the work: a one-line UsageError if it may not be
    written (the error names the path)."""
    if not out:
        raise UsageError("the output path is empty")
    path = os.path.realpath(out)  # a symlink (or a chain of them) is written through
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"{out}: cannot use as output ({exc.strerror or exc})") from None
    if st is not None:
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            raise UsageError(f"{out}: is a directory; give a file name for the output")
        if not (stat.S_ISREG(mode) or stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
            raise UsageError(f"{out}: is not a regular file, character device or FIFO; "
                             "refusing to write there")
        for src in inputs:
            with contextlib.suppress(OSError):
                if _same(st, os.stat(src)):
                    raise UsageError(f"{out}: is the input {src}; refusing to overwrite it "
                                     "(choose another output name)")
        if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
            if not os.access(path, os.W_OK):
                raise UsageError(f"{out}: not writable")
            return Target(path, stream=True)
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        raise UsageError(f"{out}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise UsageError(f"{out}: directory {directory} is not writable")
    return Target(path, stream=False)


@contextlib.contextmanager
def atomic_path(out: str, inputs: Iterable[str] = ()) -> Iterator[str]:
    """A temporary path to write ``out`` to; on success it becomes ``out`` (see the
    module docstring for what that may replace). ``inputs`` may not be overwritten."""
    target = check(out, inputs)
    directory = tempfile.gettempdir() if target.stream else os.path.dirname(target.path)
    base = os.path.basename(target.path)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + base + ".", suffix=".part", dir=directory)
    except OSError as exc:
        raise UsageError(f"{out}: cannot create a file in {directory} "
                         f"({exc.strerror or exc})") from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # as a plain open() would create it, not mkstemp's 0600
    try:
        yield tmp
        if target.stream:
            with open(tmp, "rb") as src, open(target.path, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            os.unlink(tmp)
        else:
            check(out, inputs)  # nothing became a directory or an input meanwhile
            os.replace(tmp, target.path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError) and (
                exc.errno in _FULL or "No space left" in str(exc)):
            raise OutputError(out, f"cannot write the output ({exc.strerror or exc})"
                              ) from None
        raise
