"""The model API with Tortoise's names: Model[pk], create and its variants, bulk_create's
conflict handling, raw(), describe(), save()'s options, clone(), update_from_dict(), delete(),
repr, `_meta`'s Tortoise attributes, and Meta.indexes."""

from __future__ import annotations

import json

import pytest

from tests.orm.surface.models import City, Code, Indexed, Mayor, Player, Route, Team
from tests.orm.surface.schema import create_indexes
from yara_orm import (
    ConfigurationError,
    FieldError,
    IntegrityError,
    OperationalError,
    ParamsError,
    connections,
    in_transaction,
)
from yara_orm.indexes import Index, PartialIndex

# Creating and finding ------------------------------------------------------------------------


async def test_model_subscript_fetches_by_primary_key(orm: str) -> None:
    team = await Team.create(name="a", rank=2)
    found = await Team[team.pk]
    assert found == team and found is not team
    assert (found.name, found.rank) == ("a", 2)
    code = await Code.create(code="x1", label="X")
    assert (await Code["x1"]).label == "X"
    assert code.pk == "x1"


async def test_get_or_create_uses_defaults_only_to_create(orm: str) -> None:
    team, created = await Team.get_or_create(name="a", defaults={"rank": 4})
    assert created and team.rank == 4
    again, created_again = await Team.get_or_create(name="a", defaults={"rank": 9})
    assert not created_again and again == team and again.rank == 4
    assert await Team.all().count() == 1
    with pytest.raises(ValueError):
        await Team.get_or_create(defaults={"name": "b"})  # nothing to look it up by


async def test_update_or_create_updates_the_found_row(orm: str) -> None:
    team, created = await Team.update_or_create(name="a", defaults={"rank": 1, "motto": "go"})
    assert created and (team.rank, team.motto) == (1, "go")
    updated, created_again = await Team.update_or_create(name="a", defaults={"rank": 2})
    assert not created_again and updated.pk == team.pk
    loaded = await Team.get(name="a")
    assert (loaded.rank, loaded.motto) == (2, "go")
    # Defaults taken from the row itself (its key included) update it.
    row = dict(loaded)
    again, created = await Team.update_or_create(dict(row, rank=3), id=row["id"])
    assert again.pk == team.pk
    assert not created and (await Team.get(pk=team.pk)).rank == 3
    # The row found is updated even where defaults differ from the lookup (as in Tortoise);
    # only creating checks the two agree.
    await Team.update_or_create(id=row["id"], rank=3, defaults={"rank": 4})
    assert (await Team.get(pk=team.pk)).rank == 4
    with pytest.raises(ParamsError, match="Conflict value with key='id'"):
        await Team.update_or_create(id=row["id"] + 100, defaults=row)


async def test_create_and_get_or_create_on_a_transaction(orm: str) -> None:
    async with in_transaction() as connection:
        await Team.create(name="a", using_db=connection)
        team, created = await Team.get_or_create(name="a", using_db=connection)
        assert not created and team.name == "a"
        await connection.rollback()
    assert await Team.all().count() == 0


# bulk_create ---------------------------------------------------------------------------------


async def test_bulk_create_fills_in_primary_keys(orm: str) -> None:
    teams = await Team.bulk_create([Team(name="a"), Team(name="b", rank=5)])
    assert all(t.pk is not None and t._saved_in_db for t in teams)
    assert await Team.all().values_list("id", "name", "rank") == [
        (teams[0].pk, "a", 0),
        (teams[1].pk, "b", 5),
    ]


async def test_bulk_create_ignore_conflicts_skips_existing_rows(orm: str) -> None:
    await Team.create(name="a", rank=1)
    await Team.bulk_create([Team(name="a", rank=9), Team(name="b", rank=2)], ignore_conflicts=True)
    assert await Team.all().values_list("name", "rank") == [("a", 1), ("b", 2)]


async def test_bulk_create_on_conflict_updates_the_named_fields(orm: str) -> None:
    existing = await Team.create(name="a", rank=1, motto="kept")
    teams = await Team.bulk_create(
        [Team(name="a", rank=7, motto="dropped"), Team(name="c", rank=3)],
        update_fields=["rank"],
        on_conflict=["name"],
    )
    # The conflicting row keeps its key; only update_fields changed.
    assert teams[0].pk == existing.pk
    assert await Team.all().values_list("name", "rank", "motto") == [
        ("a", 7, "kept"),
        ("c", 3, None),
    ]


async def test_bulk_create_in_batches_is_all_or_nothing(orm: str) -> None:
    await Team.create(name="taken")
    with pytest.raises(IntegrityError):
        await Team.bulk_create([Team(name="new"), Team(name="taken")], batch_size=1)
    assert await Team.all().values_list("name", flat=True) == ["taken"]


