"""Strategy names (docs/model.md sections 3 and 8): a remote mode, the options batch and lazy,
and the parameters ``ceiling`` and ``bound`` (``deferred+batch@bound=2ms@ceiling=64``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .core.errors import UsageError

#: tlb_single_page_flush_ceiling, the default ``ceiling`` (docs/model.md section 3).
DEFAULT_CEILING = 33
MAX_CEILING = (1 << 31) - 1
#: ns per unit of a ``bound`` duration
UNITS: dict[str, int] = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
#: a bound beyond this (about 146 years) could overflow ts + bound in int64
MAX_BOUND_NS = 1 << 62
PARAMETERS: tuple[str, ...] = ("bound", "ceiling")

_DURATION = re.compile(r"([0-9]+)(ns|us|ms|s)")
_INTEGER = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Strategy:
    """``remote`` is ``"sync"``, ``"deferred"`` or ``"none"`` (no XPFO at all).

    ``ceiling``: requests of more pages are full flushes; ``bound_ns``: the longest a
    CPU stays pending (deferred only; None: until its next mm switch). ``label`` is the
    name as the user wrote it, which keys the results (docs/model.md section 8).
    """

    remote: str
    batch: bool = False
    lazy: bool = False
    ceiling: int = DEFAULT_CEILING
    bound_ns: int | None = None
    label: str | None = None

    @property
    def base(self) -> str:
        """The name without parameters: ``deferred+batch``."""
        if self.remote == "none":
            return "none"
        return self.remote + ("+batch" if self.batch else "") + ("+lazy" if self.lazy else "")

    @property
    def name(self) -> str:
        """The name the results are keyed by: as written, else the canonical one."""
        if self.label is not None:
            return self.label
        out = self.base
        if self.bound_ns is not None:
            out += "@bound=" + format_ns(self.bound_ns)
        if self.ceiling != DEFAULT_CEILING:
            out += f"@ceiling={self.ceiling}"
        return out

    @property
    def variant(self) -> tuple[bool, bool]:
        """The page-state variant (batch, lazy) whose requests this strategy replays."""
        return self.batch, self.lazy

    @property
    def parameterised(self) -> bool:
        return self.bound_ns is not None or self.ceiling != DEFAULT_CEILING

    def with_params(self, *, ceiling: int | None = None,
                    bound_ns: int | None = None) -> Strategy:
        """This strategy with other parameters (and its canonical name)."""
        return Strategy(self.remote, self.batch, self.lazy,
                        self.ceiling if ceiling is None else ceiling,
                        self.bound_ns if bound_ns is None else bound_ns)

    def __str__(self) -> str:
        return self.name


def format_ns(ns: int) -> str:
    """The largest unit that writes ``ns`` exactly: 2000000 -> '2ms'."""
    for unit in ("s", "ms", "us"):
        if ns % UNITS[unit] == 0:
            return f"{ns // UNITS[unit]}{unit}"
    return f"{ns}ns"


def parse_duration(text: str, what: str = "bound") -> int:
    """'100us' -> 100000 ns: a positive integer and a unit (ns, us, ms, s), no decimals."""
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        raise UsageError(f"{what}={text!r}: expected a positive integer and a unit "
                         "(ns, us, ms or s) such as 100us, with no decimals")
    ns = int(m.group(1)) * UNITS[m.group(2)]
    if ns <= 0:
        raise UsageError(f"{what}={text!r}: must be positive")
    if ns > MAX_BOUND_NS:
        raise UsageError(f"{what}={text!r}: out of range (at most {MAX_BOUND_NS} ns)")
    return ns


def parse_ceiling(text: str) -> int:
    m = _INTEGER.fullmatch(text.strip())
    value = int(text) if m else -1
    if not 1 <= value <= MAX_CEILING:
        raise UsageError(f"ceiling={text!r}: expected an integer from 1 to {MAX_CEILING}")
    return value


def _all() -> tuple[Strategy, ...]:
    out = [Strategy("none")]
    for remote in ("sync", "deferred"):
        for batch, lazy in ((False, False), (True, False), (False, True), (True, True)):
            out.append(Strategy(remote, batch, lazy))
    return tuple(out)


ALL: tuple[Strategy, ...] = _all()
BY_NAME: dict[str, Strategy] = {s.name: s for s in ALL}
#: The series' own three strategies (sync IPIs, deferred, deferred with batched refills),
#: shown first.
SEED: tuple[str, ...] = ("sync", "deferred", "deferred+batch")
#: Display order: those three first, then the others in docs/model.md order.
DISPLAY_ORDER: tuple[str, ...] = (
    SEED + tuple(s.name for s in ALL if s.name not in (*SEED, "none")) + ("none",))


def parse_one(written: str) -> Strategy:
    """One strategy name, parameters included; errors name the offending part."""
    name = written.strip()
    base, *params = name.split("@")
    if base not in BY_NAME:
        raise UsageError(f"unknown strategy {base!r} in {name!r}; known: "
                         f"{', '.join(BY_NAME)} (parameters after @: bound=T, ceiling=C)")
    s = BY_NAME[base]
    if params and s.remote == "none":
        raise UsageError(f"{name!r}: 'none' takes no parameters")
    seen: dict[str, str] = {}
    for item in params:
        key, eq, value = item.partition("=")
        if key not in PARAMETERS or not eq:
            raise UsageError(f"{name!r}: unknown parameter {item!r}; known: "
                             "bound=T (deferred only, e.g. 2ms), ceiling=C (1 to 2^31-1)")
        if key in seen:
            raise UsageError(f"{name!r}: parameter {key!r} given twice")
        seen[key] = value
    ceiling = parse_ceiling(seen["ceiling"]) if "ceiling" in seen else DEFAULT_CEILING
    bound = None
    if "bound" in seen:
        if s.remote != "deferred":
            raise UsageError(f"{name!r}: bound applies to deferred strategies only")
        bound = parse_duration(seen["bound"])
    return Strategy(s.remote, s.batch, s.lazy, ceiling, bound, name if params else None)


#: What the API accepts wherever it takes strategies: a comma-separated string, one
#: ``Strategy``, or a sequence of names and ``Strategy`` objects (None: all nine).
StrategiesLike = str | Strategy | Sequence[str | Strategy] | None


def one(strategy: str | Strategy) -> Strategy:
    """A strategy given by name (parameters included) or as a ``Strategy``."""
    return strategy if isinstance(strategy, Strategy) else parse_one(strategy)


def parse(spec: StrategiesLike) -> list[Strategy]:
    """Strategies from a comma-separated list (``all`` or empty: all nine), a ``Strategy``,
    or a sequence of names and ``Strategy`` objects (repeats dropped)."""
    if isinstance(spec, Strategy):
        return [spec]
    if spec is None or (isinstance(spec, str) and spec.strip() in ("", "all")):
        return [BY_NAME[n] for n in DISPLAY_ORDER]
    items: Sequence[str | Strategy] = spec.split(",") if isinstance(spec, str) else spec
    by_name: dict[str, Strategy] = {}  # (in order: the first of a repeated name is kept)
    for item in items:
        if isinstance(item, str) and not item.strip():
            raise UsageError(f"empty strategy name in {spec!r}")
        s = one(item)
        by_name.setdefault(s.name, s)
    return list(by_name.values())
