"""What `YaraOrm.init` was asked for, in one shape whichever way it was said: Tortoise's
`config=` dict (or `config_file=`), `db_url=` with `modules=`, or yara-orm's own `models=` and
`connections_config=`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from yara_orm.exceptions import ConfigurationError

# Tortoise's typed configuration lives at this import path too (`from ... config import ...`).
from yara_orm.typed_config import (
    AppConfig,
    ConnectionConfig,
    DBUrlConfig,
    TortoiseConfig,
    YaraConfig,
)

if TYPE_CHECKING:
    from yara_orm.models.base import Model

ModelSource = str | ModuleType | type["Model"]


@dataclass
class AppModels:
    """One Tortoise "app": a label, its models, and the connection they use."""

    label: str
    models: list[ModelSource] | None  # None: every model defined so far
    default_connection: str = "default"


@dataclass
class OrmConfig:
    connections: dict[str, str]  # alias -> URL
    apps: list[AppModels]
    use_tz: bool | None = None
    timezone: str | None = None
    routers: list[Any] = field(default_factory=list)


def redact_url(url: str) -> str:
    """`url` with its password (user info or `password=` query parameter) replaced by `***`,
    for messages and reports."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user = parts.username or ""
        netloc = f"{quote(user, safe='')}:***@{netloc.rsplit('@', 1)[-1]}"
    query = re.sub(r"(?i)(^|&)(password=)[^&]*", r"\1\2***", parts.query)
    if netloc == parts.netloc and query == parts.query:
        return url  # nothing to hide; urlunsplit would also drop `sqlite:///`'s empty host
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _postgres_url(credentials: Mapping[str, Any]) -> str:
    user = quote(str(credentials.get("user") or "postgres"), safe="")
    password = credentials.get("password")
    login = f"{user}:{quote(str(password), safe='')}" if password else user
    host = str(credentials.get("host") or "127.0.0.1")
    port = credentials.get("port") or 5432
    database = quote(str(credentials.get("database") or "postgres"), safe="")
    pool = {key: credentials[key] for key in _POOL_PARAMETERS if key in credentials}
    pool.update(_session_parameters(credentials))
    if host.startswith("/"):  # a socket directory
        query = urlencode({"host": host, "port": port, **pool})
        return f"postgres://{login}@/{database}?{query}"
    query = f"?{urlencode(pool)}" if pool else ""
    return f"postgres://{login}@{host}:{port}/{database}{query}"


# Credentials Tortoise passes to asyncpg's pool that tune only its own pool: no meaning here.
_ASYNCPG_POOL_ONLY = {"max_queries", "max_inactive_connection_lifetime", "connection_class"}
_CONNECTION_KEYS = {"user", "password", "host", "port", "database", "file_path"}


