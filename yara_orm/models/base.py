"""`Model`: declaring tables as classes, and the instance API (save, delete, refresh)."""

from __future__ import annotations

import copy
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Self

from yara_orm.exceptions import ConfigurationError, FieldError, ValidationError
from yara_orm.fields.base import Field
from yara_orm.fields.relations import ForeignKeyField, RelationField, cache_key
from yara_orm.fields.scalars import DatetimeField, IntField
from yara_orm.indexes import as_index
from yara_orm.models.meta import MetaInfo, attname
from yara_orm.models.registry import registry

if TYPE_CHECKING:
    from yara_orm.query.queryset import QuerySet


def _meta_option(meta: type | None, name: str, default: Any) -> Any:
    return getattr(meta, name, default) if meta is not None else default


class ModelMeta(type):
    def __new__(
        mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kw: Any
    ) -> ModelMeta:
        declared = {key: value for key, value in namespace.items() if isinstance(value, Field)}
        meta = namespace.pop("Meta", None)
        for key in declared:
            namespace.pop(key)
        cls = super().__new__(mcs, name, bases, namespace, **kw)
        if not bases:  # `Model` itself
            return cls
        # Fields from every base (abstract models and plain mixins), nearest base last.
        inherited: dict[str, Field[Any]] = {}
        for base in reversed(cls.__mro__[1:]):
            base_meta = base.__dict__.get("_meta")
            if isinstance(base_meta, MetaInfo):
                inherited.update(base_meta.declared)
            else:
                inherited.update({k: v for k, v in vars(base).items() if isinstance(v, Field)})
        abstract = bool(_meta_option(meta, "abstract", False))
        info = MetaInfo(
            cls,  # type: ignore[arg-type]
            table=_meta_option(meta, "table", name.lower()),
            abstract=abstract,
            ordering=tuple(_meta_option(meta, "ordering", ())),
            unique_together=_normalise_groups(_meta_option(meta, "unique_together", ())),
            indexes=[as_index(entry) for entry in _meta_option(meta, "indexes", ()) or ()],
            connection=_meta_option(meta, "connection", None),
            table_description=_meta_option(meta, "table_description", None),
            app=_meta_option(meta, "app", None),
            fetch_db_defaults=bool(_meta_option(meta, "fetch_db_defaults", True)),
        )
        info.declared = {**inherited, **declared}
        for field_name, field in info.declared.items():
            own = copy.copy(field)  # each model binds its own copy of an inherited field
            info.add_field(field_name, own)
            if isinstance(own, RelationField):
                setattr(cls, field_name, own)  # relations are descriptors
        if info.pk is None and not abstract:
            auto = IntField(pk=True)
            info.fields = {"id": auto, **info.fields}
            info.add_field("id", auto)
        cls._meta = info  # type: ignore[attr-defined]
        if not abstract:
            registry.register(cls)  # type: ignore[arg-type]
        return cls


def _normalise_groups(groups: Any) -> tuple[tuple[str, ...], ...]:
    if not groups:
        return ()
    if isinstance(groups[0], str):
        return (tuple(groups),)
    return tuple(tuple(group) for group in groups)


