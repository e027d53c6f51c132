"""INSERT and UPDATE for model instances: one row, or many in batched statements."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from yara_orm.connection import connections
from yara_orm.exceptions import ValidationError
from yara_orm.transactions import in_transaction

if TYPE_CHECKING:
    from yara_orm.models.base import Model

# Keeps a batch's parameter count under SQLite's and PostgreSQL's limits.
MAX_PARAMS_PER_STATEMENT = 30_000


def _client(model: type[Model]) -> Any:
    return connections.get(model._meta.connection)


@contextlib.asynccontextmanager
async def _all_or_nothing(model: type[Model], statements: int) -> AsyncIterator[Any]:
    """The client to run a bulk write's statements on. More than one statement runs in a
    transaction (a savepoint inside one), so a failure or a cancellation part-way leaves
    nothing behind; one statement is atomic on its own."""
    if statements <= 1:
        yield _client(model)
        return
    async with in_transaction(model._meta.connection) as client:
        yield client


async def insert_instance(instance: Model) -> None:
    model = type(instance)
    meta = model._meta
    client = _client(model)
    dialect = client.dialect
    values = instance._validated_state()
    columns = ", ".join(dialect.quote(c) for c in values)
    marks = ", ".join(dialect.placeholder(i) for i in range(1, len(values) + 1))
    table = dialect.quote(meta.table)
    pk = meta.pk
    if values:
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
    else:
        sql = f"INSERT INTO {table} DEFAULT VALUES"
    sql += f" RETURNING {dialect.quote(pk.column)}"
    rows = await client.fetch(sql, list(values.values()))
    instance.__dict__[pk.name] = rows[0][0]
    instance._saved_in_db = True


async def update_instance(instance: Model, update_fields: list[str] | None) -> None:
    model = type(instance)
    meta = model._meta
    client = _client(model)
    dialect = client.dialect
    if update_fields is not None:
        # column_field raises FieldError naming an unknown field and listing the valid ones.
        names = [n for n in update_fields if meta.column_field(n) is not meta.pk]
        auto = [f.name for f in meta.columns if getattr(f, "auto_now", False)]
        names = list(dict.fromkeys([*names, *auto]))
    else:
        names = [f.name for f in meta.columns if f is not meta.pk]
    values = instance._validated_state(names)
    if not values:
        return
    assignments = ", ".join(
        f"{dialect.quote(column)} = {dialect.placeholder(i)}"
        for i, column in enumerate(values, start=1)
    )
    pk_mark = dialect.placeholder(len(values) + 1)
    sql = (
        f"UPDATE {dialect.quote(meta.table)} SET {assignments} "
        f"WHERE {dialect.quote(meta.pk.column)} = {pk_mark}"
    )
    await client.execute(sql, [*values.values(), meta.pk.to_db(instance.pk)])


async def bulk_create(
    model: type[Model], objects: list[Model], batch_size: int | None
) -> list[Model]:
    """Insert `objects` with one multi-row INSERT per batch, all or nothing; fills in their
    primary keys."""
    if not objects:
        return objects
    meta = model._meta
    for obj in objects:
        if type(obj) is not model:
            raise ValidationError(
                f"bulk_create on {model.__name__} got a {type(obj).__name__}",
                model=model.__name__,
            )
    dialect = _client(model).dialect
    rows = [obj._validated_state() for obj in objects]
    # Rows may differ in which generated columns they give: group by column set.
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(tuple(row), []).append(index)
    batches: list[tuple[tuple[str, ...], list[int]]] = []
    for columns, indexes in groups.items():
        size = batch_size or max(1, MAX_PARAMS_PER_STATEMENT // max(len(columns), 1))
        batches.extend(
            (columns, indexes[start : start + size]) for start in range(0, len(indexes), size)
        )
    table = dialect.quote(meta.table)
    pk = meta.pk
    keys: dict[int, Any] = {}
    async with _all_or_nothing(model, len(batches)) as client:
        for columns, chunk in batches:
            params: list[Any] = []
            tuples = []
            for index in chunk:
                marks = []
                for column in columns:
                    params.append(rows[index][column])
                    marks.append(dialect.placeholder(len(params)))
                tuples.append(f"({', '.join(marks)})")
            quoted = ", ".join(dialect.quote(c) for c in columns)
            sql = (
                f"INSERT INTO {table} ({quoted}) VALUES {', '.join(tuples)} "
                f"RETURNING {dialect.quote(pk.column)}"
            )
            returned = await client.fetch(sql, params)
            # Both backends return RETURNING rows in VALUES order for a plain INSERT.
            for index, (key,) in zip(chunk, returned, strict=True):
                keys[index] = key
    # Filled in only once every batch is in: a failed bulk write leaves the objects unsaved.
    for index, key in keys.items():
        objects[index].__dict__[pk.name] = key
        objects[index]._saved_in_db = True
    return objects


async def bulk_update(
    model: type[Model], objects: list[Model], fields: list[str], batch_size: int | None
) -> int:
    """Update `fields` of `objects` with one UPDATE ... CASE per batch, all or nothing."""
    if not objects or not fields:
        return 0
    meta = model._meta
    dialect = _client(model).dialect
    chosen = [meta.column_field(name) for name in fields]
    pk = meta.pk
    total = 0
    size = batch_size or max(1, MAX_PARAMS_PER_STATEMENT // (2 * len(chosen) + 1))
    chunks = [objects[start : start + size] for start in range(0, len(objects), size)]
    async with _all_or_nothing(model, len(chunks)) as client:
        for chunk in chunks:
            params: list[Any] = []
            assignments = []
            states = [obj._validated_state([f.name for f in chosen]) for obj in chunk]
            for field in chosen:
                cases = []
                for obj, state in zip(chunk, states, strict=True):
                    params.append(pk.to_db(obj.pk))
                    key_mark = dialect.placeholder(len(params))
                    params.append(state[field.column])
                    value_mark = dialect.typed_placeholder(len(params), field)
                    cases.append(f"WHEN {key_mark} THEN {value_mark}")
                column = dialect.quote(field.column)
                assignments.append(
                    f"{column} = CASE {dialect.quote(pk.column)} {' '.join(cases)} END"
                )
            keys = [pk.to_db(obj.pk) for obj in chunk]
            condition = dialect.in_list(dialect.quote(pk.column), keys, params)
            sql = (
                f"UPDATE {dialect.quote(meta.table)} SET {', '.join(assignments)} WHERE {condition}"
            )
            total += await client.execute(sql, params)
    return total
