"""CREATE TABLE / INDEX statements for the initialised models, in dependency order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from yara_orm.fields.relations import ForeignKeyField, ManyToManyField

if TYPE_CHECKING:
    from yara_orm.dialects.base import Dialect
    from yara_orm.models.base import Model


def _ordered(models: list[type[Model]]) -> list[type[Model]]:
    """Referenced tables first (self-references and cycles keep declaration order)."""
    done: list[type[Model]] = []
    visiting: set[type[Model]] = set()

    def visit(model: type[Model]) -> None:
        if model in done or model in visiting:
            return
        visiting.add(model)
        for fk in model._meta.forward_fks:
            if fk.related_model in models:
                visit(fk.related_model)
        visiting.discard(model)
        done.append(model)

    for model in models:
        visit(model)
    return done


def table_sql(model: type[Model], dialect: Dialect, safe: bool) -> list[str]:
    meta = model._meta
    q = dialect.quote
    exists = "IF NOT EXISTS " if safe else ""
    lines = []
    for field in meta.columns:
        if field.pk and field.generated:
            lines.append(dialect.auto_increment_column(field))
            continue
        parts = [q(field.column), dialect.column_type(field)]
        if field.pk:
            parts.append("PRIMARY KEY")
        elif not field.null:
            parts.append("NOT NULL")
        if field.unique and not field.pk:
            parts.append("UNIQUE")
        if field.has_db_default():
            parts.append(f"DEFAULT {dialect.default_sql(field.db_default, field)}")
        if isinstance(field, ForeignKeyField) and field.db_constraint:
            target = field.related_model._meta
            parts.append(
                f"REFERENCES {q(target.table)} ({q(field.target_field.column)}) "
                f"ON DELETE {field.on_delete}"
            )
        lines.append(" ".join(parts))
    for group in meta.unique_together:
        columns = ", ".join(q(meta.column_field(name).column) for name in group)
        lines.append(f"UNIQUE ({columns})")
    statements = [f"CREATE TABLE {exists}{q(meta.table)} (\n    " + ",\n    ".join(lines) + "\n)"]
    indexed: list[tuple[tuple[str, ...], str | None]] = [
        ((f.column,), None) for f in meta.columns if f.index and not f.unique
    ]
    indexed += [
        (tuple(meta.column_field(n).column for n in index.fields), index.name)
        for index in meta.indexes
    ]
    for index_columns, given in indexed:
        name = given or f"idx_{meta.table}_{'_'.join(index_columns)}"
        cols = ", ".join(q(c) for c in index_columns)
        statements.append(f"CREATE INDEX {exists}{q(name)} ON {q(meta.table)} ({cols})")
    return statements


def through_sql(field: ManyToManyField[Any], dialect: Dialect, safe: bool) -> str:
    q = dialect.quote
    exists = "IF NOT EXISTS " if safe else ""
    own = field.model._meta
    other = field.related_model._meta

    def key(name: str, meta: object) -> str:
        pk = meta.pk  # type: ignore[attr-defined]
        table = meta.table  # type: ignore[attr-defined]
        target = pk.target_field if isinstance(pk, ForeignKeyField) else pk
        kind = dialect.column_types[target.db_kind].format(**target.type_arguments())
        sql = f"{q(name)} {kind} NOT NULL"
        if field.db_constraint:
            sql += f" REFERENCES {q(table)} ({q(pk.column)}) ON DELETE {field.on_delete}"
        return sql

    columns = [key(field.backward_key or "", own), key(field.forward_key or "", other)]
    if field.unique_pairs:
        columns.append(f"UNIQUE ({q(field.backward_key or '')}, {q(field.forward_key or '')})")
    return (
        f"CREATE TABLE {exists}{q(field.through or '')} (\n    " + ",\n    ".join(columns) + "\n)"
    )


def _join_fields(ordered: list[type[Model]]) -> list[ManyToManyField[Any]]:
    return [
        field
        for model in ordered
        for field in model._meta.fields.values()
        if isinstance(field, ManyToManyField)
    ]


def schema_sql(models: list[type[Model]], dialect: Dialect, safe: bool = True) -> list[str]:
    ordered = _ordered(models)
    statements = [sql for model in ordered for sql in table_sql(model, dialect, safe)]
    statements += [through_sql(field, dialect, safe) for field in _join_fields(ordered)]
    return statements


def table_names(models: list[type[Model]]) -> list[str]:
    """Every table of `models`, join tables included, in creation order (referenced first)."""
    ordered = _ordered(models)
    return [m._meta.table for m in ordered] + [f.through or "" for f in _join_fields(ordered)]