class Model(metaclass=ModelMeta):
    """Base class of every model. Subclass it and declare fields as class attributes."""

    _meta: ClassVar[MetaInfo]
    # Set on instances loaded together by one query (the N+1 detector reads it).
    _batch: Any = None
    _saved_in_db: bool = False

    def __init__(self, **kwargs: Any) -> None:
        meta = self._meta
        if not meta.finalized:
            raise ConfigurationError(
                f"{type(self).__name__} is not initialised: call `await YaraOrm.init(...)` first"
            )
        state = self.__dict__
        for key in kwargs:
            if key not in meta.fields and not any(key == attname(f) for f in meta.columns):
                raise FieldError(
                    f"{type(self).__name__} has no field {key!r}; "
                    f"valid fields: {', '.join(sorted(meta.fields))}"
                )
        for field in meta.columns:
            if isinstance(field, ForeignKeyField):
                if field.name in kwargs:
                    setattr(self, field.name, kwargs[field.name])
                    continue
                value = kwargs.get(field.attname)
                if value is not None:
                    value = field.validate(value)
                elif not field.null:
                    value = None  # checked on save, when the related object may exist
                state[field.attname] = value
                continue
            if field.name in kwargs:
                state[field.name] = field.validate(kwargs[field.name])
            elif field.has_default():
                state[field.name] = field.validate(field.default_value())
            else:
                state[field.name] = None

    # Hydration ---------------------------------------------------------------------------

    @classmethod
    def _from_row(cls, row: tuple[Any, ...] | list[Any], batch: Any = None) -> Self:
        """An instance from a row of `_meta.columns`, without validation (it came from the DB)."""
        instance = cls.__new__(cls)
        state = instance.__dict__
        meta = cls._meta
        state.update(zip(meta.attnames, row, strict=False))
        for index, convert in meta.converters:
            name = meta.attnames[index]
            state[name] = convert(state[name])
        state["_saved_in_db"] = True
        if batch is not None:
            state["_batch"] = batch
        return instance

    def __await__(self) -> Generator[Any, None, Self]:
        """`await book.author` works whether the relation was loaded already or not."""
        return self._self().__await__()

    async def _self(self) -> Self:
        return self

    # Identity ----------------------------------------------------------------------------

    @property
    def pk(self) -> Any:
        return self.__dict__.get(self._meta.pk_attr)

    @pk.setter
    def pk(self, value: Any) -> None:
        self.__dict__[self._meta.pk_attr] = value

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.pk is not None and bool(self.pk == other.pk)

    def __hash__(self) -> int:
        if self.pk is None:
            raise TypeError(f"an unsaved {type(self).__name__} has no primary key to hash")
        return hash((type(self).__name__, self.pk))

    def __repr__(self) -> str:
        meta = self._meta
        shown = [f"{meta.pk.name}={self.pk!r}"]
        for field in meta.columns[:4]:
            if field is not meta.pk:
                shown.append(f"{attname(field)}={self.__dict__.get(attname(field))!r}")
        return f"<{type(self).__name__} {' '.join(shown)}>"

    # Class-level queries -----------------------------------------------------------------

    @classmethod
    def all(cls) -> QuerySet[Self]:
        from yara_orm.query.queryset import QuerySet

        return QuerySet(cls)

    @classmethod
    def filter(cls, *args: Any, **kwargs: Any) -> QuerySet[Self]:
        return cls.all().filter(*args, **kwargs)

    @classmethod
    def exclude(cls, *args: Any, **kwargs: Any) -> QuerySet[Self]:
        return cls.all().exclude(*args, **kwargs)

    @classmethod
    def annotate(cls, **kwargs: Any) -> QuerySet[Self]:
        return cls.all().annotate(**kwargs)

    @classmethod
    def first(cls) -> Any:
        return cls.all().first()

    @classmethod
    def get(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.all().get(*args, **kwargs)

    @classmethod
    def get_or_none(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.all().get_or_none(*args, **kwargs)

    @classmethod
    def exists(cls, *args: Any, **kwargs: Any) -> Any:
        return cls.filter(*args, **kwargs).exists()

    @classmethod
    def select_for_update(cls, **kwargs: Any) -> QuerySet[Self]:
        return cls.all().select_for_update(**kwargs)

    @classmethod
    async def create(cls, **kwargs: Any) -> Self:
        instance = cls(**kwargs)
        await instance.save(force_create=True)
        return instance

    @classmethod
    async def get_or_create(
        cls, defaults: dict[str, Any] | None = None, **kwargs: Any
    ) -> tuple[Self, bool]:
        from yara_orm.transactions import in_transaction

        async with in_transaction(cls._meta.connection):
            found = await cls.filter(**kwargs).first()
            if found is not None:
                return found, False
            return await cls.create(**{**kwargs, **(defaults or {})}), True

    @classmethod
    async def update_or_create(
        cls, defaults: dict[str, Any] | None = None, **kwargs: Any
    ) -> tuple[Self, bool]:
        from yara_orm.transactions import in_transaction

        async with in_transaction(cls._meta.connection):
            found = await cls.filter(**kwargs).select_for_update().first()
            if found is None:
                return await cls.create(**{**kwargs, **(defaults or {})}), True
            for key, value in (defaults or {}).items():
                setattr(found, key, value)
            await found.save(update_fields=list(defaults or {}))
            return found, False

    @classmethod
    async def bulk_create(
        cls, objects: Iterable[Self], batch_size: int | None = None
    ) -> list[Self]:
        from yara_orm.query.writes import bulk_create

        created = await bulk_create(cls, list(objects), batch_size)
        return created  # type: ignore[return-value]

    @classmethod
    async def bulk_update(
        cls, objects: Iterable[Self], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        from yara_orm.query.writes import bulk_update

        return await bulk_update(cls, list(objects), list(fields), batch_size)

    @classmethod
    async def in_bulk(cls, ids: Iterable[Any], field_name: str = "pk") -> dict[Any, Self]:
        found = await cls.filter(**{f"{field_name}__in": list(ids)})
        return {getattr(obj, field_name): obj for obj in found}

    # Instance writes ---------------------------------------------------------------------

    def _validated_state(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Column -> database value, after checking every value against its field."""
        meta = self._meta
        chosen = meta.columns if names is None else [meta.column_field(n) for n in names]
        values: dict[str, Any] = {}
        for field in chosen:
            key = attname(field)
            value = self.__dict__.get(key)
            if isinstance(field, DatetimeField) and field.auto_now and self._saved_in_db:
                value = field.default_value()
                self.__dict__[key] = value
            if isinstance(field, ForeignKeyField) and value is None:
                related = self.__dict__.get(cache_key(field.name))
                if related is not None:
                    value = related.pk
                    self.__dict__[key] = value
            if value is None and field.generated:
                continue
            value = field.validate(value)
            self.__dict__[key] = value
            values[field.column] = field.to_db(value)
        return values

    async def save(
        self, update_fields: Iterable[str] | None = None, force_create: bool = False
    ) -> None:
        from yara_orm.query.writes import insert_instance, update_instance

        if force_create or not self._saved_in_db:
            await insert_instance(self)
        else:
            await update_instance(self, None if update_fields is None else list(update_fields))

    async def delete(self) -> None:
        if self.pk is None:
            raise ValidationError(
                f"{type(self).__name__}: cannot delete an instance that was never saved",
                model=type(self).__name__,
                field=self._meta.pk.name,
                value=None,
            )
        await type(self).filter(pk=self.pk).delete()
        self._saved_in_db = False

    async def refresh_from_db(self, fields: Iterable[str] | None = None) -> None:
        names = list(fields) if fields is not None else None
        query = type(self).filter(pk=self.pk)
        if names:
            values = await query.values(*names).first()
            if values is None:
                raise self._gone()
            for name in names:
                field = self._meta.column_field(name)
                self.__dict__[attname(field)] = values[name]
            return
        fresh = await query.first()
        if fresh is None:
            raise self._gone()
        for key in self._meta.attnames:
            self.__dict__[key] = fresh.__dict__[key]

    def _gone(self) -> Exception:
        from yara_orm.exceptions import DoesNotExist

        return DoesNotExist(f"{type(self).__name__} with pk={self.pk!r} no longer exists")

    async def fetch_related(self, *names: str) -> None:
        from yara_orm.query.prefetch import prefetch_related_objects

        await prefetch_related_objects([self], names)


__all__ = ["Model"]
