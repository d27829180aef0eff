"""Exceptions raised by xpfotrace: every user-facing failure is one of these."""

from __future__ import annotations


class XpfoError(Exception):
    """Base class: the CLI prints ``str(err)`` on one line and exits with ``exit_code``."""

    exit_code = 1


class InputError(XpfoError):
    """The input trace is unreadable or malformed.

    ``where`` names the file and, where it applies, the line or byte offset.
    """

    def __init__(self, path: str, message: str, *, line: int | None = None,
                 offset: int | None = None) -> None:
        loc = str(path)
        if line is not None:
            loc += f":{line}"
        elif offset is not None:
            loc += f" (offset {offset})"
        super().__init__(f"{loc}: {message}")
        self.path = str(path)
        self.line = line
        self.offset = offset


class UsageError(XpfoError):
    """A request the engine cannot honour (bad strategy name, too few CPUs...)."""

    exit_code = 2


class OutputError(XpfoError):
    """An output that cannot be written: the disk is full, the file system read-only..."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = str(path)
