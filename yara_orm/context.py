"""Tortoise 1.x's `tortoise.context`: an async context in which the ORM is initialised, and
`yara_test_context(...)` (Tortoise's `tortoise_test_context`) for tests that set the ORM up
themselves (the `yara_testing` pytest plugin does this, and more, for you)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from yara_orm import timezone as time_settings
from yara_orm.connection import Connections, DatabaseClient, connections
from yara_orm.orm import YaraOrm, create_database_if_missing, drop_database
from yara_orm.router import router

if TYPE_CHECKING:
    from yara_orm.models.base import Model

_current: YaraContext | None = None


class YaraContext:
    """The ORM as initialised inside `async with YaraContext(): ...` (closed on exit). The
    ORM's state is process-wide: one context is active at a time."""

    def __init__(self) -> None:
        self._inited = False
        self._previous: YaraContext | None = None

    @property
    def connections(self) -> Connections:
        return connections

    @property
    def apps(self) -> dict[str, dict[str, type[Model]]]:
        return YaraOrm.apps  # type: ignore[no-any-return]

    @property
    def inited(self) -> bool:
        return self._inited

    @property
    def default_connection(self) -> str | None:
        names = connections.names()
        return "default" if "default" in names else (names[0] if names else None)

    async def init(self, *args: Any, **kwargs: Any) -> None:
        await YaraOrm.init(*args, **kwargs)
        self._inited = True

    async def generate_schemas(self, safe: bool = True) -> None:
        await YaraOrm.generate_schemas(safe=safe)

    def get_model(self, app_label: str, model_name: str) -> type[Model]:
        from yara_orm.exceptions import ConfigurationError

        try:
            return self.apps[app_label][model_name]
        except KeyError:
            raise ConfigurationError(
                f"No model with name '{model_name}' registered in app '{app_label}'."
            ) from None

    def db(self, connection_name: str | None = None) -> DatabaseClient:
        return connections.get(connection_name or self.default_connection or "default")

    async def close_connections(self) -> None:
        await YaraOrm.close()
        self._inited = False

    @property
    def routers(self) -> list[Any]:
        return list(router._routers)

    @property
    def use_tz(self) -> bool:
        return time_settings.get_use_tz()

    @property
    def timezone(self) -> str:
        return time_settings.get_timezone()

    def __enter__(self) -> YaraContext:
        """Make this the current context (closing is for `async with`)."""
        self._previous = _current
        set_global_context(self)
        return self

    def __exit__(self, *exc: object) -> None:
        global _current
        if _current is self:
            _current = self._previous

    async def __aenter__(self) -> YaraContext:
        set_global_context(self)
        return self

    async def __aexit__(self, *exc: object) -> None:
        global _current
        await self.close_connections()
        if _current is self:
            _current = None


def get_current_context() -> YaraContext | None:
    return _current


def set_global_context(ctx: YaraContext) -> None:
    global _current
    _current = ctx


def require_context() -> YaraContext:
    from yara_orm.exceptions import ConfigurationError

    if _current is None:
        raise ConfigurationError("no YaraContext is active: use `async with YaraContext():`")
    return _current


@contextlib.asynccontextmanager
async def yara_test_context(
    modules: list[str],
    db_url: str = "sqlite://:memory:",
    app_label: str = "models",
    *,
    connection_label: str | None = None,
    use_tz: bool = True,
    timezone: str = "UTC",
    routers: list[Any] | None = None,
) -> AsyncIterator[YaraContext]:
    """The ORM on a fresh database with `modules`' schema, closed on exit. A `{}` in a
    PostgreSQL URL's database name becomes a unique name: created here, dropped on exit."""
    created = None
    if "{}" in db_url:
        db_url = db_url.replace("{}", uuid.uuid4().hex[:12])
        created = db_url
    label = connection_label or "default"
    config = {
        "connections": {label: db_url},
        "apps": {app_label: {"models": list(modules), "default_connection": label}},
        "use_tz": use_tz,
        "timezone": timezone,
        "routers": list(routers or []),
    }
    ctx = YaraContext()
    async with ctx:
        if created is not None:
            await create_database_if_missing(created)
        try:
            await ctx.init(config=config)
            await ctx.generate_schemas(safe=False)
            yield ctx
        finally:
            await ctx.close_connections()
            if created is not None:
                await drop_database(created)


TortoiseContext = YaraContext
tortoise_test_context = yara_test_context

__all__ = [
    "TortoiseContext",
    "YaraContext",
    "get_current_context",
    "require_context",
    "set_global_context",
    "tortoise_test_context",
    "yara_test_context",
]
