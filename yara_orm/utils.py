"""Tortoise's `tortoise.utils` helpers: the schema SQL of a connection's models, and creating
it."""

from __future__ import annotations

from yara_orm.connection import DatabaseClient
from yara_orm.orm import YaraOrm


def get_schema_sql(client: DatabaseClient, safe: bool) -> str:
    """The CREATE statements for the models on `client`'s connection, as one script."""
    return ";\n".join(YaraOrm.schema_statements(client.name, safe)) + ";"


async def generate_schema_for_client(client: DatabaseClient, safe: bool) -> None:
    """Create the tables of the models on `client`'s connection."""
    await client.execute_script(get_schema_sql(client, safe))


__all__ = ["generate_schema_for_client", "get_schema_sql"]
