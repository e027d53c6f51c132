"""What `YaraOrm.init` was asked for, in one shape whichever way it was said: Tortoise's
`config=` dict (or `config_file=`), `db_url=` with `modules=`, or yara-orm's own `models=` and
`connections_config=`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from yara_orm.exceptions import ConfigurationError

if TYPE_CHECKING:
    from yara_orm.models.base import Model

ModelSource = str | ModuleType | type["Model"]


@dataclass
class AppConfig:
    """One Tortoise "app": a label, its models, and the connection they use."""

    label: str
    models: list[ModelSource] | None  # None: every model defined so far
    default_connection: str = "default"


@dataclass
class OrmConfig:
    connections: dict[str, str]  # alias -> URL
    apps: list[AppConfig]
    use_tz: bool | None = None
    timezone: str | None = None
    routers: list[Any] = field(default_factory=list)


def redact_url(url: str) -> str:
    """`url` with its password replaced by `***`, for messages and reports."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    shown = f"{quote(user, safe='')}:***@{netloc[-1]}"
    return urlunsplit((parts.scheme, shown, parts.path, parts.query, parts.fragment))


def _postgres_url(credentials: Mapping[str, Any]) -> str:
    user = quote(str(credentials.get("user", "postgres")), safe="")
    password = credentials.get("password")
    login = f"{user}:{quote(str(password), safe='')}" if password else user
    host = str(credentials.get("host", "127.0.0.1"))
    port = credentials.get("port", 5432)
    database = quote(str(credentials.get("database", "postgres")), safe="")
    if host.startswith("/"):  # a socket directory
        return f"postgres://{login}@/{database}?host={quote(host, safe='')}&port={port}"
    return f"postgres://{login}@{host}:{port}/{database}"


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
        path = str(credentials.get("file_path", ":memory:"))
        return "sqlite://:memory:" if path == ":memory:" else f"sqlite:///{path}"
    if any(name in engine for name in ("asyncpg", "psycopg", "postgres")):
        return _postgres_url(credentials)
    raise ConfigurationError(
        f"connection {alias!r} uses engine {engine!r}; yara-orm supports PostgreSQL and SQLite"
    )


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
            AppConfig(
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
        apps = [AppConfig(str(label), list(mods)) for label, mods in modules.items()]
    else:
        apps = [AppConfig("models", None if models is None else list(models))]
    return OrmConfig(urls, apps)
