"""Relation fields: foreign keys, one-to-one, many-to-many, and the reverse sides the ORM
adds to the target models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from yara_orm.exceptions import ConfigurationError, RelationTypeError, ValidationError
from yara_orm.fields.base import (
    CASCADE,
    NO_ACTION,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    Field,
)

if TYPE_CHECKING:
    from yara_orm.models.base import Model

MODEL = TypeVar("MODEL", bound="Model")
ON_DELETE_CHOICES = (CASCADE, RESTRICT, SET_NULL, SET_DEFAULT, NO_ACTION)


def _model_argument(kind: str, model_name: Any, to: Any) -> Any:
    """Tortoise 1.x names the target `to=`; the first positional argument works too."""
    if model_name is not None and to is not None:
        raise ConfigurationError(f"{kind} takes the target model once: positionally or as to=")
    target = model_name if model_name is not None else to
    if target is None:
        raise ConfigurationError(f"{kind} needs the model it points to (to=...)")
    if isinstance(target, str) and not target.strip():
        raise ConfigurationError(f"{kind}: the target model name is empty")
    return target


def cache_key(name: str) -> str:
    """Where an instance keeps a loaded relation (in its `__dict__`)."""
    return f"_rel_{name}"


class RelationField(Field[MODEL]):
    is_relation: ClassVar[bool] = True

    def __init__(
        self, model_name: str | type[Model], related_name: str | bool | None = None, **kw: Any
    ):
        super().__init__(**kw)
        self.model_name = model_name
        # False: no reverse side on the target model.
        self.related_name: str | bool | None = related_name
        self.related_model: type[Model] = None  # type: ignore[assignment]

    def target_name(self) -> str:
        if isinstance(self.model_name, str):
            return self.model_name.rsplit(".", 1)[-1]
        return self.model_name.__name__


def _on_delete(value: str) -> str:
    normalised = str(value).upper().replace("_", " ")
    if normalised not in ON_DELETE_CHOICES:
        raise ConfigurationError(
            f"on_delete={value!r} is not one of {', '.join(ON_DELETE_CHOICES)}"
        )
    return normalised


class ForeignKeyField(RelationField[MODEL]):
    """`book.author` (awaitable until loaded) backed by the column `author_id`, which holds the
    target's primary key, or the unique field named by `to_field=`."""

    unique_relation: ClassVar[bool] = False

    def __init__(
        self,
        model_name: str | type[Model] | None = None,
        related_name: str | bool | None = None,
        on_delete: str = CASCADE,
        db_constraint: bool = True,
        to_field: str | None = None,
        *,
        to: str | type[Model] | None = None,
        **kwargs: Any,
    ) -> None:
        kind = type(self).__name__
        target = _model_argument(kind, model_name, to)
        on_delete = _on_delete(on_delete)
        if on_delete == SET_NULL and not kwargs.get("null"):
            raise ConfigurationError(
                f"{kind}: on_delete=SET_NULL needs null=True, so the column can be emptied"
            )
        super().__init__(target, related_name, **kwargs)
        self.on_delete = on_delete
        self.db_constraint = db_constraint
        self.to_field = to_field
        if self.unique_relation:
            self.unique = True

    @property
    def target_field(self) -> Field[Any]:
        """The target's field this one references: its primary key, or `to_field`."""
        meta = self.related_model._meta
        if self.to_field is None:
            return meta.pk
        return meta.fields[self.to_field]

    @property
    def attname(self) -> str:
        return f"{self.name}_id"

    @property
    def column(self) -> str:
        return self.source_field or self.attname

    @property
    def db_kind(self) -> str:  # type: ignore[override]
        return self.target_field.db_kind

    def type_arguments(self) -> dict[str, Any]:
        return self.target_field.type_arguments()

    def validate(self, value: Any, run_validators: bool = True) -> Any:
        if value is None:
            return super().validate(value, run_validators)
        try:
            return self.target_field.validate(value, run_validators)
        except ValidationError as error:
            # Named as the key it was given for, not as the target's column it refers to.
            raise self.fail(value, f"is not a valid key ({error})") from error

    def init_fast_test(self) -> str | None:
        if type(self).validate is not ForeignKeyField.validate:
            return None
        return self.target_field.init_fast_test()

    @property
    def valid_until_replaced(self) -> bool:
        return not self.validators and self.target_field.valid_until_replaced

    def key_of(self, target: Model) -> Any:
        """The value this field stores for `target`."""
        return target.__dict__.get(self.target_field.name) if self.to_field else target.pk

    def __get__(self, instance: Model | None, owner: type) -> Any:
        if instance is None:
            return self
        from yara_orm.models.related import PendingRelation

        state = instance.__dict__
        key = cache_key(self.name)
        if key in state:
            return state[key]
        if self.attname not in state and state.get("_partial"):
            raise AttributeError(
                f"'{type(instance).__name__}' object has no attribute '{self.name}': it was "
                "not loaded (only() did not name it)"
            )
        if state.get(self.attname) is None:
            return None
        return PendingRelation(instance, self)

    def __set__(self, instance: Model, value: Any) -> None:

        self.check_target(value)
        instance.__dict__[cache_key(self.name)] = value
        instance.__dict__[self.attname] = None if value is None else self.key_of(value)

    def __delete__(self, instance: Model) -> None:
        instance.__dict__.pop(cache_key(self.name), None)
        instance.__dict__[self.attname] = None

    def check_target(self, value: Any) -> None:
        """`value` may be stored in this relation: None or an instance of the target."""
        from yara_orm.models.base import Model

        if value is not None and not isinstance(value, self.related_model or Model):
            model = self.model.__name__ if self.model else "?"
            raise RelationTypeError(
                f"Invalid type for relationship field '{self.name}'. Expected model type "
                f"'{self.target_name()}', but got '{type(value).__name__}' ({model}.{self.name})",
                model=model,
                field=self.name,
                value=value,
            )


