"""Tortoise's `tortoise.backends.sqlite`."""

from yara_orm.backends.sqlite.client import SqliteClient

client_class = SqliteClient

__all__ = ["SqliteClient", "client_class"]
