"""Extension points.

Each kind of plugin (domains, source connectors, rule kinds, masking functions,
interface kinds, indicator functions, notification channels) has one registry backed by
a Python entry-point group ``gongshu.<kind>``. Built-in parts register through the same
entry points as a third-party package would, so a new connector or rule kind is one
module plus one line in its package's metadata, with no edits elsewhere.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def load_ref(ref: str) -> Any:
    """Import ``"package.module:attr"``."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class NavItem:
    title: str
    href: str
    roles: frozenset[str] | None = None  # None: every signed-in user
    icon: str = ""


@dataclass
class Domain:
    """A domain package's registration: what it adds to the app, CLI and demo.

    References are ``"module:attr"`` strings so registering a domain imports nothing.
    """

    name: str
    title: str
    order: int = 100
    models: str | None = None
    router: str | None = None
    pages: str | None = None
    cli: str | None = None
    demo: str | None = None
    demo_order: int = 100
    nav: list[NavItem] = field(default_factory=list)
    on_startup: str | None = None
    on_shutdown: str | None = None

    def import_models(self) -> None:
        if self.models:
            importlib.import_module(self.models)

    def load(self, attr: str) -> Any:
        ref = getattr(self, attr)
        return load_ref(ref) if ref else None


class Registry(Generic[T]):
    """Named plugins of one kind, loaded lazily from the entry-point group."""

    def __init__(self, kind: str) -> None:
        self.group = f"gongshu.{kind}"
        self._items: dict[str, T] | None = None

    def _load(self) -> dict[str, T]:
        if self._items is None:
            items: dict[str, T] = {}
            for ep in entry_points(group=self.group):
                items[ep.name] = ep.load()
            self._items = items
        return self._items

    def register(self, name: str, obj: T) -> T:
        self._load()[name] = obj
        return obj

    def get(self, name: str) -> T:
        try:
            return self._load()[name]
        except KeyError:
            raise KeyError(f"{self.group}: no plugin named {name!r}") from None

    def names(self) -> list[str]:
        return sorted(self._load())

    def items(self) -> Iterator[tuple[str, T]]:
        yield from sorted(self._load().items())

    def decorator(self, name: str) -> Callable[[T], T]:
        return lambda obj: self.register(name, obj)


@lru_cache
def domains() -> list[Domain]:
    found = [ep.load() for ep in entry_points(group="gongshu.domains")]
    return sorted(found, key=lambda d: (d.order, d.name))
