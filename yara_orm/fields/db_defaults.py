"""Defaults the database fills in (`db_default=`): a literal, or SQL such as `Now()`."""

from __future__ import annotations

from typing import ClassVar


class SqlDefault:
    """A SQL expression as a column's default, emitted as written: never from user input."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def get_sql(self, _context: object = None, dialect: str | None = None) -> str:
        return self.sql

    def __repr__(self) -> str:
        return f"SqlDefault({self.sql!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SqlDefault) and self.sql == other.sql

    def __hash__(self) -> int:
        return hash(self.sql)


class Now(SqlDefault):
    """The current timestamp, when the row is inserted."""

    def __init__(self) -> None:
        super().__init__("CURRENT_TIMESTAMP")

    def __repr__(self) -> str:
        return "Now()"


class RandomHex(SqlDefault):
    """32 random hexadecimal characters."""

    _BY_DIALECT: ClassVar[dict[str, str]] = {
        "sqlite": "(lower(hex(randomblob(16))))",
        "postgres": "md5(random()::text)",
    }

    def __init__(self) -> None:
        super().__init__(self._BY_DIALECT["postgres"])

    def get_sql(self, _context: object = None, dialect: str | None = None) -> str:
        return self._BY_DIALECT.get(dialect or "", self.sql)

    def __repr__(self) -> str:
        return "RandomHex()"
