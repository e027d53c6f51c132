"""SQL dialects, one module per backend."""

from yara_orm.dialects.base import Capabilities, Dialect
from yara_orm.dialects.postgres import PostgresDialect
from yara_orm.dialects.sqlite import SqliteDialect

DIALECTS: dict[str, Dialect] = {"postgres": PostgresDialect(), "sqlite": SqliteDialect()}

__all__ = ["DIALECTS", "Capabilities", "Dialect", "PostgresDialect", "SqliteDialect"]
