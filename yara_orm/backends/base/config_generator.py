"""Tortoise's `expand_db_url` and `generate_config`: a database URL as the
`{"engine": ..., "credentials": {...}}` dict of a `config=`, and a whole config from a URL."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from yara_orm.exceptions import ConfigurationError

_POSTGRES_ENGINES = {
    "postgres": "yara_orm.backends.asyncpg",
    "postgresql": "yara_orm.backends.asyncpg",
    "asyncpg": "yara_orm.backends.asyncpg",
    "psycopg": "yara_orm.backends.psycopg",
}
# Query parameters that are numbers (the rest stay text).
_NUMBERS: dict[str, type] = {
    "min_size": int,
    "max_size": int,
    "minsize": int,
    "maxsize": int,
    "statement_cache_size": int,
    "timeout": float,
    "connect_timeout": float,
}


def _query(text: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        kind = _NUMBERS.get(key, str)
        try:
            params[key] = kind(value)
        except ValueError:
            raise ConfigurationError(
                f"URL parameter {key}={value!r} must be a {kind.__name__}"
            ) from None
    return params


def _unique(name: str) -> str:
    """`{}` in `name` (also written `\\{\\}`, as Tortoise's docs do) as a random hex string."""
    return name.replace("\\{", "{").replace("\\}", "}").replace("{}", uuid.uuid4().hex)


def expand_db_url(db_url: str, testing: bool = False) -> dict[str, Any]:
    """`db_url` as a connection dict. With `testing=True`, a `{}` in the database name (or
    SQLite file name) becomes a random one, so each test run gets a database of its own."""
    scheme, separator, rest = db_url.partition("://")
    if scheme == "sqlite" and separator:
        path, _, query = rest.partition("?")
        if not path:
            raise ConfigurationError("No path specified for DB_URL")
        if testing:
            path = _unique(path)
        # The engine's settings for a SQLite file (Tortoise's defaults too).
        settings = {"journal_mode": "WAL", "journal_size_limit": 16384}
        return {
            "engine": "yara_orm.backends.sqlite",
            "credentials": {"file_path": unquote(path), **settings, **_query(query)},
        }
    if not rest:
        raise ConfigurationError(f"{db_url!r} is not a database URL (scheme://...)")
    if scheme not in _POSTGRES_ENGINES:
        raise ConfigurationError(
            f"Unknown DB scheme: {scheme} (yara-orm supports postgres://, postgresql://, "
            "asyncpg://, psycopg:// and sqlite://)"
        )
    parts = urlsplit(db_url)
    database = unquote(parts.path[1:]) or None
    if testing and database:
        database = _unique(database)
    parameters = _query(parts.query)
    try:
        port = parts.port or int(parameters.pop("port", 5432))
    except ValueError:
        raise ConfigurationError("Port is not an integer") from None
    # What the URL's authority names wins; query parameters fill what it leaves out (a Unix
    # socket directory in ?host=, say).
    authority = {
        "host": parts.hostname,
        "user": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }
    credentials: dict[str, Any] = {**parameters, "port": port, "database": database}
    for key, value in authority.items():
        if value is not None or key not in credentials:
            credentials[key] = value
    return {"engine": _POSTGRES_ENGINES[scheme], "credentials": credentials}


def generate_config(
    db_url: str,
    app_modules: dict[str, Iterable[str | ModuleType]],
    connection_label: str | None = None,
    testing: bool = False,
) -> dict[str, Any]:
    """A whole `config=` for `YaraOrm.init`: one connection (`connection_label`, default
    "default") from `db_url`, and an app per entry of `app_modules`."""
    label = connection_label or "default"
    return {
        "connections": {label: expand_db_url(db_url, testing)},
        "apps": {
            app: {"models": list(modules), "default_connection": label}
            for app, modules in app_modules.items()
        },
    }


__all__ = ["expand_db_url", "generate_config"]
