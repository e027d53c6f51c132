"""Lookups into JSON documents: paths with filter=, and containment on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.orm.models import Event, Kind
from yara_orm import F, NotSupportedError, ParamsError

DOGS = [
    {
        "breed": "labrador",
        "age": 3,
        "good": True,
        "owner": {"name": "Bob", "pets": [{"n": "Fishy"}]},
    },
    {"breed": "husky", "age": 7, "good": False, "owner": {"name": None, "pets": [{"n": None}]}},
    {"breed": "pug", "age": 12, "owner": {"name": "Ann", "pets": []}},
]


@pytest.fixture
async def dogs(orm: str) -> None:
    for dog in DOGS:
        await Event.create(kind=Kind.OPEN, payload=dog)
    await Event.create(kind=Kind.OPEN, payload=["text", 3, {"msg": "hi"}])


async def breeds(**filters: object) -> list[str]:
    found = await Event.filter(**filters)
    return sorted(e.payload["breed"] for e in found if isinstance(e.payload, dict))


async def test_paths_into_documents(dogs: None) -> None:
    assert await breeds(payload__filter={"breed": "husky"}) == ["husky"]
    assert await breeds(payload__filter={"owner__name": "Bob"}) == ["labrador"]
    assert await breeds(payload__filter={"owner__pets__0__n": "Fishy"}) == ["labrador"]
    assert await breeds(payload__filter={"age__gt": 5}) == ["husky", "pug"]
    assert await breeds(payload__filter={"age__lte": 7, "breed__not": "husky"}) == ["labrador"]
    assert await breeds(payload__filter={"good": True}) == ["labrador"]
    assert await breeds(payload__filter={"owner__name__isnull": True}) == ["husky"]
    assert await breeds(payload__filter={"owner__name__not_isnull": True}) == ["labrador", "pug"]
    assert await breeds(payload__filter={"breed__in": ["pug", "husky"]}) == ["husky", "pug"]
    assert await breeds(payload__filter={"breed": "NotFound"}) == []
    with pytest.raises(ParamsError, match="dict of paths"):
        await Event.filter(payload__filter="breed")


async def test_containment(dogs: None, orm: str) -> None:
    if orm == "sqlite":
        with pytest.raises(NotSupportedError, match="needs PostgreSQL"):
            await Event.filter(payload__contains={"breed": "pug"})
        return
    assert await breeds(payload__contains={"breed": "pug"}) == ["pug"]
    assert await breeds(payload__contains={"owner": {"name": "Bob"}}) == ["labrador"]
    lists = await Event.filter(payload__contains=[{"msg": "hi"}])
    assert [e.payload for e in lists] == [["text", 3, {"msg": "hi"}]]
    small = await Event.filter(payload__contained_by=["text", 3, {"msg": "hi"}, "more"])
    assert len(small) == 1


async def test_values_and_annotations_read_paths_out_of_documents(dogs: None, orm: str) -> None:
    names = (
        await Event.filter(payload__filter={"breed__not_isnull": True})
        .order_by("payload__breed")
        .values_list("payload__breed", "payload__owner__name")
    )
    assert names == [("husky", None), ("labrador", "Bob"), ("pug", "Ann")]
    ages = await Event.annotate(age=F("payload__age")).filter(age__not_isnull=True).order_by("age")
    # SQLite gives the JSON number back as a number; PostgreSQL's #>> gives its text.
    assert [str(e.age) for e in ages] == ["12", "3", "7"] if orm == "postgres" else ["3", "7", "12"]
    first = await Event.annotate(pet=F("payload__owner__pets__0__n")).filter(pet="Fishy").count()
    assert first == 1
