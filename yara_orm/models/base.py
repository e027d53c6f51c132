"""`Model`: declaring tables as classes, and the instance API (save, delete, refresh)."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from yara_orm import signals
from yara_orm.exceptions import (
    ConfigurationError,
    DoesNotExist,
    FieldError,
    IncompleteInstanceError,
    IntegrityError,
    ObjectDoesNotExistError,
    OperationalError,
    ParamsError,
    ValidationError,
)
from yara_orm.fields.base import DatabaseDefault, Field
from yara_orm.fields.relations import (
    BackwardManyToMany,
    BackwardOneToOne,
    BackwardRelation,
    ForeignKeyField,
    ManyToManyField,
    RelationField,
    cache_key,
)
from yara_orm.fields.scalars import IntField
from yara_orm.indexes import as_index
from yara_orm.manager import Manager
from yara_orm.models.meta import MetaInfo, attname, write_step
from yara_orm.models.registry import registry
from yara_orm.query.expressions import Expression
from yara_orm.router import router

if TYPE_CHECKING:
    from yara_orm.query.queryset import QuerySet, QuerySetSingle
    from yara_orm.query.raw import RawQuery


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
        ordering = _meta_option(meta, "ordering", None)
        if ordering is None:  # an abstract base's Meta.ordering passes down, as in Tortoise
            ordering = next(
                (
                    base.__dict__["_meta"].ordering
                    for base in cls.__mro__[1:]
                    if isinstance(base.__dict__.get("_meta"), MetaInfo)
                    and base.__dict__["_meta"].abstract
                    and base.__dict__["_meta"].ordering
                ),
                (),
            )
        info = MetaInfo(
            cls,  # type: ignore[arg-type]
            table=_meta_option(meta, "table", name.lower()),
            abstract=abstract,
            ordering=tuple(ordering),
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
            auto = IntField(primary_key=True)
            info.fields = {"id": auto, **info.fields}
            info.add_field("id", auto)
        # Meta.manager, or the nearest base's (an abstract model's Meta passes it down).
        manager = _meta_option(meta, "manager", None)
        if manager is None:
            for base in cls.__mro__[1:]:
                base_meta = base.__dict__.get("_meta")
                if isinstance(base_meta, MetaInfo) and base_meta.manager_template is not None:
                    manager = base_meta.manager_template
                    break
        info.manager_template = manager
        info.manager = (manager or Manager()).bind(cls)  # type: ignore[arg-type]
        info.explicit_table = _meta_option(meta, "table", None)
        cls._meta = info  # type: ignore[attr-defined]
        # Managers declared as class attributes (`all_objects = Manager()`) serve this model.
        for attribute in dir(cls):
            value = getattr(cls, attribute, None)
            if isinstance(value, Manager) and value._model is not cls:
                setattr(cls, attribute, value.bind(cls))  # type: ignore[arg-type]
        if not abstract:
            registry.register(cls)  # type: ignore[arg-type]
        return cls

    def __getitem__(cls, key: Any) -> Any:
        """`await Tournament[1]`: the row with that primary key, or ObjectDoesNotExistError."""
        return cls._by_pk(key)  # type: ignore[attr-defined]


def _normalise_groups(groups: Any) -> tuple[tuple[str, ...], ...]:
    if not groups:
        return ()
    if isinstance(groups[0], str):
        return (tuple(groups),)
    return tuple(tuple(group) for group in groups)


def _merged_defaults(kwargs: dict[str, Any], defaults: dict[str, Any] | None) -> dict[str, Any]:
    """The values of a row get_or_create / update_or_create would create."""
    defaults = defaults or {}
    for key in defaults.keys() & kwargs.keys():
        if defaults[key] != kwargs[key]:
            raise ParamsError(
                f"Conflict value with key={key!r}: default_value={defaults[key]!r} vs "
                f"query_value={kwargs[key]!r}"
            )
    return {**kwargs, **defaults}


def _relation_through_init(model: str, name: str, field: Field[Any]) -> str:
    """Why a to-many or reverse relation cannot be given to init/create (Tortoise's words
    first, then how to do it)."""
    if isinstance(field, ManyToManyField | BackwardManyToMany):
        return (
            "You can't set m2m relations through init, use m2m_manager instead: "
            f"save the {model}, then `await obj.{name}.add(...)`"
        )
    if isinstance(field, BackwardOneToOne):
        return (
            "You can't set backward one to one relations through init, change related model "
            f"instead ({model}.{name} is the reverse side of a one-to-one)"
        )
    return (
        "You can't set backward relations through init, change related model instead "
        f"({model}.{name} is the reverse side of a foreign key)"
    )


class Model(metaclass=ModelMeta):
    """Base class of every model. Subclass it and declare fields as class attributes."""

    _meta: ClassVar[MetaInfo]
    # Set on instances loaded together by one query (the N+1 detector reads it).
    _batch: Any = None
    _saved_in_db: bool = False
    # Loaded with only(): some columns are missing, so only update_fields saves work.
    _partial: bool = False

    def __init__(self, **kwargs: Any) -> None:
        self._meta.construct(self, kwargs)

    def _refuse_init_names(self, kwargs: dict[str, Any]) -> None:
        """The constructor's error for a keyword that is not a column."""
        meta = self._meta
        name = type(self).__name__
        for key in kwargs:
            if key in meta.column_names:
                continue
            field = meta.fields.get(key)
            if field is None:
                raise FieldError(
                    f"{name} has no field {key!r}; valid fields: {', '.join(sorted(meta.fields))}"
                )
            if isinstance(field, ManyToManyField | BackwardManyToMany | BackwardRelation):
                raise ConfigurationError(_relation_through_init(name, key, field))

    @classmethod
    def construct(cls, _saved_in_db: bool = False, **kwargs: Any) -> Self:
        """An instance built as given, with no validation and no database (for unit tests and
        serialisation): related objects and lists of them are taken as already fetched,
        unsaved related objects are accepted, unknown names are stored as attributes."""
        meta = cls._meta
        self = cls.__new__(cls)
        state = self.__dict__
        state["_saved_in_db"] = _saved_in_db
        provided: set[str] = set()
        for key, value in kwargs.items():
            field = meta.fields.get(key)
            if isinstance(field, ManyToManyField | BackwardManyToMany) or (
                isinstance(field, BackwardRelation) and not isinstance(field, BackwardOneToOne)
            ):
                state[cache_key(key)] = list(value)
            elif isinstance(field, BackwardOneToOne):
                state[cache_key(key)] = value
            elif isinstance(field, ForeignKeyField):
                state[cache_key(key)] = value
                state[field.attname] = None if value is None else field.key_of(value)
                provided.add(field.attname)
            else:
                state[key] = value
                provided.add(key)
        for field in meta.columns:
            key = attname(field)
            if key in provided:
                continue
            default = field.default
            if inspect.iscoroutinefunction(default):
                state[key] = None
            elif field.has_default():
                state[key] = field.default_value()
            elif field.has_db_default():
                state[key] = DatabaseDefault(field)
            else:
                state[key] = None
        return self

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
        return hash(self.pk)  # as Tortoise; equality still needs the same model

    def __str__(self) -> str:
        return f"<{type(self).__name__}>"

    def __repr__(self) -> str:
        if self.pk is not None:
            return f"<{type(self).__name__}: {self.pk}>"
        return f"<{type(self).__name__}>"

    # Class-level queries -----------------------------------------------------------------

    @classmethod
    def all(cls, using_db: Any = None) -> QuerySet[Self]:
        query = cls._meta.manager.get_queryset()
        return query if using_db is None else query.using_db(using_db)  # type: ignore[no-any-return]

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
    def first(cls, using_db: Any = None) -> QuerySetSingle[Self | None]:
        return cls.all(using_db).first()

    @classmethod
    def last(cls, using_db: Any = None) -> QuerySetSingle[Self | None]:
        return cls.all(using_db).last()

    @classmethod
    def latest(cls, *names: str, using_db: Any = None) -> QuerySetSingle[Self | None]:
        return cls.all(using_db).latest(*names)

    @classmethod
    def earliest(cls, *names: str, using_db: Any = None) -> QuerySetSingle[Self | None]:
        return cls.all(using_db).earliest(*names)

    @classmethod
    def get(cls, *args: Any, using_db: Any = None, **kwargs: Any) -> QuerySetSingle[Self]:
        return cls.all(using_db).get(*args, **kwargs)

    @classmethod
    def get_or_none(
        cls, *args: Any, using_db: Any = None, **kwargs: Any
    ) -> QuerySetSingle[Self | None]:
        return cls.all(using_db).get_or_none(*args, **kwargs)

    @classmethod
    async def exists(cls, *args: Any, using_db: Any = None, **kwargs: Any) -> bool:
        return await cls.all(using_db).filter(*args, **kwargs).exists()

    @classmethod
    def select_for_update(cls, *args: Any, **kwargs: Any) -> QuerySet[Self]:
        return cls.all().select_for_update(*args, **kwargs)

    @classmethod
    async def _by_pk(cls, key: Any) -> Self:
        try:
            found = await cls.filter(pk=key).first()
        except ValidationError:
            found = None
        if found is None:
            raise ObjectDoesNotExistError(cls, cls._meta.pk.name, key)
        return found

    @classmethod
    async def create(cls, using_db: Any = None, **kwargs: Any) -> Self:
        instance = cls(**kwargs)
        await instance.save(using_db=using_db, force_create=True)
        return instance

    @classmethod
    async def get_or_create(
        cls, defaults: dict[str, Any] | None = None, using_db: Any = None, **kwargs: Any
    ) -> tuple[Self, bool]:
        """The row matching `kwargs`, or a new one with `defaults` as well. Safe under
        concurrency: a racing insert of the same unique values is read back instead."""
        if not kwargs:
            raise ParamsError("get_or_create needs keyword arguments to look the row up by")
        merged = _merged_defaults(kwargs, defaults)
        from yara_orm.transactions import in_transaction, savepoint

        found = await cls.filter(**kwargs).using_db(using_db).get_or_none() if using_db else None
        if found is not None:
            return found, False
        async with in_transaction(router.connection_for(cls, write=True)) as outer:
            client = using_db or outer
            found = await cls.filter(**kwargs).using_db(client).get_or_none()
            if found is not None:
                return found, False
            try:
                async with savepoint(outer):
                    return await cls.create(using_db=client, **merged), True
            except IntegrityError as conflict:
                # Another task inserted it meanwhile: that row is the answer.
                found = await cls.filter(**kwargs).using_db(client).get_or_none()
                if found is None:
                    raise conflict from None
                return found, False

    @classmethod
    async def update_or_create(
        cls, defaults: dict[str, Any] | None = None, using_db: Any = None, **kwargs: Any
    ) -> tuple[Self, bool]:
        """The row matching `kwargs` updated with `defaults`, or a new one with both. A row
        inserted or deleted by a racing task meanwhile is handled, as in Tortoise."""
        from yara_orm.transactions import in_transaction

        for attempt in range(3):
            async with in_transaction(router.connection_for(cls, write=True)) as client:
                db = using_db or client
                found = await cls.filter(**kwargs).using_db(db).select_for_update().get_or_none()
                if found is not None:
                    # As in Tortoise, defaults update the row found (a conflict with kwargs is
                    # only checked before creating one); the key it already has is no update.
                    changes = {
                        key: value
                        for key, value in (defaults or {}).items()
                        if not (key in ("pk", cls._meta.pk.name) and value == found.pk)
                    }
                    for key, value in changes.items():
                        setattr(found, key, value)
                    await found.save(using_db=db, update_fields=list(changes) or None)
                    return found, False
            _merged_defaults(kwargs, defaults)
            if attempt == 2:
                break
            instance, created = await cls.get_or_create(defaults, using_db, **kwargs)
            if created:
                return instance, True
            # Someone else inserted it: update that row on the next round.
        raise OperationalError(
            f"{cls.__name__}.update_or_create() could not recover from concurrent deletions"
        )

    @classmethod
    async def bulk_create(
        cls,
        objects: Iterable[Self],
        batch_size: int | None = None,
        ignore_conflicts: bool = False,
        update_fields: Iterable[str] | None = None,
        on_conflict: Iterable[str] | None = None,
        using_db: Any = None,
    ) -> list[Self]:
        from yara_orm.query.writes import bulk_create

        created = await bulk_create(
            cls,
            list(objects),
            batch_size,
            using_db,
            ignore_conflicts,
            list(update_fields or []),
            list(on_conflict or []),
        )
        return created  # type: ignore[return-value]

    @classmethod
    async def bulk_update(
        cls,
        objects: Iterable[Self],
        fields: Iterable[str],
        batch_size: int | None = None,
        using_db: Any = None,
    ) -> int:
        from yara_orm.query.writes import bulk_update

        return await bulk_update(cls, list(objects), list(fields), batch_size, using_db)

    @classmethod
    async def in_bulk(
        cls, id_list: Iterable[Any], field_name: str = "pk", using_db: Any = None
    ) -> dict[Any, Self]:
        return await cls.all(using_db).in_bulk(id_list, field_name)

    @classmethod
    def raw(cls, sql: str, using_db: Any = None) -> RawQuery[Self]:
        """Instances from your own SQL: `await Book.raw("SELECT * FROM book WHERE …")`."""
        from yara_orm.query.raw import RawQuery

        return RawQuery(cls, sql, using_db)

    @classmethod
    def describe(cls, serializable: bool = True) -> dict[str, Any]:
        """The model's description (table, fields, relations), as Tortoise gives it."""
        from yara_orm.models.describe import describe_model

        return describe_model(cls, serializable)

    # Instance writes ---------------------------------------------------------------------

    def _validated_state(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Column -> database value, after checking every value against its field. Fields
        left to their db_default are omitted; expressions are passed through."""
        meta = self._meta
        plan = (
            meta.write_plan
            if names is None
            else tuple(write_step(meta.column_field(n)) for n in names)
        )
        state = self.__dict__
        saved = self._saved_in_db
        as_validated = "_as_validated" in state
        values: dict[str, Any] = {}
        for field, key, column, is_fk, auto_now, valid_until_replaced, to_db in plan:
            value = state.get(key)
            if auto_now and saved:  # datetime or time
                value = field.default_value()
                state[key] = value
            if is_fk:
                related = state.get(cache_key(field.name))
                if related is not None and not isinstance(related, Model):
                    related = None  # a pending relation, not an object
                if related is not None and not related._saved_in_db:
                    raise OperationalError(
                        f"You should first call .save() on {related!r} before referring to it "
                        f"({type(self).__name__}.{field.name})"
                    )
                if related is not None and value is None:
                    value = cast("ForeignKeyField[Any]", field).key_of(related)
                    state[key] = value
            if value is None:
                if field.generated:
                    continue
            elif isinstance(value, DatabaseDefault | Expression):
                if isinstance(value, Expression):
                    values[column] = value
                continue
            if not (as_validated and valid_until_replaced):
                value = field.validate(value)
                state[key] = value
            values[column] = value if to_db is None else to_db(value)
        return values

    async def _await_defaults(self) -> None:
        waiting = self.__dict__.pop("_await_when_save", None)
        if waiting:
            for name, default in waiting.items():
                if self.__dict__.get(name) is None:
                    field = self._meta.fields[name]
                    self.__dict__[name] = field.validate(await default())

    async def save(
        self,
        using_db: Any = None,
        update_fields: Iterable[str] | None = None,
        force_create: bool = False,
        force_update: bool = False,
    ) -> None:
        """INSERT a new instance (or one whose pk was set to None), UPDATE a saved one.
        `update_fields` writes only those; `force_create` / `force_update` insist."""
        from yara_orm.query.writes import insert_instance, update_instance

        fields = None if update_fields is None else list(update_fields)
        if self._partial:
            self._check_partial_save(fields)
        await self._await_defaults()
        await signals.send(signals.Signals.pre_save, self, using_db, fields)
        if force_create:
            await insert_instance(self, using_db)
            created = True
        elif force_update:
            if await update_instance(self, fields, using_db) == 0:
                raise IntegrityError(f"Can't update object that doesn't exist. PK: {self.pk}")
            created = False
        elif (self._saved_in_db or fields) and self.pk is not None:
            await update_instance(self, fields, using_db)
            created = False
        else:
            await insert_instance(self, using_db)
            created = True
        self._saved_in_db = True
        await signals.send(signals.Signals.post_save, self, created, using_db, fields)

    def _check_partial_save(self, fields: list[str] | None) -> None:
        """An instance loaded with only() saves the loaded fields it names, by its pk."""
        name = type(self).__name__
        if not fields:
            raise IncompleteInstanceError(
                f"{name} is a partial model (loaded with only()): it can only be saved with "
                "update_fields naming the fields it has"
            )
        if self._meta.pk_attr not in self.__dict__:
            raise IncompleteInstanceError(
                f"{name} is a partial model without its primary key loaded. Partial update not "
                "available: add the primary key to only()"
            )
        for field_name in fields:
            field = self._meta.fields.get(field_name)
            if field is not None and attname(field) not in self.__dict__:
                raise IncompleteInstanceError(
                    f"{name} is a partial model, field '{field_name}' is not available"
                )

    async def delete(self, using_db: Any = None) -> None:
        if not self._saved_in_db or self.pk is None:
            raise OperationalError("Can't delete unpersisted record")
        await signals.send(signals.Signals.pre_delete, self, using_db)
        await type(self).filter(pk=self.pk).using_db(using_db).delete()
        self._saved_in_db = False
        await signals.send(signals.Signals.post_delete, self, using_db)

    async def refresh_from_db(
        self, fields: Iterable[str] | None = None, using_db: Any = None
    ) -> None:
        names = list(fields) if fields is not None else None
        query = type(self).filter(pk=self.pk).using_db(using_db)
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
        self._partial = False

    def _gone(self) -> Exception:
        return DoesNotExist(f"{type(self).__name__} with pk={self.pk!r} no longer exists")

    async def fetch_related(self, *names: Any, using_db: Any = None) -> None:
        from yara_orm.query.prefetch import prefetch_related_objects

        await prefetch_related_objects([self], names, using_db)

    @classmethod
    async def fetch_for_list(
        cls, instance_list: Iterable[Model], *names: Any, using_db: Any = None
    ) -> None:
        """Load relations onto many instances of this model at once (one query per relation,
        as `prefetch_related`)."""
        from yara_orm.query.prefetch import prefetch_related_objects

        instances = list(instance_list)
        strangers = [i for i in instances if not isinstance(i, cls)]
        if strangers:
            raise ParamsError(
                f"{cls.__name__}.fetch_for_list() takes {cls.__name__} instances, "
                f"not {type(strangers[0]).__name__}"
            )
        await prefetch_related_objects(instances, names, using_db)

    def clone(self, pk: Any = None) -> Self:
        """An unsaved copy (with `pk`, or without one so saving inserts a new row)."""
        meta = self._meta
        if pk is None and meta.pk.required:
            raise ParamsError(
                f"{type(self).__name__}.clone() needs pk=...: its primary key is not generated"
            )
        copied = copy.copy(self)
        copied.__dict__ = dict(self.__dict__)
        copied.__dict__.pop("_batch", None)
        copied.pk = pk
        copied._saved_in_db = False
        return copied

    def update_from_dict(self, data: dict[str, Any]) -> Self:
        """Set fields from `data`, validated. As in Tortoise, keys that are not fields are
        ignored (a request body may carry more), and to-many relations are refused."""
        meta = self._meta
        for key, value in data.items():
            field = meta.fields.get(key)
            if field is None:
                if any(key == attname(f) for f in meta.columns):
                    setattr(self, key, value)
                continue
            if field.is_relation and not isinstance(field, ForeignKeyField):
                raise ConfigurationError(_relation_through_init(type(self).__name__, key, field))
            if not field.is_relation:
                value = field.validate(value)  # a bad value fails here, not at save()
            setattr(self, key, value)
        return self

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        """(field name, value) for each column, so `dict(obj)` works as in Tortoise."""
        for field in self._meta.columns:
            key = attname(field)
            yield key, getattr(self, key)

    def __setattr__(self, name: str, value: Any) -> None:
        state = self.__dict__
        if "_as_validated" in state:
            del state["_as_validated"]
        if name in self._meta.fk_attnames:
            # Setting `reporter_id` forgets a cached `reporter` that no longer matches.
            state.pop(cache_key(self._meta.fk_attnames[name]), None)
        object.__setattr__(self, name, value)


__all__ = ["Model"]
