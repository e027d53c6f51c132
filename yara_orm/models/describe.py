"""`Model.describe()` and `YaraOrm.describe_models()`: a model's table, fields and relations
as a dict, in the shape Tortoise gives it (JSON-ready with `serializable=True`)."""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any

from yara_orm.fields.base import NO_DEFAULT, Field
from yara_orm.fields.relations import (
    BackwardManyToMany,
    BackwardOneToOne,
    BackwardRelation,
    ForeignKeyField,
    ManyToManyField,
    OneToOneField,
)
from yara_orm.models.docstrings import field_docstring

if TYPE_CHECKING:
    from yara_orm.models.base import Model


def _type_name(kind: Any) -> str:
    if isinstance(kind, type):
        if kind.__module__ == "builtins":
            return kind.__name__
        meta = getattr(kind, "_meta", None)
        if meta is not None and hasattr(meta, "full_name"):
            return str(meta.full_name)
        return f"{kind.__module__}.{kind.__name__}"
    return str(kind)


def _default(value: Any, serializable: bool) -> Any:
    if value is NO_DEFAULT:
        return None
    if not serializable:
        return value
    if callable(value):
        module = getattr(value, "__module__", "?")
        return f"<function {module}.{getattr(value, '__qualname__', value)}>"
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def describe_field(field: Field[Any], serializable: bool = True) -> dict[str, Any]:
    python_type: Any = field.python_types[0] if field.python_types else object
    if isinstance(field, ForeignKeyField | ManyToManyField | BackwardRelation | BackwardManyToMany):
        python_type = field.related_model
    described: dict[str, Any] = {
        "name": field.name,
        "field_type": type(field).__name__ if serializable else type(field),
        "python_type": _type_name(python_type) if serializable else python_type,
        "generated": field.generated,
        "nullable": field.null,
        "unique": field.unique,
        "indexed": field.index or field.unique,
        "default": _default(field.default, serializable),
        "description": field.description,
        "docstring": field_docstring(field),
        "constraints": field.constraints,
    }
    if field.has_column:
        described["db_column"] = field.column
    if hasattr(field, "auto_now"):  # DatetimeField, TimeField
        described["auto_now_add"] = getattr(field, "auto_now_add", False)
        described["auto_now"] = getattr(field, "auto_now", False)
    if isinstance(field, ForeignKeyField):
        described["raw_field"] = field.attname
        described["on_delete"] = str(field.on_delete)
        described["db_constraint"] = field.db_constraint
    if isinstance(field, ManyToManyField):
        described.update(
            model_name=_type_name(field.related_model) if serializable else field.related_model,
            related_name=field.related_name,
            forward_key=field.forward_key,
            backward_key=field.backward_key,
            through=field.through,
            on_delete=str(field.on_delete),
            db_constraint=field.db_constraint,
        )
    return described


def describe_model(model: type[Model], serializable: bool = True) -> dict[str, Any]:
    meta = model._meta
    groups: dict[str, list[dict[str, Any]]] = {
        "data_fields": [],
        "fk_fields": [],
        "backward_fk_fields": [],
        "o2o_fields": [],
        "backward_o2o_fields": [],
        "m2m_fields": [],
    }
    for field in meta.fields.values():
        if field is meta.pk:
            continue
        if isinstance(field, OneToOneField):
            group = "o2o_fields"
        elif isinstance(field, ForeignKeyField):
            group = "fk_fields"
        elif isinstance(field, BackwardOneToOne):
            group = "backward_o2o_fields"
        elif isinstance(field, BackwardRelation):
            group = "backward_fk_fields"
        elif isinstance(field, ManyToManyField | BackwardManyToMany):
            group = "m2m_fields"
        else:
            group = "data_fields"
        groups[group].append(describe_field(field, serializable))
    return {
        "name": meta.full_name,
        "app": meta.app,
        "table": meta.table,
        "abstract": meta.abstract,
        "description": meta.table_description,
        "docstring": (model.__doc__ or "").strip() or None,
        "unique_together": [list(group) for group in meta.unique_together],
        "indexes": [index.describe() if serializable else index for index in meta.indexes],
        "pk_field": describe_field(meta.pk, serializable),
        **groups,
    }
