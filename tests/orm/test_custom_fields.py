"""Tortoise-style custom fields: their conversions run on writes, filters and reads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import reset_public_schema
from tests.orm.custom_field_models import Colour, Paint
from yara_orm import YaraOrm, connections


@pytest.fixture
async def paints(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if backend == "sqlite":
        url = "sqlite://:memory:"
    else:
        url = str(request.getfixturevalue("pg_url"))
        await reset_public_schema(url)
    await YaraOrm.init(url, models=["tests.orm.custom_field_models"])
    await YaraOrm.generate_schemas()
    try:
        yield backend
    finally:
        await YaraOrm.close()


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