def _session_parameters(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """The credentials that shape the session (application_name, server settings, schema,
    sslmode) as URL parameters; anything else is refused rather than dropped."""
    parameters: dict[str, Any] = {}
    settings = dict(credentials.get("server_settings") or {})
    if credentials.get("schema"):
        settings["search_path"] = credentials["schema"]
    if settings:
        parameters["options"] = " ".join(f"-c {key}={value}" for key, value in settings.items())
    for key in ("application_name", "sslmode"):
        if credentials.get(key) is not None:
            parameters[key] = credentials[key]
    if credentials.get("ssl"):
        raise ConfigurationError(
            "credentials ask for ssl, which this build of yara-orm does not include"
        )
    known = {*_CONNECTION_KEYS, *_POOL_PARAMETERS, *_ASYNCPG_POOL_ONLY}
    known |= {"server_settings", "schema", "ssl", "application_name", "sslmode"}
    unknown = sorted(set(credentials) - known)
    if unknown:
        raise ConfigurationError(
            f"unknown PostgreSQL credentials {', '.join(unknown)}; "
            f"known: {', '.join(sorted(known))}"
        )
    return parameters


def connection_url(alias: str, value: Any) -> str:
    """A connection given as a URL or as Tortoise's `{"engine": ..., "credentials": ...}`."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping) or "engine" not in value:
        raise ConfigurationError(
            f"connection {alias!r} must be a URL or a dict with 'engine' and 'credentials', "
            f"not {value!r}"
        )
    engine = str(value["engine"])
    credentials = value.get("credentials") or {}
    if "sqlite" in engine:
        path = str(credentials.get("file_path") or ":memory:")
        # sqlite://relative.db and sqlite:///absolute.db, as the engine reads them.
        return f"sqlite://{quote(path, safe='/:')}"
    if any(name in engine for name in ("asyncpg", "psycopg", "postgres")):
        return _postgres_url(credentials)
    raise ConfigurationError(
        f"connection {alias!r} uses engine {engine!r}; yara-orm supports PostgreSQL and SQLite"
    )


# Pool settings Tortoise users put in the URL's query (asyncpg's and aiomysql's spellings),
# as `connect()` keyword arguments.
_POOL_PARAMETERS: dict[str, tuple[str, type]] = {
    "min_size": ("min_size", int),
    "minsize": ("min_size", int),
    "max_size": ("max_size", int),
    "maxsize": ("max_size", int),
    "timeout": ("connect_timeout", float),
    "connect_timeout": ("connect_timeout", float),
    "statement_cache_size": ("statement_cache", int),
}


def split_pool_options(url: str) -> tuple[str, dict[str, Any]]:
    """`url` without the pool settings in its query, and those settings as `connect()`
    keyword arguments (`?max_size=20` as Tortoise's asyncpg URLs say it)."""
    parts = urlsplit(url)
    if not parts.query:
        return url, {}
    kept, options = [], {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key not in _POOL_PARAMETERS:
            kept.append((key, value))
            continue
        name, kind = _POOL_PARAMETERS[key]
        try:
            number = kind(value)
        except ValueError:
            raise ConfigurationError(
                f"URL parameter {key}={value!r} must be a {kind.__name__}"
            ) from None
        options[name] = bool(number) if name == "statement_cache" else number
    return urlunsplit(parts._replace(query=urlencode(kept))), options


def _read_config_file(path: str) -> dict[str, Any]:
    text = Path(path).read_text()
    if path.endswith((".yml", ".yaml")):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise ConfigurationError(f"{path} is YAML: install PyYAML to read it") from None
        loaded = yaml.safe_load(text)
    else:
        loaded = json.loads(text)
    if not isinstance(loaded, dict):
        raise ConfigurationError(f"{path} must hold a mapping with 'connections' and 'apps'")
    return loaded


def _from_dict(config: Mapping[str, Any]) -> OrmConfig:
    if "connections" not in config or "apps" not in config:
        raise ConfigurationError(
            "config must have 'connections' (alias to URL) and 'apps' (label to models); "
            f"it has: {', '.join(map(str, config)) or 'nothing'}"
        )
    connections = {
        str(alias): connection_url(str(alias), value)
        for alias, value in dict(config["connections"]).items()
    }
    apps = []
    for label, app in dict(config["apps"]).items():
        if not isinstance(app, Mapping) or "models" not in app:
            raise ConfigurationError(f"app {label!r} must be a dict with a 'models' list")
        apps.append(
            AppModels(
                str(label),
                list(app["models"]),
                str(app.get("default_connection", "default")),
            )
        )
    settings = config.get("use_tz"), config.get("timezone")
    return OrmConfig(
        connections,
        apps,
        use_tz=None if settings[0] is None else bool(settings[0]),
        timezone=settings[1],
        routers=list(config.get("routers") or []),
    )


def parse_init(
    config: Mapping[str, Any] | None,
    config_file: str | None,
    db_url: str | None,
    modules: Mapping[str, Iterable[ModelSource]] | None,
    models: Iterable[ModelSource] | None,
    connections_config: Mapping[str, str] | None,
) -> OrmConfig:
    given = [
        name
        for name, value in (("config", config), ("config_file", config_file), ("db_url", db_url))
        if value is not None
    ]
    if len(given) > 1:
        raise ConfigurationError(
            f"YaraOrm.init takes one of config, config_file or db_url; got {', '.join(given)}"
        )
    if config_file is not None:
        return _from_dict(_read_config_file(config_file))
    if isinstance(config, YaraConfig):
        return _from_dict(config.to_dict())
    if config is not None:
        return _from_dict(config)
    urls = {str(alias): str(url) for alias, url in (connections_config or {}).items()}
    if db_url is not None:
        urls["default"] = db_url
    if not urls:
        raise ConfigurationError(
            "YaraOrm.init needs a db_url (or config, config_file, connections_config)"
        )
    if modules is not None:
        if models is not None:
            raise ConfigurationError("YaraOrm.init takes modules= or models=, not both")
        apps = [AppModels(str(label), list(mods)) for label, mods in modules.items()]
    else:
        apps = [AppModels("models", None if models is None else list(models))]
    return OrmConfig(urls, apps)


__all__ = [
    "AppConfig",
    "AppModels",
    "ConnectionConfig",
    "DBUrlConfig",
    "ModelSource",
    "OrmConfig",
    "TortoiseConfig",
    "YaraConfig",
    "connection_url",
    "parse_init",
    "redact_url",
    "split_pool_options",
]
