"""The models the ORM tests use: a small bookshop, plus every field type."""

from __future__ import annotations

import enum
from decimal import Decimal

from yara_orm import Model, fields


class Author(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    born = fields.DateField(null=True)

    class Meta:
        ordering = ("name",)


class Tag(Model):
    name = fields.CharField(max_length=50, unique=True)


class Book(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=200)
    author = fields.ForeignKeyField("Author", related_name="books")
    price = fields.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    rating = fields.FloatField(null=True)
    published = fields.DatetimeField(auto_now_add=True)
    tags = fields.ManyToManyField("Tag", related_name="books")

    class Meta:
        unique_together = ("title", "author")


class Profile(Model):
    author = fields.OneToOneField("Author", related_name="profile")
    bio = fields.TextField()


class Kind(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Event(Model):
    id = fields.UUIDField(primary_key=True)
    kind = fields.CharEnumField(Kind)
    priority = fields.IntEnumField(Priority, default=Priority.LOW)
    payload = fields.JSONField(null=True)
    duration = fields.TimeDeltaField(null=True)
    at = fields.TimeField(null=True)
    blob = fields.BinaryField(null=True)
    flag = fields.BooleanField(default=False)
    big = fields.BigIntField(default=0)
    small = fields.SmallIntField(default=0)
    day = fields.DateField(null=True)
    note = fields.TextField(null=True, source_field="note_text")


class Stamped(Model):
    created = fields.DatetimeField(auto_now_add=True)
    modified = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class Note(Stamped):
    text = fields.TextField()
    parent = fields.ForeignKeyField(
        "Note", related_name="children", null=True, on_delete=fields.SET_NULL
    )


class BadlyOrdered(Model):
    """Its Meta.ordering names a field it does not have: queries say so."""

    label = fields.CharField(max_length=10)

    class Meta:
        ordering = ("missing",)
