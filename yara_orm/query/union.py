"""`qs1.union(qs2, ...)`: the rows of several querysets (of one model or several with the same
selected fields) as one list of model instances, with its own order, limit and offset."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from yara_orm.exceptions import ParamsError
from yara_orm.query import hydration
from yara_orm.query.compiler import SelectPlan, Statements, row_count

if TYPE_CHECKING:
    from yara_orm.connection import DatabaseClient
    from yara_orm.models.base import Model
    from yara_orm.query.queryset import QuerySet

# The extra column telling which model a row is of (rows of one model compare equal across
# parts, so UNION still folds duplicates).
_MODEL_COLUMN = "_yara_union_model"


class UnionQuery:
    """Lazy, like a queryset: await it for the instances, or `count()` them."""

    def __init__(self, parts: list[QuerySet[Any]], all: bool = False) -> None:
        self._parts = parts
        self._all = all
        self._order: tuple[str, ...] = ()
        self._limit: int | None = None
        self._offset: int | None = None

    def _clone(self) -> UnionQuery:
        clone = UnionQuery(list(self._parts), self._all)
        clone._order, clone._limit, clone._offset = self._order, self._limit, self._offset
        return clone

    def union(self, *others: QuerySet[Any], all: bool = False) -> UnionQuery:
        if all != self._all:
            raise ParamsError("a chain of unions is either all UNION or all UNION ALL")
        clone = self._clone()
        clone._parts.extend(others)
        return clone

    def order_by(self, *names: str) -> UnionQuery:
        clone = self._clone()
        clone._order = names
        return clone

    def limit(self, count: int) -> UnionQuery:
        clone = self._clone()
        clone._limit = row_count("limit", count)
        return clone

    def offset(self, count: int) -> UnionQuery:
        clone = self._clone()
        clone._offset = row_count("offset", count)
        return clone

    # Compiling --------------------------------------------------------------------------

    @property
    def _client(self) -> DatabaseClient:
        return self._parts[0].client

    def _compile(self) -> tuple[str, list[Any], list[tuple[type[Model], SelectPlan]]]:
        params: list[Any] = []
        models: list[type[Model]] = []
        plans: list[tuple[type[Model], SelectPlan]] = []
        selects = []
        names: list[str] | None = None
        for index, part in enumerate(self._parts):
            _check_part(part)
            statements = Statements(part)
            compiler = statements.compiler(params=params, alias_prefix=f"u{index}_")
            columns, plan = statements.model_columns(compiler)
            part_names = [field.name for field in plan.fields]
            if names is None:
                names = part_names
            elif part_names != names:
                raise ParamsError(
                    "Union queries must have the same select fields: "
                    f"{', '.join(names)} against {', '.join(part_names)} "
                    f"({part.model.__name__}); narrow them with only()"
                )
            if part.model not in models:
                models.append(part.model)
                plans.append((part.model, plan))
            where, _ = statements.where(compiler)
            marker = models.index(part.model)
            sql = f"SELECT {', '.join(columns)}, {marker} AS {compiler.quote(_MODEL_COLUMN)}"
            sql += f" FROM {compiler.from_clause()}"
            if where:
                sql += f" WHERE {where}"
            selects.append(f"SELECT * FROM ({sql}) {compiler.quote(f'u{index}')}")
        assert names is not None
        dialect = self._client.dialect
        sql = (" UNION ALL " if self._all else " UNION ").join(selects)
        order = []
        for name in self._order:
            key = name.lstrip("-")
            if key not in names:
                raise ParamsError(
                    f"Order by field must be in the select list: {key!r} is not among "
                    f"{', '.join(names)}"
                )
            column = dialect.quote(part_column(self._parts[0], key))
            order.append(f"{column} DESC" if name.startswith("-") else column)
        if order:
            sql += f" ORDER BY {', '.join(order)}"
        limit = None
        if self._limit is not None:
            params.append(self._limit)
            limit = dialect.placeholder(len(params))
        offset = None
        if self._offset:
            params.append(self._offset)
            offset = dialect.placeholder(len(params))
        sql += dialect.limit_offset(limit, offset)
        return sql, params, plans

    def sql(self) -> str:
        return self._compile()[0]

    # Running ----------------------------------------------------------------------------

    async def _fetch(self) -> list[Any]:
        sql, params, plans = self._compile()
        rows = await self._client.fetch(sql, params)
        # Hydrated model by model (instances of one query share a batch), then put back in
        # the order the database gave.
        by_model: dict[int, list[tuple[int, tuple[Any, ...]]]] = {}
        for position, row in enumerate(rows):
            by_model.setdefault(row[-1], []).append((position, row[:-1]))
        built: list[Any] = [None] * len(rows)
        for marker, entries in by_model.items():
            model, plan = plans[marker]
            part = next(p for p in self._parts if p.model is model)
            instances = hydration.instances(part, [row for _, row in entries], plan)
            for (position, _), instance in zip(entries, instances, strict=True):
                built[position] = instance
        return built

    def __await__(self) -> Generator[Any, None, list[Any]]:
        return self._fetch().__await__()

    async def count(self) -> int:
        sql, params, _ = self._compile()
        rows = await self._client.fetch(f"SELECT COUNT(*) FROM ({sql}) yara_union", params)
        return int(rows[0][0])


def part_column(part: QuerySet[Any], name: str) -> str:
    """The output column name of field `name` in a part's SELECT."""
    return str(part.model._meta.column_field(name).column)


def _check_part(part: QuerySet[Any]) -> None:
    if part._annotations:
        raise ParamsError("Union queries do not support annotations")
    if part._values is not None or part._select_related or part._prefetch:
        raise ParamsError(
            "Union queries take querysets of model rows (no values(), select_related() or "
            "prefetch_related() in a part)"
        )
    if part._only is not None and any("__" in name for name in part._only):
        raise ParamsError("Union queries select fields of the model itself (no relation__field)")
    if part._limit is not None or part._offset or part._single:
        raise ParamsError("Union parts cannot be limited: limit the union instead")
