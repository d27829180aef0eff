"""A cached attribute without a lock (see ``lazy``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class lazy(Generic[T]):
    """``functools.cached_property`` without its lock: Python 3.11 holds one lock per
    property for *all* instances, which would make the variants' threads wait for each
    other's frame masks. Two threads may both compute a value the first time; they get
    equal ones, and one is kept."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn, self.name, self.__doc__ = fn, fn.__name__, fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> lazy[T]: ...
    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | lazy[T]:
        if obj is None:
            return self
        value: T = self.fn(obj)
        obj.__dict__[self.name] = value  # found before this descriptor from now on
        return value
