"""Relations as Tortoise declares them: to=, to_field=, related_name=False, the default reverse
names and join tables, 'app.Model' references across apps, explicit join tables and keys, and
each on_delete."""

from __future__ import annotations

import pytest

from tests.orm.surface.app_models import Crate, Supplier
from tests.orm.surface.models import (
    City,
    Country,
    Festival,
    Landmark,
    Mayor,
    Owner,
    Pet,
    Route,
    Street,
)
from tests.orm.surface.schema import create_table
from yara_orm import IntegrityError, YaraOrm, connections, fields
from yara_orm.exceptions import ConfigurationError

APP_MODELS = "tests.orm.surface.app_models"


async def _rows(sql: str) -> list[tuple[object, ...]]:
    return sorted(await connections.get().fetch(sql))


@pytest.fixture
async def paris(orm: str) -> City:
    france = await Country.create(code="FR", name="France")
    return await City.create(name="Paris", country=france)


# to= and to_field= ----------------------------------------------------------------------------


def test_target_given_as_to() -> None:
    assert fields.ForeignKeyField(to="models.Team").model_name == "models.Team"
    assert fields.ManyToManyField(to="models.City").model_name == "models.City"
    assert fields.OneToOneField(to="models.City").model_name == "models.City"
    with pytest.raises(ConfigurationError, match="once"):
        fields.ForeignKeyField("models.Team", to="models.Team")
    with pytest.raises(ConfigurationError):
        fields.ManyToManyField(to="  ")


async def test_to_field_stores_the_referenced_field(paris: City) -> None:
    # The column holds the country's code, not its id, and references that column.
    assert paris.country_id == "FR"
    assert await _rows('SELECT "country_id" FROM "city"') == [("FR",)]
    create_city = create_table("city")
    assert '"country_id" VARCHAR(2) NOT NULL REFERENCES "country" ("code")' in create_city
    loaded = await City.get(pk=paris.pk)
    assert loaded.country_id == "FR"
    assert (await loaded.country).name == "France"


async def test_to_field_reverse_side_and_filters(paris: City) -> None:
    france = await Country.get(code="FR")
    germany = await Country.create(code="DE", name="Germany")
    await City.create(name="Berlin", country=germany)
    assert [c.name for c in await france.cities.all()] == ["Paris"]
    lyon = await france.cities.create(name="Lyon")
    assert lyon.country_id == "FR"
    assert await france.cities.all().count() == 2
    assert await City.filter(country_id="DE").values_list("name", flat=True) == ["Berlin"]
    assert sorted(await City.filter(country="FR").values_list("name", flat=True)) == [
        "Lyon",
        "Paris",
    ]
    # Joins through a to_field key match on that key, not on the target's pk.
    assert await City.filter(country__name="Germany").values_list("name", flat=True) == ["Berlin"]
    assert await City.filter(country__pk=germany.pk).values_list("name", flat=True) == ["Berlin"]
    assert await City.filter(country__code="DE").values_list("name", flat=True) == ["Berlin"]
    assert await Country.filter(cities__name="Berlin").values_list("code", flat=True) == ["DE"]
    berlin = await City.get(name="Berlin").select_related("country")
    assert berlin.country.name == "Germany"
    rows = await City.all().order_by("country__name", "name").values_list("name", "country__name")
    assert rows == [("Lyon", "France"), ("Paris", "France"), ("Berlin", "Germany")]
    countries = await Country.all().order_by("code").prefetch_related("cities")
    assert [(c.code, sorted(x.name for x in c.cities)) for c in countries] == [
        ("DE", ["Berlin"]),
        ("FR", ["Lyon", "Paris"]),
    ]
    cities = await City.all().order_by("name").prefetch_related("country")
    assert [(c.name, c.country.code) for c in cities] == [
        ("Berlin", "DE"),
        ("Lyon", "FR"),
        ("Paris", "FR"),
    ]


# Reverse names ---------------------------------------------------------------------------------


async def test_default_reverse_names_follow_tortoise(paris: City) -> None:
    # No related_name: `<table>s` on the target, as Tortoise names it.
    assert "streets" in City._meta.fields_map
    assert "festivals" in City._meta.fields_map
    await Street.create(name="Rivoli", city=paris)
    assert [s.name for s in await paris.streets.all()] == ["Rivoli"]
    assert await City.filter(streets__name="Rivoli").values_list("name", flat=True) == ["Paris"]
    street = Street._meta.fields_map["city"]
    assert isinstance(street, fields.ForeignKeyField) and street.related_name == "streets"


async def test_related_name_false_adds_no_reverse_side(paris: City) -> None:
    assert "landmarks" not in City._meta.fields_map
    assert not any(name.startswith("landmark") for name in City._meta.fields_map)
    assert not hasattr(paris, "landmarks")
    assert all(f["name"] != "landmarks" for f in City.describe()["backward_fk_fields"])
    # The forward side works as usual.
    tower = await Landmark.create(name="Tower", city=paris)
    assert (await tower.city).name == "Paris"
    assert await Landmark.filter(city__name="Paris").count() == 1


async def test_one_to_one_with_related_name(paris: City) -> None:
    await Mayor.create(name="Anne", city=paris)
    assert (await paris.mayor).name == "Anne"
    (with_mayor,) = await City.filter(pk=paris.pk).select_related("mayor")
    assert with_mayor.mayor.name == "Anne"
    with pytest.raises(IntegrityError):
        await Mayor.create(name="Bob", city=paris)  # one mayor a city


