"""Indexes declared in `Meta.indexes`, as Tortoise's `Index` classes (a tuple of field names
is an index too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from yara_orm.exceptions import ConfigurationError


class Index:
    """An index over `fields` (model field names), optionally named."""

    def __init__(
        self, *expressions: Any, fields: Sequence[str] | None = None, name: str | None = None
    ) -> None:
        if expressions:
            raise ConfigurationError(
                "Index(...) takes field names as fields=[...]; expression indexes are not supported"
            )
        if not fields:
            raise ConfigurationError("Index(fields=[...]) needs at least one field")
        self.fields = tuple(fields)
        self.name = name

    def describe(self) -> dict[str, Any]:
        return {"type": type(self).__name__, "fields": list(self.fields), "name": self.name}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Index) and (type(other), other.fields, other.name) == (
            type(self),
            self.fields,
            self.name,
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.fields, self.name))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fields={list(self.fields)!r}, name={self.name!r})"


class PartialIndex(Index):
    """An index over the rows matching `condition` (a dict of field name to value)."""

    def __init__(
        self,
        *expressions: Any,
        fields: Sequence[str] | None = None,
        name: str | None = None,
        condition: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(*expressions, fields=fields, name=name)
        self.condition = dict(condition or {})


def as_index(entry: Index | Sequence[str]) -> Index:
    """`Meta.indexes` entries are Index objects or tuples of field names."""
    if isinstance(entry, Index):
        return entry
    if isinstance(entry, str):
        return Index(fields=[entry])
    return Index(fields=list(entry))
