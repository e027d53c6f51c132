"""Tortoise's `tortoise.backends` import paths. yara-orm has one client class,
`DatabaseClient`, on its own engine for every database; the per-driver names here are checks
against it (`isinstance(client, SqliteClient)` is true for a SQLite connection), so code that
imports or tests for them runs unchanged."""

from __future__ import annotations

from typing import Any

from yara_orm.connection import DatabaseClient


class _ClientKind(type):
    """`isinstance(client, Kind)`: a DatabaseClient whose dialect is one of `Kind.dialects`."""

    dialects: tuple[str, ...]

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, DatabaseClient) and instance.dialect.name in cls.dialects


def client_kind(name: str, *dialects: str, doc: str) -> type:
    return _ClientKind(name, (), {"dialects": dialects, "__doc__": doc})


__all__ = ["client_kind"]
