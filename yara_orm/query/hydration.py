"""Rows to results: model instances (with select_related objects, annotations and prefetched
relations) or the dicts and tuples of `values()` / `values_list()`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from yara_orm._engine import shape_rows
from yara_orm.connection import QueryBatch, derived_batch, new_batch
from yara_orm.exceptions import FieldError
from yara_orm.fields.relations import cache_key
from yara_orm.models.meta import attname
from yara_orm.query.compiler import Compiler, SelectPlan
from yara_orm.query.expressions import Aggregate, Avg, CombinedExpression, Count, F

if TYPE_CHECKING:
    import datetime as dt

    from yara_orm._engine import _RowShape as RowShape
    from yara_orm.models.base import Model
    from yara_orm.query.queryset import QuerySet


# Column index, converter, and the zone that reading a UTC datetime only swaps in (see
# `Field.utc_read_zone`).
Reader = tuple[int, "Callable[[Any], Any]", "dt.tzinfo | None"]


def shape_values(
    query: QuerySet[Any], rows: list[tuple[Any, ...]], pairs: tuple[tuple[str, str], ...]
) -> list[Any]:
    """`values()` rows as dicts, `values_list()` rows as tuples (or bare values when flat),
    each value converted as its field reads it."""
    converters = _value_readers(query, pairs)
    mode = query._values_mode
    if mode == "flat":  # one column: at most one converter
        if not converters:
            return [row[0] for row in rows]
        convert = converters[0][1]
        return [convert(row[0]) for row in rows]
    if mode == "tuple":
        if not converters:
            return list(rows)
        converted = [list(row) for row in rows]
        for values in converted:
            for index, convert, _ in converters:
                values[index] = convert(values[index])
        return [tuple(values) for values in converted]
    return shape_rows(rows, tuple(key for key, _ in pairs), converters)


def _value_readers(query: QuerySet[Any], pairs: tuple[tuple[str, str], ...]) -> list[Reader]:
    """The reader of each `values()` column that has one."""
    readers: list[Reader] = []
    probe = Compiler(query.model, query.client.dialect)
    by_annotation = annotation_converters(query, probe) if query._annotations else {}
    for index, (_, source) in enumerate(pairs):
        if source in query._annotations:
            if source in by_annotation:
                readers.append((index, by_annotation[source], None))
            continue
        try:
            _, field, rest, _ = probe.walk(source.split("__"), join=False)
        except FieldError:
            continue
        if field.from_db is not None and not rest:  # not a value taken out of a JSON document
            readers.append((index, field.from_db, field.utc_read_zone()))
    return readers


class Direct:
    """A result the engine builds as the rows come (no tuple per row): `shape` for the fetch,
    then `settle()` on what it returned."""

    def __init__(self, shape: RowShape, batch: QueryBatch | None = None) -> None:
        self.shape = shape
        self.batch = batch

    def settle(self, found: list[Any]) -> None:
        batch = self.batch
        if batch is None:
            return
        if len(found) > 1:
            batch.size = len(found)
        elif found:  # one instance is no batch (the N+1 detector looks for loops over many)
            del found[0]._batch


def direct(query: QuerySet[Any], plan: SelectPlan) -> Direct | None:
    """How the engine can build this query's results itself: `values()` dicts, and whole
    instances without `select_related`, annotations or `only()`. None for the others."""
    if plan.values is not None:
        if query._values_mode in ("flat", "tuple"):
            return None
        names = tuple(key for key, _ in plan.values)
        return Direct((names, _value_readers(query, plan.values), None, None))
    if query._only is not None or plan.related or query._annotations:
        return None
    model: type[Model] = query.model
    context = query._load_context
    if context is not None and context.kind == "lazy" and context.batch is not None:
        shared = derived_batch(context.batch, context.relation, model.__name__)
        return Direct(_whole_shape(model, shared))
    if query._single is not None:  # get(), first(): one instance, which is no batch
        return Direct(_whole_shape(model, None))
    batch = new_batch(model.__name__, 0)  # its size is known once the rows are in
    return Direct(_whole_shape(model, batch), batch)


def instances(query: QuerySet[Any], rows: list[tuple[Any, ...]], plan: SelectPlan) -> list[Model]:
    """Model instances from rows; instances of one multi-row query share a batch."""
    return _builder(query, rows, plan)(rows)


# A result this large is built in slices, the event loop running between them.
SLICED_ROWS = 2_000
_SLICE_ROWS = 500
_SLICE_SECONDS = 0.002


async def instances_in_slices(
    query: QuerySet[Any], rows: list[tuple[Any, ...]], plan: SelectPlan
) -> list[Model]:
    """`instances()` for a large result: the loop gets to run at least every ~2 ms, so other
    tasks (a health check, a heartbeat) are not held up by one big fetch."""
    build = _builder(query, rows, plan)
    built: list[Model] = []
    deadline = time.perf_counter() + _SLICE_SECONDS
    for start in range(0, len(rows), _SLICE_ROWS):
        built.extend(build(rows[start : start + _SLICE_ROWS]))
        if time.perf_counter() >= deadline:
            await asyncio.sleep(0)
            deadline = time.perf_counter() + _SLICE_SECONDS
    return built


Rows = list[tuple[Any, ...]]


def _builder(query: QuerySet[Any], rows: Rows, plan: SelectPlan) -> Callable[[Rows], list[Model]]:
    """Builds the instances of some rows of `rows` (all of them, or a slice at a time)."""
    model: type[Model] = query.model
    context = query._load_context
    if context is not None and context.kind == "lazy" and context.batch is not None:
        batch: QueryBatch | None = derived_batch(context.batch, context.relation, model.__name__)
    else:
        batch = new_batch(model.__name__, len(rows)) if len(rows) > 1 else None
    fields = plan.fields
    annotations = list(query._annotations)
    by_annotation = annotation_converters(query) if annotations else {}
    partial = query._only is not None
    whole = _whole_builder(model, batch)
    if not partial and not plan.related and not annotations:
        return whole
    related = [
        (start, end, path, _whole_builder(related_model, batch), related_model, related_fields)
        for related_model, start, end, path, related_fields in plan.related
    ]

    def build(part: Rows) -> list[Model]:
        if partial:
            built = [_partial(model, fields, row, batch) for row in part]
        else:
            built = whole(part)  # the related and annotation columns that follow are left out
        # Parents come before their children in plan.related, so each path's owner is set.
        for start, end, path, related_whole, related_model, related_fields in related:
            segments = [row[start:end] for row in part]
            if related_fields is None:
                made = iter(related_whole([values for values in segments if values[0] is not None]))
                targets = [None if values[0] is None else next(made) for values in segments]
            else:
                targets = [
                    None
                    if values[0] is None
                    else _partial(related_model, related_fields, values[1:], batch)
                    for values in segments
                ]
            key = cache_key(path[-1])
            for instance, target in zip(built, targets, strict=True):
                owner: Model | None = instance
                for step in path[:-1]:
                    owner = owner.__dict__[cache_key(step)]
                    if owner is None:
                        break
                if owner is not None:
                    owner.__dict__[key] = target
        if annotations:
            for instance, row in zip(built, part, strict=True):
                state = instance.__dict__
                state.update(zip(annotations, row[len(row) - len(annotations) :], strict=True))
                for name, convert in by_annotation.items():
                    state[name] = convert(state[name])
        return built

    return build


def _whole_builder(model: type[Model], batch: QueryBatch | None) -> Callable[[Rows], list[Model]]:
    """Builds whole instances of `model` from rows that start with its columns, without
    validation (they came from the database), in the engine."""
    names, readers, _, state = _whole_shape(model, batch)
    return lambda part: shape_rows(part, names, readers, model, state)


def _whole_shape(model: type[Model], batch: QueryBatch | None) -> RowShape:
    """What a row of `model`'s columns becomes: an instance, each column read as its field
    reads it (worked out once per result), marked as saved and with its batch."""
    meta = model._meta
    columns = meta.columns
    readers = [
        (index, convert, columns[index].utc_read_zone()) for index, convert in meta.converters
    ]
    state: dict[str, Any] = {"_saved_in_db": True}
    if batch is not None:
        state["_batch"] = batch
    return (meta.attnames, readers, model, state)


def _partial(model: type[Model], fields: list[Any], row: Any, batch: Any) -> Model:
    """An instance holding only `fields` (from `only()`): other fields raise AttributeError,
    and it saves only with `update_fields` among the loaded ones."""
    instance = model.__new__(model)
    state = instance.__dict__
    for field, value in zip(fields, row, strict=False):
        state[attname(field)] = value if field.from_db is None else field.from_db(value)
    state["_saved_in_db"] = True
    state["_partial"] = True
    if batch is not None:
        state["_batch"] = batch
    return instance


def annotation_converters(
    query: QuerySet[Any], probe: Compiler | None = None
) -> dict[str, Callable[[Any], Any]]:
    """Aggregates over a field read as that field reads: Min/Max as its values, Sum/Avg of a
    decimal field as Decimal (SQLite computes them in floating point over decimal text).
    Arithmetic on a decimal field (`F("price") * F("qty")`) reads as that field, at its scale,
    as in Tortoise."""
    probe = probe or Compiler(query.model, query.client.dialect)
    converters: dict[str, Callable[[Any], Any]] = {}
    for name, expression in query._annotations.items():
        if isinstance(expression, Count):
            continue
        aggregate = isinstance(expression, Aggregate)
        if not aggregate and not isinstance(expression, F | CombinedExpression):
            continue
        path, plain = _source(expression.field if isinstance(expression, Aggregate) else expression)
        if path is None:
            continue
        try:
            _, field, _, _ = probe.walk(path.split("__"), join=False)
        except FieldError:
            continue
        quantum = getattr(field, "_quantum", None)
        if not aggregate:
            if quantum is not None:
                converters[name] = _decimal_reader(quantum)
            elif plain and field.from_db is not None:
                converters[name] = _none_safe(field.from_db)
        elif quantum is not None:
            exact = plain and not isinstance(expression, Avg)
            converters[name] = _decimal_reader(quantum if exact else None)
        elif plain and field.from_db is not None and not isinstance(expression, Avg):
            converters[name] = _none_safe(field.from_db)
    return converters


def _source(operand: Any) -> tuple[str | None, bool]:
    """The field path an aggregate's operand reads, and whether it is that field alone (as
    opposed to arithmetic on it, whose type follows its first field)."""
    if isinstance(operand, str):
        return operand, True
    if isinstance(operand, F):
        return operand.name, True
    if isinstance(operand, CombinedExpression):
        for side in (operand.left, operand.right):
            path, _ = _source(side)
            if path is not None:
                return path, False
    return None, False


def _decimal_reader(quantum: Decimal | None) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        if value is None or (isinstance(value, Decimal) and quantum is None):
            return value
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return number if quantum is None else number.quantize(quantum)

    return read


def _none_safe(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)
