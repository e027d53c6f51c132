"""`AsyncpgDBClient`: matches a yara-orm client connected to PostgreSQL (whose SQL uses `$n`
placeholders, as asyncpg's does)."""

from yara_orm.backends import client_kind

AsyncpgDBClient = client_kind(
    "AsyncpgDBClient", "postgres", doc="A yara-orm DatabaseClient connected to PostgreSQL."
)

__all__ = ["AsyncpgDBClient"]
