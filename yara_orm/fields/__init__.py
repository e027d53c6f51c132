"""Model fields: `from yara_orm import fields`, then `fields.CharField(max_length=100)`."""

from yara_orm.fields.base import Field
from yara_orm.fields.relations import (
    CASCADE,
    NO_ACTION,
    RESTRICT,
    SET_DEFAULT,
    SET_NULL,
    ForeignKeyField,
    ManyToManyField,
    OneToOneField,
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

OnDelete = str

__all__ = [
    "CASCADE",
    "NO_ACTION",
    "RESTRICT",
    "SET_DEFAULT",
    "SET_NULL",
    "BigIntField",
    "BinaryField",
    "BooleanField",
    "CharEnumField",
    "CharField",
    "DateField",
    "DatetimeField",
    "DecimalField",
    "Field",
    "FloatField",
    "ForeignKeyField",
    "IntEnumField",
    "IntField",
    "JSONField",
    "ManyToManyField",
    "OnDelete",
    "OneToOneField",
    "SmallIntField",
    "TextField",
    "TimeDeltaField",
    "TimeField",
    "UUIDField",
]
