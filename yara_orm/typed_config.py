"""Tortoise 1.x's typed configuration (`tortoise.config`): `YaraConfig` (Tortoise's
`TortoiseConfig`) of `ConnectionConfig` / `DBUrlConfig` and `AppConfig` values, checked when
built, and equal to the dict `config=` takes (`to_dict()` / `from_dict()`). `YaraOrm.init`
takes either form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from yara_orm.exceptions import ConfigurationError


def _text(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{what} must be a non-empty string, not {value!r}")


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{what} must be a mapping, not {type(value).__name__}")
    return value


@dataclass(frozen=True)
class DBUrlConfig:
    """A connection given as a URL."""

    url: str

    def __post_init__(self) -> None:
        _text(self.url, "DBUrlConfig.url")

    def to_config(self) -> str:
        return self.url


@dataclass(frozen=True)
class ConnectionConfig:
    """A connection given as `engine` and `credentials`, or as `db_url`."""

    engine: str | None = None
    credentials: dict[str, Any] = field(default_factory=dict)
    db_url: str | None = None

    def __post_init__(self) -> None:
        if self.db_url is not None:
            if self.engine is not None or self.credentials:
                raise ConfigurationError(
                    "ConnectionConfig takes db_url, or engine and credentials, not both"
                )
            _text(self.db_url, "ConnectionConfig.db_url")
            return
        _text(self.engine, "ConnectionConfig.engine")
        _mapping(self.credentials, "ConnectionConfig.credentials")

    def to_config(self) -> str | dict[str, Any]:
        if self.db_url is not None:
            return self.db_url
        return {"engine": self.engine, "credentials": dict(self.credentials)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = _mapping(data, "ConnectionConfig")
        credentials = _mapping(data.get("credentials", {}), "ConnectionConfig.credentials")
        return cls(data.get("engine"), dict(credentials), data.get("db_url"))


@dataclass(frozen=True)
class AppConfig:
    """An app: its model modules and the connection they use."""

    models: list[str]
    default_connection: str | None = None
    migrations: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.models, list) or not self.models:
            raise ConfigurationError("AppConfig.models must be a non-empty list of module names")
        for module in self.models:
            _text(module, "each of AppConfig.models")
        for name in ("default_connection", "migrations"):
            value = getattr(self, name)
            if value is not None:
                _text(value, f"AppConfig.{name}")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"models": list(self.models)}
        if self.default_connection is not None:
            data["default_connection"] = self.default_connection
        if self.migrations is not None:
            data["migrations"] = self.migrations
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = _mapping(data, "AppConfig")
        if "models" not in data:
            raise ConfigurationError('AppConfig requires "models"')
        if not isinstance(data["models"], list):
            raise ConfigurationError("AppConfig.models must be a list of module names")
        return cls(list(data["models"]), data.get("default_connection"), data.get("migrations"))


@dataclass(frozen=True)
class YaraConfig:
    """The whole configuration: connections by name, apps by label, and settings."""

    connections: dict[str, ConnectionConfig | DBUrlConfig]
    apps: dict[str, AppConfig]
    routers: list[str | type] | None = None
    use_tz: bool | None = None
    timezone: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.connections, dict) or not self.connections:
            raise ConfigurationError("connections must be a non-empty dict")
        for name, connection in self.connections.items():
            _text(name, "a connection name")
            if not isinstance(connection, ConnectionConfig | DBUrlConfig):
                raise ConfigurationError(
                    f"connection {name!r} must be a ConnectionConfig or DBUrlConfig"
                )
        if not isinstance(self.apps, dict) or not self.apps:
            raise ConfigurationError("apps must be a non-empty dict")
        for label, app in self.apps.items():
            _text(label, "an app label")
            if not isinstance(app, AppConfig):
                raise ConfigurationError(f"app {label!r} must be an AppConfig")
            if app.default_connection and app.default_connection not in self.connections:
                raise ConfigurationError(
                    f"app {label!r} refers to unknown connection {app.default_connection!r}; "
                    f"configured: {', '.join(self.connections)}"
                )
        if self.routers is not None and not isinstance(self.routers, list):
            raise ConfigurationError("routers must be a list or None")
        if self.use_tz is not None and not isinstance(self.use_tz, bool):
            raise ConfigurationError("use_tz must be a bool or None")
        if self.timezone is not None:
            _text(self.timezone, "timezone")

    def to_dict(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "connections": {name: c.to_config() for name, c in self.connections.items()},
            "apps": {label: app.to_dict() for label, app in self.apps.items()},
        }
        for name in ("routers", "use_tz", "timezone"):
            if getattr(self, name) is not None:
                config[name] = getattr(self, name)
        return config

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        data = _mapping(data, "the configuration")
        for section in ("connections", "apps"):
            if section not in data:
                raise ConfigurationError(f'the configuration must define "{section}"')
        connections: dict[str, ConnectionConfig | DBUrlConfig] = {}
        for name, value in _mapping(data["connections"], '"connections"').items():
            if isinstance(value, str):
                connections[name] = DBUrlConfig(value)
            else:
                connections[name] = ConnectionConfig.from_dict(value)
        apps = {
            label: AppConfig.from_dict(app)
            for label, app in _mapping(data["apps"], '"apps"').items()
        }
        return cls(connections, apps, data.get("routers"), data.get("use_tz"), data.get("timezone"))


TortoiseConfig = YaraConfig

__all__ = ["AppConfig", "ConnectionConfig", "DBUrlConfig", "TortoiseConfig", "YaraConfig"]
