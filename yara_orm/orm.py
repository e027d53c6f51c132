"""`YaraOrm`: initialise the ORM on one or more databases, create the schema, shut down.

A test toolkit can *redirect* initialisation (`redirect_init`): while it does, every
`YaraOrm.init(...)` the application makes binds the ORM to the toolkit's test databases, and
the URLs the application asked for are never connected to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from yara_orm import timezone as time_settings
from yara_orm._engine import Engine
from yara_orm.config import AppModels, ModelSource, OrmConfig, parse_init, split_pool_options
from yara_orm.connection import DatabaseClient, connections
from yara_orm.engine import connect
from yara_orm.exceptions import ConfigurationError
from yara_orm.models.registry import registry
from yara_orm.router import router
from yara_orm.schema import schema_sql, table_names

if TYPE_CHECKING:
    from yara_orm.models.base import Model


class InitRedirect(Protocol):
    """Where `YaraOrm.init` gets its engines while a test toolkit redirects it."""

    async def bind(self, config: OrmConfig, models: list[type[Model]]) -> dict[str, Engine] | None:
        """Engines for every alias in `config.connections` (lent: the ORM never closes them),
        or None to let this initialisation connect as asked."""

    async def generate_schemas(self, connection: str, models: list[type[Model]]) -> None:
        """What `generate_schemas()` does for a redirected connection."""


_redirect: InitRedirect | None = None


def redirect_init(redirect: InitRedirect | None) -> None:
    """Install (or, with None, remove) the redirection of `YaraOrm.init`."""
    global _redirect
    _redirect = redirect


def select_models(config: OrmConfig) -> list[type[Model]]:
    """The models of every app in `config`, each told its app label and connection."""
    chosen: list[type[Model]] = []
    for app in config.apps:
        for model in registry.select(app.models, app.label):
            model._meta.app = app.label
            model._meta.connection = model._meta.explicit_connection or app.default_connection
            chosen.append(model)
    return list(dict.fromkeys(chosen))


async def create_database_if_missing(url: str) -> None:
    """Create the PostgreSQL database `url` names, from the server's `postgres` database.
    (A SQLite file is created on first connection anyway.)"""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        return
    name = unquote(parts.path.lstrip("/")) or "postgres"
    admin = await connect(urlunsplit(parts._replace(path="/postgres")), max_size=1)
    try:
        rows = await admin.fetch_rows("SELECT 1 FROM pg_database WHERE datname = $1", [name])
        if not rows:
            await admin.execute_script('CREATE DATABASE "' + name.replace('"', '""') + '"')
    finally:
        await admin.close()


async def drop_database(url: str) -> None:
    """Drop the PostgreSQL database `url` names (a test's own), from the server's `postgres`."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        return
    name = unquote(parts.path.lstrip("/"))
    admin = await connect(urlunsplit(parts._replace(path="/postgres")), max_size=1)
    try:
        await admin.execute_script(
            'DROP DATABASE IF EXISTS "' + name.replace('"', '""') + '" WITH (FORCE)'
        )
    finally:
        await admin.close()


class _ClassProperty:
    """A read-only attribute of the class itself (`YaraOrm.apps`)."""

    def __init__(self, getter: Any) -> None:
        self.getter = getter

    def __get__(self, instance: object, owner: type) -> Any:
        return self.getter(owner)


def _apps(cls: type[YaraOrm]) -> dict[str, dict[str, type[Model]]]:
    apps: dict[str, dict[str, type[Model]]] = {}
    for model in cls.models:
        apps.setdefault(model._meta.app, {})[model.__name__] = model
    return apps


class YaraOrm:
    """The ORM's lifecycle. State is class-level, as in Tortoise ORM."""

    models: ClassVar[list[type[Model]]] = []
    config: ClassVar[OrmConfig | None] = None
    #: The initialised models by app label and class name (Tortoise's `Tortoise.apps`).
    apps: ClassVar[Any] = _ClassProperty(_apps)
    #: Whether `init()` has run and connections are open.
    _inited: ClassVar[Any] = _ClassProperty(lambda cls: bool(connections.names()))

    @classmethod
    async def init(
        cls,
        db_url: str | Mapping[str, Any] | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        config_file: str | None = None,
        modules: Mapping[str, Iterable[ModelSource]] | None = None,
        models: Iterable[ModelSource] | None = None,
        connections_config: Mapping[str, str] | None = None,
        use_tz: bool | None = None,
        timezone: str | None = None,
        routers: list[Any] | None = None,
        table_name_generator: Callable[[type[Model]], str] | None = None,
        _create_db: bool = False,
        **engine_options: Any,
    ) -> None:
        """Connect and register models.

        As Tortoise's `Tortoise.init`: `config=` (`{"connections": {alias: url}, "apps":
        {label: {"models": [...], "default_connection": alias}}}`), `config_file=` (JSON, or
        YAML with PyYAML), or `db_url=` with `modules={label: [modules]}`. Also `models=`
        (classes, modules or module names; default: every model defined so far) and
        `connections_config=` (further aliases to URLs). `_create_db=True` creates a missing
        PostgreSQL database first. `routers=` (or the config's "routers"): objects or classes
        with `db_for_read(model)` / `db_for_write(model)` naming the connection to use.
        `table_name_generator(model)` names the tables of models without `Meta.table`.
        """
        if isinstance(db_url, Mapping):  # Tortoise.init's first parameter is the config
            db_url, config = None, db_url
        orm_config = parse_init(config, config_file, db_url, modules, models, connections_config)
        if use_tz is not None:
            orm_config.use_tz = use_tz
        if timezone is not None:
            orm_config.timezone = timezone
        if routers is not None:
            orm_config.routers = list(routers)
        router.configure(orm_config.routers)
        # Each init sets both, as Tortoise's does: aware datetimes in UTC unless told otherwise.
        time_settings.configure(
            True if orm_config.use_tz is None else orm_config.use_tz,
            orm_config.timezone or "UTC",
        )
        chosen = cls.activate(orm_config, table_name_generator)
        await connections.reset()
        engines = None if _redirect is None else await _redirect.bind(orm_config, chosen)
        if engines is not None:
            for name, engine in engines.items():
                connections.register(name, engine, owned=False)
        else:
            for name, url in orm_config.connections.items():
                if _create_db:
                    await create_database_if_missing(url)
                url, url_options = split_pool_options(url)
                options = {**url_options, **engine_options}
                connections.register(name, await connect(url, **options))

    @classmethod
    def activate(
        cls,
        config: OrmConfig,
        table_name_generator: Callable[[type[Model]], str] | None = None,
    ) -> list[type[Model]]:
        """Select `config`'s models, name their tables, tell each its app and connection,
        resolve their relations; no connection is opened."""
        chosen = select_models(config)
        for model in chosen:  # every init decides afresh: the ORM's state is process-wide
            if model._meta.explicit_table is None:
                named = table_name_generator(model) if table_name_generator else None
                model._meta.table = named or model.__name__.lower()
        missing = {m._meta.connection for m in chosen} - set(config.connections)
        if missing:
            raise ConfigurationError(
                f"models use connections {sorted(missing)} that were not configured"
            )
        registry.activate(chosen)
        cls.models = chosen
        cls.config = config
        return chosen

    @classmethod
    def init_models(
        cls, models_paths: Iterable[ModelSource], app_label: str, _init_relations: bool = True
    ) -> None:
        """Register models (resolving their relations) without connecting to a database, as
        Tortoise's `init_models`: for building pydantic models or describing them early.
        Calls for several apps add up."""
        config = OrmConfig({}, [AppModels(app_label, list(models_paths))])
        chosen = select_models(config)
        models = list(dict.fromkeys([*cls.models, *chosen]))
        registry.activate(models)
        cls.models = models

    @classmethod
    def get_connection(cls, connection_name: str = "default") -> DatabaseClient:
        """The client for `connection_name` (Tortoise's; `connections.get` is the same)."""
        return connections.get(connection_name)

    @classmethod
    async def bind(cls, config: OrmConfig, engines: Mapping[str, Engine]) -> None:
        """Initialise on engines someone else opened and will close (the test toolkit's):
        `config`'s apps and aliases, each alias on the engine given for it."""
        cls.activate(config)
        await connections.reset()
        for name, engine in engines.items():
            connections.register(name, engine, owned=False)

    @classmethod
    def schema_statements(cls, connection: str = "default", safe: bool = True) -> list[str]:
        client = connections.base(connection)
        return schema_sql(cls.models_on(connection), client.dialect, safe)

    @classmethod
    def models_on(cls, connection: str = "default") -> list[type[Model]]:
        return [m for m in cls.models if m._meta.connection == connection]

    @classmethod
    def table_names(cls, connection: str = "default") -> list[str]:
        """The tables of the models on `connection`, referenced tables first."""
        return table_names(cls.models_on(connection))

    @classmethod
    async def generate_schemas(cls, safe: bool = True) -> None:
        """Create every table (and index, and join table); `safe` skips existing ones."""
        for name in connections.names():
            if _redirect is not None and connections.is_borrowed(name):
                await _redirect.generate_schemas(name, cls.models_on(name))
                continue
            client = connections.get(name)
            for statement in cls.schema_statements(name, safe):
                await client.execute_script(statement)

    @classmethod
    def describe_models(
        cls, models: list[type[Model]] | None = None, serializable: bool = True
    ) -> dict[str, Any]:
        """Every initialised model's description, by `app.Model`."""
        return {m._meta.full_name: m.describe(serializable) for m in models or cls.models}

    @classmethod
    async def close_connections(cls) -> None:
        """Close every connection the ORM opened (Tortoise's spelling)."""
        await connections.close_all()

    @classmethod
    async def close(cls) -> None:
        """Close the connections and forget the models (both stay while a test toolkit lends
        the engines: the application's shutdown inside a test must not unbind the ORM)."""
        await connections.close_all()
        if not connections.names():
            cls.models = []
            router.reset()


#: Tortoise's name for the ORM's lifecycle class: `from yara_orm import Tortoise` lets code
#: written for Tortoise run with only its imports changed.
Tortoise = YaraOrm
