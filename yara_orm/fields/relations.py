"""Relation fields: foreign keys, one-to-one, many-to-many, and the reverse sides the ORM
adds to the target models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from yara_orm.exceptions import ConfigurationError
from yara_orm.fields.base import Field

if TYPE_CHECKING:
    from yara_orm.models.base import Model

CASCADE = "CASCADE"
RESTRICT = "RESTRICT"
SET_NULL = "SET NULL"
SET_DEFAULT = "SET DEFAULT"
NO_ACTION = "NO ACTION"
ON_DELETE_CHOICES = (CASCADE, RESTRICT, SET_NULL, SET_DEFAULT, NO_ACTION)


def cache_key(name: str) -> str:
    """Where an instance keeps a loaded relation (in its `__dict__`)."""
    return f"_rel_{name}"


class RelationField(Field):
    is_relation: ClassVar[bool] = True

    def __init__(self, model_name: str | type[Model], related_name: str | None = None, **kw: Any):
        super().__init__(**kw)
        self.model_name = model_name
        self.related_name = related_name
        self.related_model: type[Model] = None  # type: ignore[assignment]

    def target_name(self) -> str:
        if isinstance(self.model_name, str):
            return self.model_name.rsplit(".", 1)[-1]
        return self.model_name.__name__


class ForeignKeyField(RelationField):
    """`book.author` (awaitable until loaded) backed by the column `author_id`."""

    unique_relation: ClassVar[bool] = False

    def __init__(
        self,
        model_name: str | type[Model],
        related_name: str | None = None,
        on_delete: str = CASCADE,
        db_constraint: bool = True,
        **kwargs: Any,
    ) -> None:
        on_delete = on_delete.upper().replace("_", " ")
        if on_delete not in ON_DELETE_CHOICES:
            raise ConfigurationError(
                f"on_delete={on_delete!r} is not one of {', '.join(ON_DELETE_CHOICES)}"
            )
        if on_delete == SET_NULL and not kwargs.get("null"):
            raise ConfigurationError("on_delete=SET_NULL needs null=True")
        super().__init__(model_name, related_name, **kwargs)
        self.on_delete = on_delete
        self.db_constraint = db_constraint
        if self.unique_relation:
            self.unique = True

    @property
    def attname(self) -> str:
        return f"{self.name}_id"

    @property
    def column(self) -> str:
        return self.source_field or self.attname

    @property
    def db_kind(self) -> str:  # type: ignore[override]
        target_pk = self.related_model._meta.pk
        return "bigint" if target_pk.db_kind == "bigint" else target_pk.db_kind

    def type_arguments(self) -> dict[str, Any]:
        return self.related_model._meta.pk.type_arguments()

    def validate(self, value: Any) -> Any:
        if value is None:
            return super().validate(value)
        return self.related_model._meta.pk.validate(value)

    def __get__(self, instance: Model | None, owner: type) -> Any:
        if instance is None:
            return self
        from yara_orm.models.related import PendingRelation

        state = instance.__dict__
        key = cache_key(self.name)
        if key in state:
            return state[key]
        if state.get(self.attname) is None:
            return None
        return PendingRelation(instance, self)

    def __set__(self, instance: Model, value: Any) -> None:
        from yara_orm.models.base import Model

        if value is not None and not isinstance(value, self.related_model or Model):
            raise self.fail(value, f"is not a {self.target_name()} instance")
        instance.__dict__[cache_key(self.name)] = value
        instance.__dict__[self.attname] = None if value is None else value.pk


class OneToOneField(ForeignKeyField):
    unique_relation: ClassVar[bool] = True


class ManyToManyField(RelationField):
    """Rows of a join table (`through`), managed with `add`, `remove`, `clear`."""

    has_column: ClassVar[bool] = False

    def __init__(
        self,
        model_name: str | type[Model],
        related_name: str | None = None,
        through: str | None = None,
        forward_key: str | None = None,
        backward_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name, related_name, **kwargs)
        self.through = through
        self.forward_key = forward_key
        self.backward_key = backward_key

    def resolve(self) -> None:
        """Fill in the join table's names once both models are known."""
        own = self.model._meta.table
        target = self.related_model._meta.table
        self.through = self.through or f"{own}_{target}"
        self.backward_key = self.backward_key or f"{self.model.__name__.lower()}_id"
        forward = f"{self.related_model.__name__.lower()}_id"
        if forward == self.backward_key:  # a model related to itself
            forward = f"related_{forward}"
        self.forward_key = self.forward_key or forward

    def __get__(self, instance: Model | None, owner: type) -> Any:
        if instance is None:
            return self
        from yara_orm.models.related import ManyToManyManager

        return ManyToManyManager(instance, self)

    def __set__(self, instance: Model, value: Any) -> None:
        raise AttributeError(f"use `await obj.{self.name}.add(...)` to change a many-to-many")


class ReverseSide(Field):
    """A relation the ORM adds to the target of a foreign key or many-to-many."""

    has_column: ClassVar[bool] = False
    is_relation: ClassVar[bool] = True

    def __init__(self, forward: ForeignKeyField | ManyToManyField) -> None:
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
