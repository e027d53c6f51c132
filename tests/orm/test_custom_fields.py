"""Tortoise-style custom fields: their conversions run on writes, filters and reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from tests.orm.conftest import initialised
from tests.orm.custom_field_models import Colour, Paint
from yara_orm import ValidationError, connections


@pytest.fixture
async def paints(backend: str, db_url: str) -> AsyncIterator[str]:
    async with initialised(db_url, "tests.orm.custom_field_models"):
        yield backend


async def test_custom_field_converts_both_ways(paints: str) -> None:
    await Paint.create(name="a", colour=Colour.RED, extra=[1, 2])
    await Paint.create(name="b", colour=Colour.GREEN)
    await Paint.create(name="c")
    stored = await connections.get().execute_query_dict(
        'SELECT "name", "colour" FROM "paint" ORDER BY "name"'
    )
    assert [row["colour"] for row in stored] == ["r", "g", None]
    loaded = await Paint.get(name="a")
    assert (loaded.colour, loaded.extra) == (Colour.RED, [1, 2])
    assert [p.name for p in await Paint.filter(colour=Colour.GREEN)] == ["b"]
    assert await Paint.filter(colour__in=[Colour.RED, Colour.GREEN]).count() == 2
    assert await Paint.filter(name="a").values_list("colour", flat=True) == [Colour.RED]


async def test_an_overridden_datetime_reading_is_used_for_every_row(paints: str) -> None:
    # Reading a UTC datetime is done in the engine only for the field's own reading.
    dried = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.UTC)
    await Paint.bulk_create([Paint(name=f"p{i}", dried=dried) for i in range(3)])
    expected = "2024-05-01T09:30:00+00:00"
    assert (await Paint.get(name="p0")).dried == expected
    assert [p.dried for p in await Paint.all()] == [expected] * 3
    assert await Paint.all().values_list("dried", flat=True) == [expected] * 3
    assert [row["dried"] for row in await Paint.all().values("dried")] == [expected] * 3


async def test_custom_field_rejects_what_its_conversion_rejects(paints: str) -> None:
    with pytest.raises(TypeError, match="expected Colour"):
        await Paint.create(name="x", colour="red")
    assert await Paint.all().count() == 0


async def test_a_subclass_that_checks_more_is_checked_by_the_constructor(paints: str) -> None:
    paint = Paint(name="a", label="quiet")
    assert paint.label == "QUIET"
    await paint.save()
    assert await Paint.filter(label="QUIET").count() == 1
    with pytest.raises(ValidationError, match="label"):
        Paint(name="b", label="far too long")
