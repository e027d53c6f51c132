"""INSERT and UPDATE for model instances: one row, or many in batched statements."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from itertools import chain
from types import NoneType
from typing import TYPE_CHECKING, Any

from yara_orm.connection import connections
from yara_orm.exceptions import OperationalError, ParamsError, ValidationError
from yara_orm.fields.base import DatabaseDefault
from yara_orm.fields.relations import cache_key
from yara_orm.models.meta import attname
from yara_orm.query.compiler import Compiler
from yara_orm.query.expressions import Expression
from yara_orm.router import router
from yara_orm.transactions import in_transaction

if TYPE_CHECKING:
    from yara_orm.dialects.base import Dialect
    from yara_orm.fields.base import Field
    from yara_orm.models.base import Model
    from yara_orm.models.meta import MetaInfo

# Values `_validated_state` does not pass on as they are.
SPECIAL_VALUES = (DatabaseDefault, Expression)

# Keeps a batch's parameter count under SQLite's and PostgreSQL's limits.
MAX_PARAMS_PER_STATEMENT = 30_000


def _client(model: type[Model], using_db: Any = None) -> Any:
    if using_db is not None:
        return using_db
    return connections.get(router.connection_for(model, write=True))


@contextlib.asynccontextmanager
async def _all_or_nothing(
    model: type[Model], statements: int, using_db: Any = None
) -> AsyncIterator[Any]:
    """The client to run a bulk write's statements on. More than one statement runs in a
    transaction (a savepoint inside one), so a failure or a cancellation part-way leaves
    nothing behind; one statement is atomic on its own."""
    client = _client(model, using_db)
    if statements <= 1:
        yield client
        return
    if using_db is not None and getattr(using_db, "in_transaction", False):
        # Already in the caller's transaction: a savepoint inside it.
        from yara_orm.transactions import savepoint

        async with savepoint(using_db):
            yield client
        return
    async with in_transaction(router.connection_for(model, write=True)) as client:
        yield client


async def insert_instance(instance: Model, using_db: Any = None) -> None:
    """INSERT one instance; the primary key and the values the database filled in
    (db_default) are read back with RETURNING."""
    model = type(instance)
    meta = model._meta
    client = _client(model, using_db)
    dialect = client.dialect
    values = instance._validated_state()
    columns = ", ".join(dialect.quote(c) for c in values)
    marks = ", ".join(dialect.placeholder(i) for i in range(1, len(values) + 1))
    table = dialect.quote(meta.table)
    if values:
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
    else:
        sql = f"INSERT INTO {table} DEFAULT VALUES"
    returned = [meta.pk]
    if meta.fetch_db_defaults:
        returned += [
            f
            for f in meta.columns
            if f.has_db_default() and f is not meta.pk and f.column not in values
        ]
    sql += " RETURNING " + ", ".join(dialect.quote(f.column) for f in returned)
    rows = await client.fetch(sql, list(values.values()))
    state = instance.__dict__
    for field, value in zip(returned, rows[0], strict=True):
        state[attname(field)] = value if field.from_db is None else field.from_db(value)
    instance._saved_in_db = True


async def update_instance(
    instance: Model, update_fields: list[str] | None, using_db: Any = None
) -> int:
    """UPDATE one instance's columns (or `update_fields`); the number of rows changed. A field
    holding an expression (`obj.n = F("n") + 1`) is computed by the database."""
    model = type(instance)
    meta = model._meta
    client = _client(model, using_db)
    dialect = client.dialect
    if update_fields is not None:
        # column_field raises FieldError naming an unknown field and listing the valid ones.
        if any(meta.column_field(n) is meta.pk for n in update_fields):
            raise OperationalError(
                f"Can't update pk field, use `{model.__name__}.create` instead. (To insert a "
                f"copy, set pk to None or use clone(), then save().)"
            )
        names = list(update_fields)
        auto = [f.name for f in meta.columns if getattr(f, "auto_now", False)]
        names = list(dict.fromkeys([*names, *auto]))
    else:
        names = [f.name for f in meta.columns if f is not meta.pk]
    values = instance._validated_state(names)
    if not values:
        return 0
    compiler = Compiler(model, dialect)
    compiler.base_alias = dialect.quote(meta.table)
    assignments = []
    for column, value in values.items():
        target = dialect.quote(column)
        if isinstance(value, Expression):
            assignments.append(f"{target} = {value.compile(compiler)}")
        else:
            assignments.append(f"{target} = {compiler.param(value)}")
    pk_mark = compiler.param(meta.pk.to_db(instance.pk))
    sql = (
        f"UPDATE {dialect.quote(meta.table)} SET {', '.join(assignments)} "
        f"WHERE {dialect.quote(meta.pk.column)} = {pk_mark}"
    )
    return int(await client.execute(sql, compiler.params))


def conflict_clause(
    model: type[Model],
    dialect: Any,
    ignore_conflicts: bool,
    update_fields: list[str],
    on_conflict: list[str],
) -> str:
    """`ON CONFLICT …` for bulk_create: skip conflicting rows, or update `update_fields` of the
    row already there (conflicts judged on the `on_conflict` fields)."""
    if not ignore_conflicts and not update_fields:
        return ""
    meta = model._meta
    q = dialect.quote
    if ignore_conflicts:
        return " ON CONFLICT DO NOTHING"
    if not on_conflict:
        raise ParamsError("bulk_create(update_fields=...) needs on_conflict=[unique fields]")
    target = ", ".join(q(meta.column_field(name).column) for name in on_conflict)
    columns = [q(meta.column_field(name).column) for name in update_fields]
    assignments = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    return f" ON CONFLICT ({target}) DO UPDATE SET {assignments}"


async def bulk_create(
    model: type[Model],
    objects: list[Model],
    batch_size: int | None,
    using_db: Any = None,
    ignore_conflicts: bool = False,
    update_fields: list[str] | None = None,
    on_conflict: list[str] | None = None,
) -> list[Model]:
    """Insert `objects` with one multi-row INSERT per batch, all or nothing; fills in their
    primary keys (not for rows skipped with `ignore_conflicts`)."""
    if not objects:
        return objects
    meta = model._meta
    for obj in objects:
        if type(obj) is not model:
            raise ValidationError(
                f"bulk_create on {model.__name__} got a {type(obj).__name__}",
                model=model.__name__,
            )
    dialect = _client(model, using_db).dialect
    conflict = conflict_clause(
        model, dialect, ignore_conflicts, list(update_fields or []), list(on_conflict or [])
    )
    by_column = {field.column: field for field in meta.columns}
    batches: list[tuple[tuple[str, ...], list[int], list[list[Any]], bool]] = []
    for columns, indexes, values, plain in _column_groups(meta, objects):
        # One parameter per column (unnest) has no limit of parameters per statement.
        arrays = _arrays_possible([by_column[c] for c in columns], values, dialect, plain)
        size = batch_size or (
            len(indexes) if arrays else max(1, MAX_PARAMS_PER_STATEMENT // max(len(columns), 1))
        )
        batches.extend(
            (
                columns,
                indexes[start : start + size],
                [column[start : start + size] for column in values],
                arrays,
            )
            for start in range(0, len(indexes), size)
        )
    table = dialect.quote(meta.table)
    pk = meta.pk
    keys: dict[int, Any] = {}
    returning = f" RETURNING {dialect.quote(pk.column)}"
    statements = sum(len(chunk) if not columns else 1 for columns, chunk, _, _ in batches)
    async with _all_or_nothing(model, statements, using_db) as client:
        for columns, chunk, values, arrays in batches:
            if not columns:  # every column left to its default: no VALUES list to write
                for index in chunk:
                    sql = f"INSERT INTO {table} DEFAULT VALUES{conflict}"
                    if ignore_conflicts:
                        await client.execute(sql, [])
                    else:
                        ((keys[index],),) = await client.fetch(sql + returning, [])
                continue
            params: list[Any] = []
            quoted = ", ".join(dialect.quote(c) for c in columns)
            if arrays:
                source = dialect.bulk_rows([by_column[c] for c in columns], values, params)
            else:
                params.extend(chain.from_iterable(zip(*values, strict=True)))
                source = dialect.values_lists(len(chunk), len(columns))
            sql = f"INSERT INTO {table} ({quoted}) {source}{conflict}"
            if ignore_conflicts:
                await client.execute(sql, params)  # skipped rows return nothing to match
                continue
            returned = await client.fetch(sql + returning, params)
            # Both backends return RETURNING rows in VALUES order (updated ones included).
            for index, (key,) in zip(chunk, returned, strict=True):
                keys[index] = key
    # Filled in only once every batch is in: a failed bulk write leaves the objects unsaved.
    pk_attr = meta.pk_attr
    for index, key in keys.items():
        objects[index].__dict__[pk_attr] = key
    if not ignore_conflicts:
        for obj in objects:
            # Straight into the state: setting an attribute would mark the values as changed.
            obj.__dict__["_saved_in_db"] = True
    return objects


def _column_groups(
    meta: MetaInfo, objects: list[Model]
) -> list[tuple[tuple[str, ...], list[int], list[list[Any]], bool]]:
    """The objects' database values as (columns, object indexes, one list of values per
    column, whether the values are known to hold no expression), one group per set of columns
    given (rows may differ in which generated columns they leave to the database)."""
    constructed = _as_constructed(meta, objects)
    if constructed is not None:
        columns, values = constructed
        return [(columns, list(range(len(objects))), values, True)]
    rows = [obj._validated_state() for obj in objects]
    groups: dict[tuple[str, ...], list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault(tuple(row), []).append(index)
    return [
        (
            columns,
            indexes,
            [[rows[index][column] for index in indexes] for column in columns],
            False,
        )
        for columns, indexes in groups.items()
    ]


def _as_constructed(
    meta: MetaInfo, objects: list[Model]
) -> tuple[tuple[str, ...], list[list[Any]]] | None:
    """`_validated_state` of new objects column by column, when it would only read what
    their constructors validated: no attribute set since, no field that validates again, no
    relation object to take a key from, no expression or database default, and the same
    generated columns left out of every row. None when any object needs the usual way."""
    states = [obj.__dict__ for obj in objects]
    if not all("_as_validated" in state for state in states) or any(
        state.get("_saved_in_db") for state in states
    ):
        return None
    columns: list[str] = []
    values: list[list[Any]] = []
    for field, key, column, is_fk, _, valid_until_replaced, to_db in meta.write_plan:
        if not valid_until_replaced:
            return None
        if is_fk:
            related = cache_key(field.name)
            if any(related in state for state in states):
                return None
        column_values = [state.get(key) for state in states]
        kinds = set(map(type, column_values))
        if NoneType in kinds and field.generated:
            if len(kinds) > 1:
                return None
            continue  # every row leaves it to the database
        if any(issubclass(kind, SPECIAL_VALUES) for kind in kinds):
            return None
        columns.append(column)
        values.append(column_values if to_db is None else list(map(to_db, column_values)))
    return tuple(columns), values


def _arrays_possible(
    fields: list[Field[Any]], values: list[list[Any]], dialect: Dialect, plain: bool
) -> bool:
    """Whether the rows can travel as one array per column: the dialect can, every column
    has a known type, and no value is an expression to compile into the statement (`plain`:
    known already)."""
    if not fields or dialect.bulk_array_types(fields) is None:
        return False
    if plain:
        return True
    # The types present, gathered in C, rather than an isinstance() per value.
    kinds = set().union(*(map(type, column) for column in values))
    return not any(issubclass(kind, Expression) for kind in kinds)


async def bulk_update(
    model: type[Model],
    objects: list[Model],
    fields: list[str],
    batch_size: int | None,
    using_db: Any = None,
) -> int:
    """Update `fields` of `objects` with one UPDATE ... CASE per batch, all or nothing."""
    if not objects or not fields:
        return 0
    meta = model._meta
    dialect = _client(model, using_db).dialect
    chosen = [meta.column_field(name) for name in fields]
    pk = meta.pk
    total = 0
    size = batch_size or max(1, MAX_PARAMS_PER_STATEMENT // (2 * len(chosen) + 1))
    chunks = [objects[start : start + size] for start in range(0, len(objects), size)]
    async with _all_or_nothing(model, len(chunks), using_db) as client:
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
