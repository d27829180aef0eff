"""Hardware profiles (docs/model.md section 7): shipped TOML data and user profile files."""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.errors import InputError, UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PARAMS: tuple[str, ...] = ("invlpg_ns", "flush_call_ns", "full_flush_ns", "pte_write_ns",
                           "cacheline_ns", "ipi_base_ns", "ipi_per_target_ns", "ipi_recv_ns",
                           "broadcast_invalidate")
#: The cost parameters in ns (all but broadcast_invalidate).
NUMERIC: tuple[str, ...] = PARAMS[:-1]
#: The most CPUs a Linux kernel can be built for (NR_CPUS; x86 MAXSMP, powerpc): a profile
#: of more is a mistake, not a machine (and would take hours to project onto).
MAX_PROFILE_CPUS = 8192

Notice = Callable[[str], None]


class ProfileOverride(UserWarning):
    """A profile file redefines a profile of the same name (the later one is used)."""


@dataclass(frozen=True)
class Profile:
    """A machine: its CPU count and the cost parameters of TLB flushing on it (ns)."""

    name: str
    cpus: int
    invlpg_ns: int
    flush_call_ns: int
    full_flush_ns: int
    pte_write_ns: int
    cacheline_ns: int
    ipi_base_ns: int
    ipi_per_target_ns: int
    ipi_recv_ns: int
    broadcast_invalidate: bool
    description: str = ""
    sources: tuple[dict[str, str], ...] = field(default=(), compare=False)
    #: where it was defined (a user file, or xpfotrace/costing/profiles/NAME.toml)
    origin: str = field(default="", compare=False)

    def params(self) -> dict[str, int | bool]:
        return {p: getattr(self, p) for p in PARAMS}

    def scaled(self, param: str, factor: float) -> Profile:
        """This profile with one cost parameter multiplied by ``factor`` (rounded to
        whole ns), for ``compare --sensitivity``."""
        if param not in NUMERIC:
            raise UsageError(f"{param!r} is not a cost parameter; known: {', '.join(NUMERIC)}")
        return replace(self, **{param: round(getattr(self, param) * factor)})

    def to_dict(self) -> dict[str, Any]:
        """The object ``xpfotrace profiles --json`` prints."""
        return {"name": self.name, "cpus": self.cpus, "params": self.params(),
                "sources": list(self.sources), "description": self.description}


def parse_profile(data: dict[str, Any], origin: str) -> Profile:
    """Validate one profile table; errors name the field."""
    def need(key: str) -> Any:
        if key not in data:
            raise InputError(origin, f"profile is missing field {key!r}")
        return data[key]

    name = need("name")
    if not isinstance(name, str) or not name:
        raise InputError(origin, "profile field 'name' must be a non-empty string")
    cpus = need("cpus")
    if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < 1:
        raise InputError(origin, f"profile {name!r}: field 'cpus' must be a positive integer")
    if cpus > MAX_PROFILE_CPUS:
        raise InputError(origin, f"profile {name!r}: field 'cpus' must be at most "
                         f"{MAX_PROFILE_CPUS} "
                         "(the most CPUs a Linux kernel supports)")
    values: dict[str, Any] = {}
    for key in NUMERIC:
        v = need(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InputError(origin, f"profile {name!r}: field {key!r} must be a number")
        if isinstance(v, float) and not math.isfinite(v):
            raise InputError(origin, f"profile {name!r}: field {key!r} must be a finite "
                             f"number, not {v}")
        if v < 0:
            raise InputError(origin, f"profile {name!r}: field {key!r} must not be negative")
        if v != int(v):
            raise InputError(origin, f"profile {name!r}: field {key!r} must be whole ns")
        values[key] = int(v)
    bcast = need("broadcast_invalidate")
    if not isinstance(bcast, bool):
        raise InputError(origin, f"profile {name!r}: field 'broadcast_invalidate' must be "
                         "true or false")
    sources = data.get("sources", [])
    if not isinstance(sources, list):
        raise InputError(origin, f"profile {name!r}: field 'sources' must be a list")
    srcs = tuple({str(k): str(v) for k, v in s.items()} if isinstance(s, dict)
                 else {"source": str(s)} for s in sources)
    return Profile(name=name, cpus=cpus, broadcast_invalidate=bcast,
                   description=str(data.get("description", "")), sources=srcs, origin=origin,
                   **values)


def _read_toml(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(origin, f"not valid TOML ({exc})") from None


def builtin_profiles() -> list[Profile]:
    """The profiles shipped with xpfotrace, sorted by CPU count."""
    out = []
    for entry in resources.files("xpfotrace.costing.profiles").iterdir():
        if entry.name.endswith(".toml"):
            origin = f"xpfotrace/costing/profiles/{entry.name}"
            out.append(parse_profile(_read_toml(entry.read_text(), origin), origin))
    return sorted(out, key=lambda p: (p.cpus, p.name))


def load_profile_file(path: str) -> list[Profile]:
    """A user file: one profile at the top level, or several as ``[[profile]]`` tables."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read profile file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, "profile file is not valid UTF-8 text",
                         offset=exc.start) from None
    data = _read_toml(text.removeprefix("\ufeff"), path)
    tables = data["profile"] if isinstance(data.get("profile"), list) else [data]
    for t in tables:
        if not isinstance(t, dict):
            raise InputError(path, "each [[profile]] must be a table")
    return [parse_profile(t, path) for t in tables]


def _warn_notice(text: str) -> None:
    warnings.warn(text, ProfileOverride, stacklevel=3)


def all_profiles(extra: list[Profile] | None = None,
                 notice: Notice | None = None) -> list[Profile]:
    """The user's profiles (``extra``) and the shipped ones; a user profile of a shipped
    profile's name replaces it (as a later user profile of the same name replaces an
    earlier one), with a ``notice`` (default: a :class:`ProfileOverride` warning)."""
    tell = notice or _warn_notice
    shipped = builtin_profiles()
    chosen: dict[str, Profile] = {}
    for p in extra or []:
        if p.name in chosen:
            tell(f"profile {p.name!r} of {p.origin or 'a profile file'} replaces the one of "
                 f"{chosen[p.name].origin or 'an earlier profile file'}")
        chosen[p.name] = p
    for p in shipped:
        if p.name in chosen:
            tell(f"profile {p.name!r} of {chosen[p.name].origin or 'a profile file'} "
                 "replaces the shipped one")
    return list(chosen.values()) + [p for p in shipped if p.name not in chosen]


def find_profiles(names: list[str], extra: list[Profile] | None = None,
                  notice: Notice | None = None) -> list[Profile]:
    """Profiles by exact name, else by unique case-insensitive substring (e.g. '8160');
    the user's profiles (``extra``) take precedence over shipped ones of the same name
    (see :func:`all_profiles`)."""
    pool = all_profiles(extra, notice)
    out: list[Profile] = []
    for want in names:
        exact = [p for p in pool if p.name == want]
        hits = exact or [p for p in pool if want.lower() in p.name.lower()]
        if not hits:
            raise UsageError(f"unknown profile {want!r}; known: "
                             + ", ".join(sorted(p.name for p in pool)))
        if len(hits) > 1:
            raise UsageError(f"profile {want!r} is ambiguous: "
                             + ", ".join(p.name for p in hits))
        out.append(hits[0])
    return out