class OneToOneField(ForeignKeyField[MODEL]):
    unique_relation: ClassVar[bool] = True


class ManyToManyField(RelationField[MODEL]):
    """Rows of a join table (`through`), managed with `add`, `remove`, `clear`."""

    has_column: ClassVar[bool] = False

    def __init__(
        self,
        model_name: str | type[Model] | None = None,
        through: str | None = None,
        forward_key: str | None = None,
        backward_key: str = "",
        related_name: str | bool | None = None,
        on_delete: str = CASCADE,
        db_constraint: bool = True,
        create_unique_index: bool = True,
        *,
        to: str | type[Model] | None = None,
        unique: bool = True,
        **kwargs: Any,
    ) -> None:
        target = _model_argument(type(self).__name__, model_name, to)
        super().__init__(target, related_name, **kwargs)
        self.through = through
        self.forward_key = forward_key
        self.backward_key = backward_key or None
        self.on_delete = _on_delete(on_delete)
        self.db_constraint = db_constraint
        # A pair may be linked once (a unique index on the join table's two columns).
        self.unique_pairs = create_unique_index and unique

    def resolve(self) -> None:
        """Fill in the join table's names once both models are known (Tortoise's defaults)."""
        own = self.model._meta.table
        target = self.related_model._meta.table
        self.through = self.through or f"{own}_{target}"
        self.forward_key = self.forward_key or f"{self.related_model.__name__.lower()}_id"
        if not self.backward_key:
            backward = f"{own}_id"
            self.backward_key = f"{own}_rel_id" if backward == self.forward_key else backward

    def __get__(self, instance: Model | None, owner: type) -> Any:
        if instance is None:
            return self
        from yara_orm.models.related import ManyToManyManager

        return ManyToManyManager(instance, self)

    def __set__(self, instance: Model, value: Any) -> None:
        raise AttributeError(f"use `await obj.{self.name}.add(...)` to change a many-to-many")


class ReverseSide(Field[Any]):
    """A relation the ORM adds to the target of a foreign key or many-to-many."""

    has_column: ClassVar[bool] = False
    is_relation: ClassVar[bool] = True

    def __init__(self, forward: ForeignKeyField[Any] | ManyToManyField[Any]) -> None:
        super().__init__(null=True)
        # Any: the forward field is a descriptor class, which type checkers would apply here.
        self.forward: Any = forward
        self.related_model = forward.model


class BackwardRelation(ReverseSide):
    """The reverse side of a foreign key: `author.books` (`forward` is the ForeignKeyField)."""

    def __get__(self, instance: Model | None, owner: type) -> Any:
        if instance is None:
            return self
        from yara_orm.models.related import RelatedManager

        return RelatedManager(instance, self)


class BackwardOneToOne(BackwardRelation):
    """The reverse side of a one-to-one: `user.profile` (awaitable until loaded)."""

    def __get__(self, instance: Model | None, owner: type) -> Any:
        if instance is None:
            return self
        from yara_orm.models.related import PendingRelation

        key = cache_key(self.name)
        if key in instance.__dict__:
            return instance.__dict__[key]
        return PendingRelation(instance, self)


class BackwardManyToMany(ReverseSide):
    """The reverse side of a many-to-many: `tag.books` (`forward` is the ManyToManyField)."""

    def __get__(self, instance: Model | None, owner: type) -> Any:
        if instance is None:
            return self
        from yara_orm.models.related import ManyToManyManager

        return ManyToManyManager(instance, self)


# Annotations for relation attributes, as Tortoise spells them. At run time an attribute is the
# related instance, a manager, or an awaitable; these are for type checkers and readers.
ForeignKeyRelation = ForeignKeyField
ForeignKeyNullableRelation = ForeignKeyField
OneToOneRelation = OneToOneField
OneToOneNullableRelation = OneToOneField


class ReverseRelation(Generic[MODEL]):
    """The annotation for a reverse foreign key (`author.books`)."""


class ManyToManyRelation(ReverseRelation[MODEL]):
    """The annotation for either side of a many-to-many."""


BackwardFKRelation = BackwardRelation
BackwardOneToOneRelation = BackwardOneToOne