# Many-to-many ---------------------------------------------------------------------------------


async def test_many_to_many_default_join_table(paris: City) -> None:
    field = Festival._meta.fields_map["cities"]
    assert isinstance(field, fields.ManyToManyField)
    assert (field.through, field.forward_key, field.backward_key, field.related_name) == (
        "festival_city",
        "city_id",
        "festival_id",
        "festivals",
    )
    festival = await Festival.create(name="Fête")
    await festival.cities.add(paris)
    assert await _rows('SELECT "festival_id", "city_id" FROM "festival_city"') == [
        (festival.pk, paris.pk)
    ]
    assert [f.name for f in await paris.festivals.all()] == ["Fête"]
    assert await Festival.filter(cities__name="Paris").count() == 1


async def test_many_to_many_declared_join_table_and_keys(paris: City) -> None:
    lyon = await City.create(name="Lyon", country=await Country.get(code="FR"))
    route = await Route.create(name="TGV")
    await route.stops.add(paris, lyon)
    await route.stops.add(paris)  # already linked: left alone
    assert await _rows('SELECT "stop_route", "stop_city" FROM "route_stop"') == [
        (route.pk, paris.pk),
        (route.pk, lyon.pk),
    ]
    assert [r.name for r in await lyon.routes.all()] == ["TGV"]
    assert await City.filter(routes__name="TGV").count() == 2
    (prefetched,) = await Route.all().prefetch_related("stops")
    assert sorted(c.name for c in prefetched.stops) == ["Lyon", "Paris"]
    await route.stops.remove(lyon)
    assert await _rows('SELECT "stop_city" FROM "route_stop"') == [(paris.pk,)]
    await paris.routes.clear()  # from the reverse side
    assert await _rows('SELECT "stop_city" FROM "route_stop"') == []
    assert 'UNIQUE ("stop_route", "stop_city")' in create_table("route_stop")


# 'app.Model' and Meta.app ----------------------------------------------------------------------


async def test_meta_app_and_cross_app_references(db_url: str) -> None:
    config = {
        "connections": {"default": db_url},
        "apps": {"inventory": {"models": [APP_MODELS]}, "shipping": {"models": [APP_MODELS]}},
    }
    await YaraOrm.init(config=config)
    try:
        await YaraOrm.generate_schemas()
        assert (Supplier._meta.app, Crate._meta.app) == ("inventory", "shipping")
        assert Crate._meta.full_name == "shipping.Crate"
        assert {"inventory.Supplier", "shipping.Crate"} <= set(YaraOrm.describe_models())
        acme = await Supplier.create(name="Acme")
        await Crate.create(label="box", supplier=acme)
        assert [c.label for c in await acme.crates.all()] == ["box"]
        assert await Crate.filter(supplier__name="Acme").count() == 1
    finally:
        await YaraOrm.close()


async def test_reference_into_an_app_not_initialised_is_refused(db_url: str) -> None:
    # Only the shipping app: Crate points at inventory.Supplier, which is not there.
    config = {"connections": {"default": db_url}, "apps": {"shipping": {"models": [APP_MODELS]}}}
    with pytest.raises(ConfigurationError, match=r"inventory\.Supplier"):
        await YaraOrm.init(config=config)
    await YaraOrm.close()


# on_delete ------------------------------------------------------------------------------------


@pytest.fixture
async def pet(orm: str) -> Pet:
    owner, sitter, vet, breeder = [
        await Owner.create(name=name) for name in ("owner", "sitter", "vet", "breeder")
    ]
    return await Pet.create(name="Rex", owner=owner, sitter=sitter, vet=vet, breeder=breeder)


async def test_on_delete_is_declared_in_the_schema(pet: Pet) -> None:
    create_pet = create_table("pet")
    for column, action in [
        ("owner_id", "CASCADE"),
        ("sitter_id", "SET NULL"),
        ("vet_id", "RESTRICT"),
        ("breeder_id", "NO ACTION"),
    ]:
        assert f'"{column}"' in create_pet
        line = next(line for line in create_pet.splitlines() if f'"{column}"' in line)
        assert line.rstrip(",").endswith(f"ON DELETE {action}")


async def test_on_delete_set_null_empties_the_key(pet: Pet) -> None:
    await (await Owner.get(name="sitter")).delete()
    loaded = await Pet.get(pk=pet.pk)
    assert loaded.sitter_id is None and loaded.vet_id == pet.vet_id


@pytest.mark.parametrize("name", ["vet", "breeder"])  # RESTRICT, NO ACTION
async def test_on_delete_restrict_and_no_action_refuse(pet: Pet, name: str) -> None:
    with pytest.raises(IntegrityError):
        await (await Owner.get(name=name)).delete()
    assert await Owner.filter(name=name).exists()
    assert await Pet.filter(pk=pet.pk).exists()


async def test_on_delete_cascade_deletes_the_children(pet: Pet) -> None:
    # Free the RESTRICT / NO ACTION references first.
    await Pet.filter(pk=pet.pk).update(vet=None, breeder=None)
    await (await Owner.get(name="owner")).delete()
    assert not await Pet.filter(pk=pet.pk).exists()
    assert await Owner.all().count() == 3
