"""`SqliteClient`: matches a yara-orm client connected to SQLite."""

from yara_orm.backends import client_kind

SqliteClient = client_kind(
    "SqliteClient", "sqlite", doc="A yara-orm DatabaseClient connected to SQLite."
)

__all__ = ["SqliteClient"]
