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


def _tree(lookups: Iterable[str | Prefetch]) -> dict[tuple[str, str | None], _Node]:
    """Lookups grouped by the load they extend. A Prefetch with its own `to_attr` is a load of
    its own (two Prefetch of one relation into two attributes are two loads); a deeper path
    ("books__tags") extends the plain load of its first relation, or the Prefetch whose
    `to_attr` it starts with ("pricey__tags"), whatever order they are given in."""
    lookups = list(lookups)
    attrs = {
        lookup.to_attr: lookup.relation.rpartition("__")[2]
        for lookup in lookups
        if isinstance(lookup, Prefetch) and lookup.to_attr and "__" not in lookup.relation
    }
    tree: dict[tuple[str, str | None], _Node] = {}
    for lookup in lookups:
        path = lookup.relation if isinstance(lookup, Prefetch) else lookup
        first, _, rest = path.partition("__")
        if rest:
            key = (attrs[first], first) if first in attrs else (first, None)
            node = tree.setdefault(key, _Node())
            if isinstance(lookup, Prefetch):
                node.children.append(Prefetch(rest, lookup.queryset, lookup.to_attr))
            else:
                node.children.append(rest)
        else:
            to_attr = lookup.to_attr if isinstance(lookup, Prefetch) else None
            node = tree.setdefault((first, to_attr), _Node())
            if isinstance(lookup, Prefetch):
                node.prefetch = lookup
    return tree


async def prefetch_related_objects(
    instances: Sequence[Model], lookups: Iterable[str | Prefetch], using_db: Any = None
) -> None:
    if not instances:
        return
    for (name, _), node in _tree(lookups).items():
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
        label = f"{model._meta.app}.{model.__name__}"
        problem = (
            f"Relation {name} for {label} not found"
            if field is None and name not in model._meta.fk_attnames
            else f"Field {name} on {label} is not a relation"
        )
        raise FieldError(
            f"{problem} (cannot prefetch it); relations: {', '.join(sorted(relations)) or 'none'}"
        )
    target: type[Model] = field.related_model  # type: ignore[attr-defined]
    query = prefetch.queryset if prefetch and prefetch.queryset is not None else target.all()
    query = query._clone() if using_db is None else query.using_db(using_db)
    if query._only is not None:
        # A Prefetch queryset with only(): the keys that tie its rows to their owners load too.
        needed = [target._meta.pk.name]
        if isinstance(field, ForeignKeyField):
            needed.append(field.target_field.name)
        elif isinstance(field, BackwardRelation):
            needed.append(field.forward.attname)
        query._only = tuple(dict.fromkeys((*query._only, *needed)))
    query._load_context = LoadContext(model.__name__, name, "prefetch", instances[0]._batch)
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

    # What the related rows point at: the owner's pk, or the forward key's to_field.
    forward_key = field.forward.target_field if isinstance(field, BackwardRelation) else None
    owner_attr = attname(forward_key) if forward_key is not None else model._meta.pk_attr
    keys = list({i.__dict__.get(owner_attr) for i in instances} - {None})
    if not keys:
        return []
    if isinstance(field, BackwardRelation):
        link = field.forward.attname
        found = await query.filter(**{f"{link}__in": keys})
        groups = _group(found, lambda obj: obj.__dict__[link])
    elif isinstance(field, ManyToManyField | BackwardManyToMany):
        forward = field if isinstance(field, ManyToManyField) else field.forward
        path = forward.related_name if isinstance(field, ManyToManyField) else forward.name
        if query._annotations or query._filters:
            # The links first, then the targets by pk: a join for the links inside the
            # user's query would narrow its aggregates and filters to the linked rows.
            links = await (
                target.filter(**{f"{path}__pk__in": keys})
                .using_db(using_db)
                .values_list("pk", f"{path}__pk")
            )
            owners: dict[Any, list[Any]] = {}
            for target_pk, owner_pk in links:
                owners.setdefault(target_pk, []).append(owner_pk)
            found = await query.filter(pk__in=list(owners)) if owners else []
            groups = {}
            for obj in found:  # in the query's order
                for owner_pk in owners[obj.pk]:
                    groups.setdefault(owner_pk, []).append(obj)
        else:
            found = await query.filter(**{f"{path}__pk__in": keys}).annotate(
                **{OWNER: F(f"{path}__pk")}
            )
            groups = _group(found, lambda obj: obj.__dict__.pop(OWNER))
    else:
        raise FieldError(f"cannot prefetch {model.__name__}.{name}")
    single = isinstance(field, BackwardOneToOne)
    for instance in instances:
        related = groups.get(instance.__dict__.get(owner_attr), [])
        instance.__dict__[store] = (related[0] if related else None) if single else related
    return found


def _group(objects: list[Model], key: Any) -> dict[Any, list[Model]]:
    groups: dict[Any, list[Model]] = {}
    for obj in objects:
        groups.setdefault(key(obj), []).append(obj)
    return groups
