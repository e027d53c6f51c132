"""Tortoise's `tortoise.backends.asyncpg`: its default PostgreSQL client."""

from yara_orm.backends.asyncpg.client import AsyncpgDBClient

client_class = AsyncpgDBClient

__all__ = ["AsyncpgDBClient", "client_class"]
