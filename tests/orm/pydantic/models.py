"""Models for the pydantic tests: each kind of relation, every field type, docstrings.

String annotations (this module's `from __future__ import annotations`) are on purpose: the
creator must resolve them.
"""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from yara_orm import fields
from yara_orm.models import Model


def make_token() -> str:
    return uuid.uuid4().hex[:8]


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Surface(enum.StrEnum):
    CLAY = "clay"
    GRASS = "grass"


class Tournament(Model):
    """A tournament.

    Played once a year."""

    id = fields.IntField(primary_key=True)
    #: What the tournament is called
    name = fields.CharField(max_length=64)
    desc = fields.TextField(null=True)
    created = fields.DatetimeField(auto_now_add=True)

    events: fields.ReverseRelation[Event]

    class Meta:
        ordering = ("id",)

    @property
    def shout(self) -> str:
        """The name, loudly"""
        return self.name.upper()


class Reporter(Model):
    """Who reports on events"""

    name = fields.CharField(max_length=50)

    class Meta:
        ordering = ("id",)


class Team(Model):
    """A team that plays"""

    name = fields.CharField(max_length=50)
    alias = fields.IntField(null=True)

    events: fields.ManyToManyRelation[Event]

    class Meta:
        ordering = ("id",)


class Event(Model):
    """Events on the calendar"""

    event_id = fields.BigIntField(primary_key=True)
    name = fields.TextField(description="The event's name")
    #: Where the event belongs
    #: (one tournament each)
    tournament: fields.ForeignKeyRelation[Tournament] = fields.ForeignKeyField(
        "models.Tournament", related_name="events"
    )
    tournament_id: int
    reporter: fields.ForeignKeyNullableRelation[Reporter] = fields.ForeignKeyField(
        "models.Reporter", related_name="events", null=True
    )
    participants: fields.ManyToManyRelation[Team] = fields.ManyToManyField(
        "models.Team", related_name="events"
    )
    modified = fields.DatetimeField(auto_now=True)
    token = fields.CharField(max_length=8, default=make_token)
    prize = fields.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    alias = fields.IntField(null=True)

    address: fields.BackwardOneToOneRelation[Address]

    class Meta:
        ordering = ("event_id",)


class Address(Model):
    """Where an event happens"""

    city = fields.CharField(max_length=64)
    street = fields.CharField(max_length=128)
    event: fields.OneToOneRelation[Event] = fields.OneToOneField(
        "models.Event", related_name="address", primary_key=True
    )


class Settings(BaseModel):
    theme: str = "light"
    volume: int = 5


class Sample(Model):
    """One of every field type"""

    id = fields.UUIDField(primary_key=True)
    small = fields.SmallIntField(default=0)
    big = fields.BigIntField(null=True)
    ratio = fields.FloatField()
    price = fields.DecimalField(max_digits=8, decimal_places=3)
    flag = fields.BooleanField(default=True)
    label = fields.CharField(max_length=20)
    text = fields.TextField(null=True)
    blob = fields.BinaryField(null=True)
    day = fields.DateField()
    at = fields.DatetimeField()
    clock = fields.TimeField(null=True)
    span = fields.TimeDeltaField(null=True)
    ref = fields.UUIDField(null=True)
    data = fields.JSONField(null=True)
    tags = fields.JSONField[list[str]](default=list)
    settings = fields.JSONField(field_type=Settings, default=Settings)
    priority = fields.IntEnumField(Priority)
    surface: fields.Field[Surface] = fields.CharEnumField(Surface, default=Surface.CLAY)


class Employee(Model):
    name = fields.CharField(max_length=50)
    manager: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "models.Employee", related_name="team_members", null=True
    )
    talks_to: fields.ManyToManyRelation[Employee] = fields.ManyToManyField(
        "models.Employee", related_name="gets_talked_to"
    )

    team_members: fields.ReverseRelation[Employee]
    gets_talked_to: fields.ManyToManyRelation[Employee]

    class Meta:
        ordering = ("id",)

    def name_length(self) -> int:
        """Letters in the name"""
        return len(self.name)

    def team_size(self) -> int:
        # Reads a relation of the ORM instance: works only when it is loaded.
        return len(self.team_members)

    def unannotated(self):  # type: ignore[no-untyped-def]
        return 1

    class PydanticMeta:
        computed = ("name_length", "team_size", "unannotated")
        exclude = ("manager", "gets_talked_to")
        allow_cycles = True
        max_recursion = 2


class Author(Model):
    name = fields.CharField(max_length=50)
    secret = fields.CharField(max_length=50, default="")

    books: fields.ReverseRelation[Book]

    class PydanticMeta:
        backward_relations = False
        exclude = ("secret",)
        model_config = ConfigDict(title="Writer", str_strip_whitespace=True)


class Book(Model):
    title = fields.CharField(max_length=100)
    author: fields.ForeignKeyRelation[Author] = fields.ForeignKeyField(
        "models.Author", related_name="books"
    )
    editor: fields.ForeignKeyNullableRelation[Author] = fields.ForeignKeyField(
        "models.Author", related_name="edited", null=True
    )
