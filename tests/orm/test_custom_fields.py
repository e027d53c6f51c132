"""Tortoise-style custom fields: their conversions run on writes, filters and reads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.orm.conftest import initialised
from tests.orm.custom_field_models import Colour, Paint
from yara_orm import connections


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


async def test_custom_field_rejects_what_its_conversion_rejects(paints: str) -> None:
    with pytest.raises(TypeError, match="expected Colour"):
        await Paint.create(name="x", colour="red")
    assert await Paint.all().count() == 0
