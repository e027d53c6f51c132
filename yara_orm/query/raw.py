"""`Model.raw(sql)`: model instances from SQL written by hand."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from yara_orm.connection import connections, new_batch
from yara_orm.exceptions import FieldError
from yara_orm.router import router

if TYPE_CHECKING:
    from yara_orm.models.base import Model

M = TypeVar("M", bound="Model")


class RawQuery(Generic[M]):
    """Awaitable: the rows of `sql` as instances, matched to fields by column name (columns
    that are no field are set as plain attributes)."""

    def __init__(self, model: type[M], sql: str, using_db: Any = None) -> None:
        self.model = model
        self.sql = sql
        self.using_db = using_db

    async def _fetch(self) -> list[M]:
        client = self.using_db or connections.get(router.connection_for(self.model, write=False))
        names, rows = await client.fetch_with_columns(self.sql)
        meta = self.model._meta
        by_column = {f.column: f for f in meta.columns}
        by_column.update({f.name: f for f in meta.columns})
        missing = [f.column for f in meta.columns if f.column not in names and f.name not in names]
        if meta.pk.column not in names and meta.pk.name not in names:
            raise FieldError(
                f"{self.model.__name__}.raw(): the query must select the primary key "
                f"({meta.pk.column!r}); it selects {', '.join(names)}"
            )
        batch = new_batch(self.model.__name__, len(rows)) if len(rows) > 1 else None
        found = []
        for row in rows:
            instance = self.model.__new__(self.model)
            state = instance.__dict__
            for name, value in zip(names, row, strict=True):
                field = by_column.get(name)
                if field is None:
                    state[name] = value
                    continue
                key = field.attname if hasattr(field, "attname") else field.name
                state[key] = value if field.from_db is None else field.from_db(value)
            state["_saved_in_db"] = True
            state["_partial"] = bool(missing)
            if batch is not None:
                state["_batch"] = batch
            found.append(instance)
        return found

    def __await__(self) -> Generator[Any, None, list[M]]:
        return self._fetch().__await__()