# raw() and describe() --------------------------------------------------------------------------


async def test_raw_builds_instances_from_sql(orm: str) -> None:
    await Team.create(name="a", rank=3)
    await Team.create(name="b", rank=5)
    found = await Team.raw('SELECT *, "rank" * 10 AS tenfold FROM "team" ORDER BY "rank" DESC')
    assert [(t.name, t.rank) for t in found] == [("b", 5), ("a", 3)]
    assert [t.tenfold for t in found] == [50, 30]  # type: ignore[attr-defined]
    assert all(isinstance(t, Team) and t._saved_in_db for t in found)
    with pytest.raises(FieldError, match="primary key"):
        await Team.raw('SELECT "name" FROM "team"')


async def test_raw_on_a_transaction_sees_its_rows(orm: str) -> None:
    async with in_transaction() as connection:
        await Team.create(name="pending", using_db=connection)
        (seen,) = await Team.raw('SELECT * FROM "team"', using_db=connection)
        assert seen.name == "pending"
        await connection.rollback()


async def test_describe_in_tortoise_shape(orm: str) -> None:
    described = Team.describe()
    json.dumps(described)  # serialisable by default
    assert (described["name"], described["app"], described["table"]) == (
        "models.Team",
        "models",
        "team",
    )
    assert described["description"] == "Teams of players"
    assert described["docstring"] == "A team of players."
    assert described["pk_field"]["name"] == "id" and described["pk_field"]["generated"]
    data = {f["name"]: f for f in described["data_fields"]}
    assert set(data) == {"name", "rank", "motto"}
    assert data["name"]["unique"] and data["name"]["description"] == "The team's name"
    assert data["motto"]["nullable"] and data["rank"]["default"] == 0
    # A field's docstring: the `#:` comment lines above it.
    assert data["rank"]["docstring"] == "Lower is better;\n0 until the first match."
    assert data["motto"]["docstring"] is None
    assert [f["name"] for f in described["backward_fk_fields"]] == ["players"]
    (team_fk,) = Player.describe()["fk_fields"]
    assert (team_fk["name"], team_fk["raw_field"], team_fk["python_type"]) == (
        "team",
        "team_id",
        "models.Team",
    )
    assert [f["name"] for f in Mayor.describe()["o2o_fields"]] == ["city"]
    assert [f["name"] for f in City.describe()["backward_o2o_fields"]] == ["mayor"]
    (stops,) = Route.describe()["m2m_fields"]
    assert (stops["through"], stops["forward_key"], stops["backward_key"]) == (
        "route_stop",
        "stop_city",
        "stop_route",
    )
    assert Team.describe(serializable=False)["pk_field"]["python_type"] is int


# save() ----------------------------------------------------------------------------------------


async def test_save_force_create_and_force_update(orm: str) -> None:
    team = Team(id=40, name="a")
    await team.save(force_create=True)
    assert (await Team.get(pk=40)).name == "a"
    with pytest.raises(IntegrityError):
        await Team(id=40, name="b").save(force_create=True)
    team.rank = 3
    await team.save(force_update=True)
    assert (await Team.get(pk=40)).rank == 3
    with pytest.raises(IntegrityError, match="doesn't exist"):
        await Team(id=41, name="c").save(force_update=True)
    assert await Team.all().count() == 1


async def test_save_update_fields_writes_only_those(orm: str) -> None:
    team = await Team.create(name="a", rank=1)
    team.name, team.rank = "b", 99
    await team.save(update_fields=["name"])
    assert await Team.filter(pk=team.pk).values("name", "rank") == [{"name": "b", "rank": 1}]
    # With a primary key, update_fields updates even an instance not loaded from the database.
    await Team(id=team.pk, name="c", rank=5).save(update_fields=["rank"])
    assert await Team.filter(pk=team.pk).values("name", "rank") == [{"name": "b", "rank": 5}]
    with pytest.raises(FieldError):
        await team.save(update_fields=["colour"])


async def test_clone_saves_as_a_new_row(orm: str) -> None:
    team = await Team.create(name="a", rank=3, motto="m")
    copy = team.clone()
    assert copy.pk is None and not copy._saved_in_db and copy is not team
    copy.name = "b"
    await copy.save()
    assert copy.pk not in (None, team.pk)
    assert await Team.all().values_list("name", "rank", "motto") == [("a", 3, "m"), ("b", 3, "m")]
    chosen = team.clone(pk=500)
    chosen.name = "c"
    await chosen.save()
    assert (await Team.get(pk=500)).name == "c"
    code = await Code.create(code="k1", label="K")
    await code.clone(pk="k2").save()
    assert await Code.all().order_by("code").values_list("code", "label") == [
        ("k1", "K"),
        ("k2", "K"),
    ]


