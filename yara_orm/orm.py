"""`YaraOrm`: initialise the ORM on one or more databases, create the schema, shut down."""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from yara_orm.connection import connections
from yara_orm.engine import connect
from yara_orm.exceptions import ConfigurationError
from yara_orm.models.registry import registry
from yara_orm.schema import schema_sql, table_names

if TYPE_CHECKING:
    from yara_orm.models.base import Model


class YaraOrm:
    """The ORM's lifecycle. State is class-level, as in Tortoise ORM."""

    models: ClassVar[list[type[Model]]] = []

    @classmethod
    async def init(
        cls,
        db_url: str | None = None,
        *,
        models: Iterable[str | ModuleType | type[Model]] | None = None,
        connections_config: dict[str, str] | None = None,
        **engine_options: Any,
    ) -> None:
        """Connect and register models.

        `db_url` names the "default" connection; `connections_config` maps further names to
        URLs. Models are those defined (imported) so far, or only those in `models`
        (classes, modules or module names).
        """
        urls = dict(connections_config or {})
        if db_url is not None:
            urls["default"] = db_url
        if not urls:
            raise ConfigurationError("YaraOrm.init needs a db_url (or connections_config)")
        chosen = registry.select(models)
        registry.activate(chosen)
        if connections.names():
            await connections.close_all()
        for name, url in urls.items():
            connections.register(name, await connect(url, **engine_options))
        missing = {m._meta.connection for m in chosen} - set(urls)
        if missing:
            raise ConfigurationError(
                f"models use connections {sorted(missing)} that were not configured"
            )
        cls.models = chosen

    @classmethod
    def schema_statements(cls, connection: str = "default", safe: bool = True) -> list[str]:
        client = connections.base(connection)
        models = [m for m in cls.models if m._meta.connection == connection]
        return schema_sql(models, client.dialect, safe)

    @classmethod
    def table_names(cls, connection: str = "default") -> list[str]:
        """The tables of the models on `connection`, referenced tables first."""
        return table_names([m for m in cls.models if m._meta.connection == connection])

    @classmethod
    async def generate_schemas(cls, safe: bool = True) -> None:
        """Create every table (and index, and join table); `safe` skips existing ones."""
        for name in connections.names():
            client = connections.get(name)
            for statement in cls.schema_statements(name, safe):
                await client.execute_script(statement)

    @classmethod
    async def close(cls) -> None:
        await connections.close_all()
        cls.models = []
