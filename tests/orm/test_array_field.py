"""`ArrayField` (Tortoise's `tortoise.contrib.postgres.fields.ArrayField`): lists in PostgreSQL
array columns and the array lookups; on SQLite a clear refusal when the schema is made."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.orm.array_models import Readings
from tests.orm.conftest import initialised
from yara_orm import ConfigurationError, DataError, ValidationError, YaraOrm
from yara_orm.contrib.postgres import ArrayField

MODELS = "tests.orm.array_models"


# Array columns are PostgreSQL's: those tests run there; SQLite's refusal is tested on SQLite.
on_postgres = pytest.mark.parametrize("backend", ["postgres"])


@pytest.fixture
async def arrays(db_url: str) -> AsyncIterator[None]:
    async with initialised(db_url, MODELS):
        yield


async def ids(**lookup: object) -> list[int]:
    return sorted(r.id for r in await Readings.filter(**lookup))


@on_postgres
async def test_lists_round_trip_and_update(arrays: None) -> None:
    first = await Readings.create(values=[3, 1, 2], labels=["a", "bc"])
    loaded = await Readings.get(id=first.id)
    assert (loaded.values, loaded.labels, loaded.small) == ([3, 1, 2], ["a", "bc"], None)
    assert await Readings.get(id=first.id).values_list("values", flat=True) == [3, 1, 2]
    await Readings.filter(id=first.id).update(values=[7])
    assert (await Readings.get(id=first.id)).values == [7]
    loaded.values = (4, 5)  # a tuple is stored as a list
    await loaded.save()
    assert (await Readings.get(id=first.id)).values == [4, 5]
    assert (await Readings.create(values=[])).values == []


@on_postgres
async def test_bulk_create_writes_each_rows_own_array(arrays: None) -> None:
    await Readings.bulk_create([Readings(values=[i] * i) for i in range(1, 4)])
    stored = await Readings.all().order_by("id").values_list("values", flat=True)
    assert stored == [[1], [2, 2], [3, 3, 3]]


@on_postgres
async def test_equality_and_the_array_lookups(arrays: None) -> None:
    a = (await Readings.create(values=[1, 2, 3], labels=["x", "y"], small=[1, 2])).id
    b = (await Readings.create(values=[2, 3])).id
    c = (await Readings.create(values=[4, 5, 6], labels=["y"])).id
    empty = (await Readings.create(values=[])).id
    assert await ids(values=[2, 3]) == [b]
    assert await ids(values__not=[2, 3]) == [a, c, empty]
    assert await ids(values__contains=[2]) == [a, b]
    assert await ids(values__contains=[2, 9]) == []
    assert await ids(labels__contains=["x", "y"]) == [a]
    assert await ids(small__contains=[2]) == [a]
    assert await ids(values__contained_by=[1, 2, 3]) == [a, b, empty]
    assert await ids(labels__contained_by=["y", "z"]) == [c]
    assert await ids(values__overlap=[3, 4]) == [a, b, c]
    assert await ids(values__overlap=[9]) == []
    assert await ids(values__len=3) == [a, c]
    assert await ids(values__len=0) == [empty]


@on_postgres
async def test_bad_values_are_refused_clearly(arrays: None) -> None:
    with pytest.raises(ValidationError, match=r"Readings.values: 'x' is not a list"):
        await Readings.create(values="x")
    with pytest.raises(ValidationError, match="is not a length"):
        await Readings.filter(values__len="3").count()
    with pytest.raises(DataError):
        await Readings.create(values=[1], labels=["toolong"])  # varchar(3)
    with pytest.raises(
        ValidationError, match=r"Readings.values: \['a'\] holds 'a', which is not INT"
    ):
        await Readings.create(values=["a"])
    with pytest.raises(ValidationError, match="holds True"):
        await Readings.filter(values__contains=[True]).count()
    assert await Readings.all().count() == 0


def test_element_types_are_checked_when_declared() -> None:
    assert ArrayField(element_type="numeric(10, 2)").element_type == "NUMERIC(10, 2)"
    with pytest.raises(ConfigurationError, match="not a PostgreSQL type name"):
        ArrayField(element_type="int); DROP TABLE x; --")


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_sqlite_refuses_the_schema_naming_the_field(db_url: str) -> None:
    await YaraOrm.init(db_url, models=[MODELS])
    try:
        with pytest.raises(ConfigurationError) as refused:
            await YaraOrm.generate_schemas()
        assert str(refused.value) == (
            "Readings.values: ArrayField has no column type on sqlite (only on postgres)"
        )
    finally:
        await YaraOrm.close()
