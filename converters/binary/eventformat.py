"""Kernel event format texts (``events/<sys>/<event>/format``), as stored in trace.dat
and perf.data: field layouts, and the ``__print_flags`` table used to print gfp_flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_FIELD = re.compile(r"field:(?P<decl>[^;]*);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);"
                    r"\s*signed:(?P<signed>\d+);")
_FLAG = re.compile(r"\{\s*([^{}]*?)\s*,\s*\"([^\"]*)\"\s*\}")
_CASTS = re.compile(r"\(\s*(?:__force\s+)?(?:unsigned\s+long(?:\s+long)?|unsigned\s+int|"
                    r"unsigned|long|int|gfp_t|u32|u64)\s*\)")
_SAFE = re.compile(r"^[0-9a-fA-FxX()|&~<>\s]*$")


@dataclass(frozen=True)
class Field:
    name: str
    offset: int
    size: int
    signed: bool
    array: int | None = None  # element count of char[N] and other arrays


@dataclass
class EventFormat:
    system: str
    name: str
    id: int
    fields: dict[str, Field] = field(default_factory=dict)
    print_fmt: str = ""

    def flag_table(self, fieldname: str) -> list[tuple[int, str]] | None:
        """(value, name) pairs of ``__print_flags(REC->fieldname, ...)`` in print order."""
        start = self.print_fmt.find(f"__print_flags(REC->{fieldname}")
        if start < 0:
            return None
        depth, end = 0, start
        for i in range(start, len(self.print_fmt)):
            c = self.print_fmt[i]
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        out = []
        for expr, name in _FLAG.findall(self.print_fmt[start:end]):
            value = _eval_const(expr)
            if value is not None:
                out.append((value, name))
        return out


def _eval_const(expr: str) -> int | None:
    """Value of a C constant expression made of casts, hex/decimal numbers and bit ops."""
    text = _CASTS.sub("", expr)
    text = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)(?:[uU]?[lL]{0,2}|[lL]{1,2}[uU]?)\b", r"\1", text)
    if not _SAFE.match(text):
        return None
    try:
        value = eval(text, {"__builtins__": {}}, {})
    except (SyntaxError, TypeError, ValueError):
        return None
    return int(value) & 0xFFFFFFFFFFFFFFFF if isinstance(value, int) else None


def format_flags(value: int, table: list[tuple[int, str]], delim: str = "|") -> str:
    """Print ``value`` as libtraceevent's print_flags does (names in table order, rest hex)."""
    parts = []
    for fval, name in table:
        if value == 0 and fval == 0:
            parts.append(name)
            break
        if fval and value & fval == fval:
            parts.append(name)
            value &= ~fval
    if value:
        parts.append(f"0x{value:x}")
    return delim.join(parts)


def parse_format(text: str, system: str | None = None) -> EventFormat:
    """One event format text."""
    name = re.search(r"^name:\s*(\S+)", text, re.M)
    ident = re.search(r"^ID:\s*(\d+)", text, re.M)
    if not name or not ident:
        raise ValueError("event format without name or ID")
    ev = EventFormat(system=system or "", name=name.group(1), id=int(ident.group(1)))
    for m in _FIELD.finditer(text):
        decl = m.group("decl").strip()
        arr = re.search(r"(\w+)\s*\[(\d*)\]\s*$", decl)
        if arr:
            fname, count = arr.group(1), int(arr.group(2) or 0)
        else:
            fname, count = decl.split()[-1], None
        ev.fields[fname] = Field(fname, int(m.group("off")), int(m.group("size")),
                                 m.group("signed") == "1", count)
    pf = text.find("print fmt:")
    ev.print_fmt = text[pf + len("print fmt:"):].strip() if pf >= 0 else ""
    return ev
