"""Model fields: `from yara_orm import fields`, then `fields.CharField(max_length=100)`."""

from yara_orm.fields.base import (
    CASCADE,
    NO_ACTION,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    Field,
    OnDelete,
)
from yara_orm.fields.db_defaults import Now, RandomHex, SqlDefault
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
    ReverseRelation,
)
from yara_orm.fields.scalars import (
    BigIntField,
    BinaryField,
    BooleanField,
    CharEnumField,
    CharField,
    DateField,
    DatetimeField,
    DecimalField,
    FloatField,
    IntEnumField,
    IntField,
    JSONField,
    SmallIntField,
    TextField,
    TimeDeltaField,
    TimeField,
    UUIDField,
)

# Tortoise's alternative spellings (Django's names).
BigIntegerField = BigIntField
DateTimeField = DatetimeField
DurationField = TimeDeltaField
ForeignKey = ForeignKeyField
IntegerField = IntField
SmallIntegerField = SmallIntField

__all__ = [
    "CASCADE",
    "NO_ACTION",
    "RESTRICT",
    "SET_DEFAULT",
    "SET_NULL",
    "BackwardFKRelation",
    "BackwardOneToOneRelation",
    "BigIntField",
    "BigIntegerField",
    "BinaryField",
    "BooleanField",
    "CharEnumField",
    "CharField",
    "DateField",
    "DateTimeField",
    "DatetimeField",
    "DecimalField",
    "DurationField",
    "Field",
    "FloatField",
    "ForeignKey",
    "ForeignKeyField",
    "ForeignKeyNullableRelation",
    "ForeignKeyRelation",
    "IntEnumField",
    "IntField",
    "IntegerField",
    "JSONField",
    "ManyToManyField",
    "ManyToManyRelation",
    "Now",
    "OnDelete",
    "OneToOneField",
    "OneToOneNullableRelation",
    "OneToOneRelation",
    "RandomHex",
    "ReverseRelation",
    "SmallIntField",
    "SmallIntegerField",
    "SqlDefault",
    "TextField",
    "TimeDeltaField",
    "TimeField",
    "UUIDField",
]
