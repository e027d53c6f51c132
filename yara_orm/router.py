"""Database routers, as Tortoise's `routers=`: objects with `db_for_read(model)` and/or
`db_for_write(model)` returning a connection name (or None to pass). The first router that
names a connection wins; otherwise a model uses its app's connection."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import ConfigurationError

if TYPE_CHECKING:
    from yara_orm.models.base import Model


class ConnectionRouter:
    def __init__(self) -> None:
        self._routers: list[Any] = []

    def configure(self, routers: list[Any]) -> None:
        """Routers given as classes (instantiated here), instances, or "module.Class" paths."""
        self._routers = [_instance(entry) for entry in routers]

    def reset(self) -> None:
        self._routers = []

    def connection_for(self, model: type[Model], write: bool) -> str:
        action = "db_for_write" if write else "db_for_read"
        for router in self._routers:
            method = getattr(router, action, None)
            if method is None:
                continue
            chosen = method(model)
            if chosen:
                return str(chosen)
        return model._meta.connection


def _instance(entry: Any) -> Any:
    if isinstance(entry, str):
        module_name, _, class_name = entry.rpartition(".")
        try:
            entry = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError) as error:
            raise ConfigurationError(f"router {entry!r} could not be imported: {error}") from None
    instance = entry() if isinstance(entry, type) else entry
    if not (hasattr(instance, "db_for_read") or hasattr(instance, "db_for_write")):
        raise ConfigurationError(
            f"router {type(instance).__name__} has neither db_for_read nor db_for_write"
        )
    return instance


#: The process's routers, set by `YaraOrm.init(routers=...)` (or a config's "routers").
router = ConnectionRouter()

__all__ = ["ConnectionRouter", "router"]
