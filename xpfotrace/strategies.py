"""Strategy names (MODEL.md section 3): a remote mode plus the options batch and lazy."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UsageError


@dataclass(frozen=True, order=True)
class Strategy:
    """``remote`` is ``"sync"``, ``"deferred"`` or ``"none"`` (no XPFO at all)."""

    remote: str
    batch: bool = False
    lazy: bool = False

    @property
    def name(self) -> str:
        if self.remote == "none":
            return "none"
        return self.remote + ("+batch" if self.batch else "") + ("+lazy" if self.lazy else "")

    @property
    def variant(self) -> tuple[bool, bool]:
        """The page-state variant (batch, lazy) whose requests this strategy replays."""
        return self.batch, self.lazy

    def __str__(self) -> str:
        return self.name


def _all() -> tuple[Strategy, ...]:
    out = [Strategy("none")]
    for remote in ("sync", "deferred"):
        for batch, lazy in ((False, False), (True, False), (False, True), (True, True)):
            out.append(Strategy(remote, batch, lazy))
    return tuple(out)


ALL: tuple[Strategy, ...] = _all()
BY_NAME: dict[str, Strategy] = {s.name: s for s in ALL}
#: The seed's three rows, shown first in tables.
SEED: tuple[str, ...] = ("sync", "deferred", "deferred+batch")
#: Display order: the seed's rows first, then the others in MODEL.md order.
DISPLAY_ORDER: tuple[str, ...] = (
    SEED + tuple(s.name for s in ALL if s.name not in (*SEED, "none")) + ("none",))


def parse(spec: str | list[Strategy] | None) -> list[Strategy]:
    """Strategies from a comma-separated list (``all`` or empty: all nine), or as given."""
    if isinstance(spec, list):
        return spec
    if spec is None or spec.strip() in ("", "all"):
        return [BY_NAME[n] for n in DISPLAY_ORDER]
    out: list[Strategy] = []
    for raw in spec.split(","):
        name = raw.strip()
        if name not in BY_NAME:
            raise UsageError(f"unknown strategy {name!r}; known: {', '.join(BY_NAME)}")
        if BY_NAME[name] not in out:
            out.append(BY_NAME[name])
    return out
