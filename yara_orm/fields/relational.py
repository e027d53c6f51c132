"""Tortoise's `tortoise.fields.relational`, by its names: the relation fields (Tortoise calls
the field objects `…Instance`), their reverse sides, and the annotations."""

from yara_orm.fields.relations import (
    BackwardFKRelation,
    BackwardOneToOneRelation,
    ForeignKeyField,
    ForeignKeyNullableRelation,
    ForeignKeyRelation,
    ManyToManyField,
    ManyToManyRelation,
    OneToOneField,
    OneToOneNullableRelation,
    OneToOneRelation,
    RelationField,
    ReverseRelation,
)

ForeignKeyFieldInstance = ForeignKeyField
OneToOneFieldInstance = OneToOneField
ManyToManyFieldInstance = ManyToManyField
RelationalField = RelationField

__all__ = [
    "BackwardFKRelation",
    "BackwardOneToOneRelation",
    "ForeignKeyField",
    "ForeignKeyFieldInstance",
    "ForeignKeyNullableRelation",
    "ForeignKeyRelation",
    "ManyToManyField",
    "ManyToManyFieldInstance",
    "ManyToManyRelation",
    "OneToOneField",
    "OneToOneFieldInstance",
    "OneToOneNullableRelation",
    "OneToOneRelation",
    "RelationalField",
    "ReverseRelation",
]
