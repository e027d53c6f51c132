"""The generated schema, as tests read it."""

from __future__ import annotations

from yara_orm import YaraOrm


def create_table(table: str) -> str:
    """The CREATE TABLE statement of `table` on the default connection."""
    head = f'CREATE TABLE IF NOT EXISTS "{table}" ('
    (statement,) = [sql for sql in YaraOrm.schema_statements() if sql.startswith(head)]
    return statement


def create_indexes(table: str) -> list[str]:
    """The CREATE INDEX statements on `table`."""
    return [
        sql
        for sql in YaraOrm.schema_statements()
        if sql.startswith("CREATE INDEX") and f' ON "{table}" (' in sql
    ]
