"""`prefetch_related`: one query per relation for a whole list of instances, nested with
`a__b`, customised with `Prefetch(relation, queryset=..., to_attr=...)`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from yara_orm.connection import LoadContext
from yara_orm.exceptions import FieldError
from yara_orm.fields.relations import (
    BackwardManyToMany,
    BackwardOneToOne,
    BackwardRelation,
    ForeignKeyField,
    ManyToManyField,
    cache_key,
)
from yara_orm.models.meta import attname
from yara_orm.query.expressions import F

if TYPE_CHECKING:
    from yara_orm.models.base import Model
    from yara_orm.query.queryset import QuerySet

OWNER = "_yara_prefetch_owner"


class Prefetch:
    def __init__(
        self, relation: str, queryset: QuerySet[Any] | None = None, to_attr: str | None = None
    ) -> None:
        self.relation = relation
        self.queryset = queryset
        self.to_attr = to_attr


class _Node:
    def __init__(self) -> None:
        self.prefetch: Prefetch | None = None
        self.children: list[str | Prefetch] = []


def _tree(lookups: Iterable[str | Prefetch]) -> dict[str, _Node]:
    tree: dict[str, _Node] = {}
    for lookup in lookups:
        path = lookup.relation if isinstance(lookup, Prefetch) else lookup
        first, _, rest = path.partition("__")
        node = tree.setdefault(first, _Node())
        if rest:
            if isinstance(lookup, Prefetch):
                node.children.append(Prefetch(rest, lookup.queryset, lookup.to_attr))
            else:
                node.children.append(rest)
        elif isinstance(lookup, Prefetch):
            node.prefetch = lookup
    return tree


async def prefetch_related_objects(
    instances: Sequence[Model], lookups: Iterable[str | Prefetch], using_db: Any = None
) -> None:
    if not instances:
        return
    for name, node in _tree(lookups).items():
        loaded = await _prefetch_one(instances, name, node.prefetch, using_db)
        if node.children and loaded:
            await prefetch_related_objects(loaded, node.children, using_db)


async def _prefetch_one(
    instances: Sequence[Model], name: str, prefetch: Prefetch | None, using_db: Any = None
) -> list[Model]:
    model = type(instances[0])
    field = model._meta.fields.get(name)
    if field is None or not field.is_relation:
        relations = [f.name for f in model._meta.fields.values() if f.is_relation]
        raise FieldError(
            f"cannot prefetch {model.__name__}.{name}: not a relation; "
            f"relations: {', '.join(sorted(relations)) or 'none'}"
        )
    target: type[Model] = field.related_model  # type: ignore[attr-defined]
    query = prefetch.queryset if prefetch and prefetch.queryset is not None else target.all()
    query = query._clone() if using_db is None else query.using_db(using_db)
    query._load_context = LoadContext(model.__name__, name, "prefetch", None, instances[0]._batch)
    store = prefetch.to_attr if prefetch and prefetch.to_attr else cache_key(name)

    if isinstance(field, ForeignKeyField):
        # The local column holds the target's key: its pk, or the to_field.
        key = field.target_field
        keys = list({i.__dict__[field.attname] for i in instances} - {None})
        found = await query.filter(**{f"{key.name}__in": keys}) if keys else []
        by_key = {obj.__dict__[attname(key)]: obj for obj in found}
        for instance in instances:
            instance.__dict__[store] = by_key.get(instance.__dict__[field.attname])
        return found

    owner_key = attname(field.forward.target_field) if isinstance(field, BackwardRelation) else None
    keys = list({i.__dict__.get(owner_key) if owner_key else i.pk for i in instances} - {None})
    if not keys:
        return []
    if isinstance(field, BackwardRelation):
        link = field.forward.attname
        found = await query.filter(**{f"{link}__in": keys})
        groups = _group(found, lambda obj: obj.__dict__[link])
    elif isinstance(field, ManyToManyField | BackwardManyToMany):
        forward = field if isinstance(field, ManyToManyField) else field.forward
        path = forward.related_name if isinstance(field, ManyToManyField) else forward.name
        found = await query.filter(**{f"{path}__pk__in": keys}).annotate(
            **{OWNER: F(f"{path}__pk")}
        )
        groups = _group(found, lambda obj: obj.__dict__.pop(OWNER))
    else:
        raise FieldError(f"cannot prefetch {model.__name__}.{name}")
    single = isinstance(field, BackwardOneToOne)
    for instance in instances:
        related = groups.get(instance.__dict__.get(owner_key) if owner_key else instance.pk, [])
        instance.__dict__[store] = (related[0] if related else None) if single else related
    return found


def _group(objects: list[Model], key: Any) -> dict[Any, list[Model]]:
    groups: dict[Any, list[Model]] = {}
    for obj in objects:
        groups.setdefault(key(obj), []).append(obj)
    return groups
