"""The models of the Tortoise-surface tests, grouped by the test file that uses them."""

from __future__ import annotations

import enum
import json
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from yara_orm import Model, fields
from yara_orm.fields import Now, RandomHex, SqlDefault
from yara_orm.indexes import Index, PartialIndex
from yara_orm.manager import Manager
from yara_orm.query.queryset import QuerySet
from yara_orm.validators import (
    CommaSeparatedIntegerListValidator,
    MaxLengthValidator,
    MaxValueValidator,
    MinLengthValidator,
    MinValueValidator,
    RegexValidator,
    validate_email,
    validate_ipv4_address,
)

# Teams and players: exceptions, the model API, expressions, signals. ----------------------


class Team(Model):
    """A team of players."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=50, unique=True, description="The team's name")
    #: Lower is better;
    #: 0 until the first match.
    rank = fields.IntField(default=0)
    motto = fields.TextField(null=True)

    class Meta:
        table_description = "Teams of players"
        ordering = ("name",)


class Player(Model):
    name = fields.CharField(max_length=50)
    team = fields.ForeignKeyField("models.Team", related_name="players", null=True)
    goals = fields.IntField(default=0)
    nickname = fields.CharField(max_length=30, null=True)


class Code(Model):
    """A primary key the database does not generate (clone() needs pk=)."""

    code = fields.CharField(max_length=10, primary_key=True)
    label = fields.CharField(max_length=50)


class Indexed(Model):
    code = fields.CharField(max_length=10)
    kind = fields.CharField(max_length=10)
    active = fields.BooleanField(default=True)

    class Meta:
        indexes = (
            Index(fields=["code"], name="indexed_code_named"),
            ("kind", "code"),
            PartialIndex(fields=["kind"], name="indexed_active_kind", condition={"active": True}),
        )


# Fields: validators, database defaults, enums, JSON. --------------------------------------


def _lowercase(value: str) -> None:
    # A plain callable raising ValueError, as Tortoise allows.
    if value != value.lower():
        raise ValueError(f"{value!r} is not lower case")


class Checked(Model):
    score = fields.IntField(validators=[MinValueValidator(0), MaxValueValidator(10)], default=5)
    code = fields.CharField(
        max_length=10, validators=[RegexValidator(r"^[A-Z]{3}$")], default="ABC"
    )
    nick = fields.CharField(
        max_length=20, null=True, validators=[MinLengthValidator(2), MaxLengthValidator(5)]
    )
    email = fields.CharField(max_length=100, null=True, validators=[validate_email])
    ip = fields.CharField(max_length=40, null=True, validators=[validate_ipv4_address])
    numbers = fields.CharField(
        max_length=50, null=True, validators=[CommaSeparatedIntegerListValidator()]
    )
    tag = fields.CharField(max_length=20, null=True, validators=[_lowercase])


class Defaulted(Model):
    label = fields.CharField(max_length=20, default="plain")
    status = fields.CharField(max_length=10, db_default="new")
    count = fields.IntField(db_default=7)
    flag = fields.BooleanField(db_default=True)
    stamp = fields.DatetimeField(db_default=Now())
    token = fields.CharField(max_length=32, db_default=RandomHex())
    answer = fields.IntField(db_default=SqlDefault("(40 + 2)"))


class AllDefaults(Model):
    """Every column left to the database: an INSERT names none of them."""

    count = fields.IntField(db_default=7)
    flag = fields.BooleanField(db_default=True)


class Colour(enum.StrEnum):
    RED = "red"
    GREEN = "green"
    ULTRAVIOLET = "ultraviolet"


class Size(enum.IntEnum):
    SMALL = 1
    LARGE = 3


def _encode(value: Any) -> str:
    # Decimals are written as JSON numbers, digit for digit (json.dumps cannot).
    if isinstance(value, dict):
        items = (f"{json.dumps(key)}: {_encode(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


def _decode(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


class Palette(BaseModel):
    name: str
    shades: list[int]


class Paint(Model):
    colour = fields.CharEnumField(Colour)
    size = fields.IntEnumField(Size, default=Size.SMALL)
    spare = fields.CharEnumField(Colour, null=True, max_length=20)
    data = fields.JSONField[dict[str, Any]](null=True)
    exact = fields.JSONField(encoder=_encode, decoder=_decode, null=True)
    palette = fields.JSONField(field_type=Palette, null=True)


# Relations. -------------------------------------------------------------------------------


class Country(Model):
    code = fields.CharField(max_length=2, unique=True)
    name = fields.CharField(max_length=50)


class City(Model):
    name = fields.CharField(max_length=50)
    country = fields.ForeignKeyField(to="models.Country", to_field="code", related_name="cities")


class Street(Model):
    """A foreign key without related_name: the reverse side is Tortoise's `streets`."""

    name = fields.CharField(max_length=50)
    city = fields.ForeignKeyField("models.City")


class Mayor(Model):
    name = fields.CharField(max_length=50)
    city = fields.OneToOneField("models.City", related_name="mayor")


class Landmark(Model):
    """related_name=False: City gets no reverse side."""

    name = fields.CharField(max_length=50)
    city = fields.ForeignKeyField("models.City", related_name=False)


class Route(Model):
    name = fields.CharField(max_length=50)
    stops = fields.ManyToManyField(
        "models.City",
        through="route_stop",
        forward_key="stop_city",
        backward_key="stop_route",
        related_name="routes",
    )


class Festival(Model):
    """A many-to-many with Tortoise's default join table, keys and reverse name."""

    name = fields.CharField(max_length=50)
    cities = fields.ManyToManyField("models.City")


class Owner(Model):
    name = fields.CharField(max_length=50)


class Pet(Model):
    name = fields.CharField(max_length=50)
    owner = fields.ForeignKeyField("models.Owner", related_name="pets", on_delete=fields.CASCADE)
    sitter = fields.ForeignKeyField(
        "models.Owner", related_name="sat_pets", null=True, on_delete=fields.SET_NULL
    )
    vet = fields.ForeignKeyField(
        "models.Owner", related_name="patients", null=True, on_delete=fields.RESTRICT
    )
    breeder = fields.ForeignKeyField(
        "models.Owner", related_name="bred", null=True, on_delete=fields.NO_ACTION
    )


# Signals and managers. --------------------------------------------------------------------


class Article(Model):
    title = fields.CharField(max_length=50)
    published = fields.BooleanField(default=False)


class PublishedManager(Manager):
    def get_queryset(self) -> QuerySet[Any]:
        return super().get_queryset().filter(published=True)


class Post(Model):
    title = fields.CharField(max_length=50)
    published = fields.BooleanField(default=False)

    all_objects = Manager()

    class Meta:
        manager = PublishedManager()


class AliveManager(Manager):
    def get_queryset(self) -> QuerySet[Any]:
        return super().get_queryset().filter(deleted=False)


class SoftDeleted(Model):
    """An abstract base whose Meta.manager its subclasses inherit."""

    deleted = fields.BooleanField(default=False)

    class Meta:
        abstract = True
        manager = AliveManager()


class Memo(SoftDeleted):
    text = fields.CharField(max_length=50)