async def test_update_from_dict_sets_fields(orm: str) -> None:
    team = await Team.create(name="a")
    other = await Team.create(name="other")
    assert team.update_from_dict({"name": "b", "motto": "m"}) is team
    await team.save()
    assert await Team.filter(pk=team.pk).values_list("name", "motto") == [("b", "m")]
    player = await Player.create(name="p")
    player.update_from_dict({"team": other})
    assert player.team_id == other.pk
    with pytest.raises(ConfigurationError):
        team.update_from_dict({"players": []})  # a reverse relation
    # As Tortoise documents it, keys that are no fields are ignored.
    team.update_from_dict({"colour": "red", "motto": "n"})
    assert team.motto == "n" and not hasattr(team, "colour")


async def test_delete_needs_a_saved_instance(orm: str) -> None:
    with pytest.raises(OperationalError, match="unpersisted"):
        await Team(name="a").delete()
    team = await Team.create(name="a")
    await team.delete()
    assert not team._saved_in_db
    assert not await Team.exists(pk=team.pk)
    with pytest.raises(OperationalError):
        await team.delete()


async def test_repr_and_str(orm: str) -> None:
    unsaved = Team(name="a")
    assert repr(unsaved) == "<Team>" and str(unsaved) == "<Team>"
    await unsaved.save()
    assert repr(unsaved) == f"<Team: {unsaved.pk}>"
    assert repr(await Code.create(code="z", label="Z")) == "<Code: z>"


# _meta -----------------------------------------------------------------------------------------


def test_meta_tortoise_names() -> None:
    meta = Team._meta
    assert meta.db_table == "team" and meta.full_name == "models.Team" and meta.app == "models"
    assert meta.pk_attr == "id" and meta.pk is meta.fields_map["id"]
    assert set(meta.fields_map) == {"id", "name", "rank", "motto", "players"}
    assert meta.db_fields == {"id", "name", "rank", "motto"}
    assert meta.fetch_fields == {"players"}
    assert meta.fk_fields == set()
    assert meta._default_ordering == (("name", "asc"),)
    assert Player._meta.fk_fields == {"team"} and "team_id" in Player._meta.db_fields
    assert Mayor._meta.o2o_fields == {"city"} and Mayor._meta.fk_fields == set()
    assert Route._meta.m2m_fields == {"stops"}
    assert {"routes", "festivals"} <= City._meta.m2m_fields
    assert {"country", "streets", "mayor", "routes"} <= City._meta.fetch_fields
    assert Code._meta.pk_attr == "code"


# Indexes ---------------------------------------------------------------------------------------


async def test_meta_indexes_are_created(orm: str) -> None:
    indexes = create_indexes("indexed")
    assert 'CREATE INDEX IF NOT EXISTS "indexed_code_named" ON "indexed" ("code")' in indexes
    assert 'CREATE INDEX IF NOT EXISTS "idx_indexed_kind_code" ON "indexed" ("kind", "code")' in (
        indexes
    )
    assert any('"indexed_active_kind"' in sql for sql in indexes)
    if orm == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'indexed'"
    else:
        sql = "SELECT indexname FROM pg_indexes WHERE tablename = 'indexed'"
    names = {row[0] for row in await connections.get().fetch(sql)}
    assert {"indexed_code_named", "idx_indexed_kind_code", "indexed_active_kind"} <= names
    described = Indexed.describe()["indexes"]
    assert [(i["type"], i["fields"], i["name"]) for i in described] == [
        ("Index", ["code"], "indexed_code_named"),
        ("Index", ["kind", "code"], None),
        ("PartialIndex", ["kind"], "indexed_active_kind"),
    ]


def test_index_declarations() -> None:
    assert Index(fields=("a", "b"), name="n") == Index(fields=["a", "b"], name="n")
    assert PartialIndex(fields=["a"], condition={"b": 1}).condition == {"b": 1}
    with pytest.raises(ConfigurationError):
        Index()
    with pytest.raises(ConfigurationError, match="expression"):
        Index("lower(name)")


def test_meta_ordering_passes_down_from_an_abstract_base() -> None:
    from yara_orm import fields
    from yara_orm.models import Model

    class Ordered(Model):
        rank = fields.IntField()

        class Meta:
            abstract = True
            ordering = ("-rank",)

    class Inherits(Ordered):
        class Meta:
            abstract = True

    class Unordered(Ordered):
        class Meta:
            abstract = True
            ordering = ()

    assert Inherits._meta.ordering == ("-rank",)
    assert Unordered._meta.ordering == ()
    with pytest.raises(ConfigurationError, match="'max_length' must be >= 1"):
        fields.CharField(max_length=0)
