"""Less common options: named connections, select_for_update, on_delete variants, custom
join tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import reset_public_schema
from yara_orm import IntegrityError, Model, YaraOrm, connections, fields, in_transaction


class Shelf(Model):
    label = fields.CharField(max_length=20, db_index=True, description="what is written on it")

    class Meta:
        table = "shelves"
        indexes = (("label", "id"),)


class Item(Model):
    shelf = fields.ForeignKeyField("Shelf", related_name="items", on_delete=fields.RESTRICT)
    fallback = fields.ForeignKeyField(
        "Shelf", related_name="spares", null=True, default=None, on_delete=fields.SET_DEFAULT
    )
    labels = fields.ManyToManyField(
        "Shelf", related_name="labelled", through="item_labels", forward_key="shelf_ref"
    )


class Ledger(Model):
    entry = fields.TextField()

    class Meta:
        connection = "archive"


@pytest.fixture
async def setup(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if backend == "sqlite":
        url = "sqlite://:memory:"
    else:
        url = str(request.getfixturevalue("pg_url"))
        await reset_public_schema(url)
    await YaraOrm.init(
        url,
        models=[Shelf, Item, Ledger],
        connections_config={"archive": f"sqlite:///{tmp_path}/archive.db"},
    )
    await YaraOrm.generate_schemas()
    try:
        yield backend
    finally:
        await YaraOrm.close()


async def test_named_connections_route_their_models(setup: str) -> None:
    await Ledger.create(entry="first")
    assert await connections.get("archive").fetch("SELECT entry FROM ledger") == [("first",)]
    assert connections.get("archive").dialect.name == "sqlite"


async def test_restrict_and_set_default(setup: str) -> None:
    shelf = await Shelf.create(label="A")
    spare = await Shelf.create(label="B")
    item = await Item.create(shelf=shelf, fallback=spare)
    with pytest.raises(IntegrityError):
        await shelf.delete()
    await spare.delete()
    assert (await Item.get(pk=item.pk)).fallback_id is None


async def test_custom_join_table(setup: str) -> None:
    shelf = await Shelf.create(label="A")
    item = await Item.create(shelf=shelf)
    await item.labels.add(shelf)
    rows = await connections.get().fetch("SELECT item_id, shelf_ref FROM item_labels")
    assert rows == [(item.pk, shelf.pk)]
    assert [i.pk for i in await shelf.labelled.all()] == [item.pk]


async def test_select_for_update(setup: str) -> None:
    await Shelf.create(label="A")
    query = Shelf.filter(label="A").select_for_update()
    if setup == "postgres":
        assert query.sql().endswith("FOR UPDATE")
    else:
        assert "FOR UPDATE" not in query.sql()  # SQLite locks the whole database instead
    async with in_transaction():
        assert [s.label for s in await query] == ["A"]


def test_indexes_and_descriptions_reach_the_schema(setup: str) -> None:
    statements = "\n".join(YaraOrm.schema_statements())
    assert 'CREATE INDEX IF NOT EXISTS "idx_shelves_label" ON "shelves" ("label")' in statements
    assert '"idx_shelves_label_id" ON "shelves" ("label", "id")' in statements
    assert Shelf._meta.fields["label"].description == "what is written on it"
