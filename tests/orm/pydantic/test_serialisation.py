"""Building pydantic models from ORM instances and querysets, and what they dump: nested
relations, every field type (Python and JSON), computed fields, and the errors when a
relation was not loaded."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ConfigDict
from pydantic.alias_generators import to_camel

from tests.orm.pydantic.models import (
    Address,
    Employee,
    Event,
    Priority,
    Reporter,
    Sample,
    Settings,
    Surface,
    Team,
    Tournament,
)
from yara_orm.contrib.pydantic import (
    PydanticModel,
    pydantic_model_creator,
    pydantic_queryset_creator,
)
from yara_orm.exceptions import RelationNotLoaded

KOLKATA = dt.timezone(dt.timedelta(hours=5, minutes=30))
SAMPLE_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
REF = uuid.UUID("87654321-4321-8765-4321-876543218765")


@pytest.fixture
async def calendar(orm: str) -> SimpleNamespace:
    tournament = await Tournament.create(name="Open", desc="Yearly")
    reporter = await Reporter.create(name="Ann")
    reds = await Team.create(name="Reds")
    blues = await Team.create(name="Blues", alias=7)
    final = await Event.create(
        event_id=1,
        name="Final",
        tournament=tournament,
        reporter=reporter,
        token="tok1",
        prize=Decimal("1000.5"),
    )
    await Event.create(event_id=2, name="Semi", tournament=tournament, token="tok2")
    await final.participants.add(reds, blues)
    await Address.create(event=final, city="Paris", street="Rue de Rivoli")
    return SimpleNamespace(tournament=tournament, reporter=reporter, reds=reds, blues=blues)


def _without_times(dumped: dict[str, Any]) -> dict[str, Any]:
    dumped = dict(dumped)
    assert isinstance(dumped.pop("modified"), dt.datetime)
    if isinstance(dumped.get("tournament"), dict):
        dumped["tournament"] = dict(dumped["tournament"])
        assert isinstance(dumped["tournament"].pop("created"), dt.datetime)
    return dumped


def _final(ns: SimpleNamespace) -> dict[str, Any]:
    return {
        "event_id": 1,
        "name": "Final",
        "tournament": {"id": ns.tournament.id, "name": "Open", "desc": "Yearly"},
        "reporter": {"id": ns.reporter.id, "name": "Ann"},
        "participants": [
            {"id": ns.reds.id, "name": "Reds", "alias": None},
            {"id": ns.blues.id, "name": "Blues", "alias": 7},
        ],
        "token": "tok1",
        "prize": Decimal("1000.50"),
        "alias": None,
        "address": {"city": "Paris", "street": "Rue de Rivoli", "event_id": 1},
    }


def _semi(ns: SimpleNamespace) -> dict[str, Any]:
    return {
        "event_id": 2,
        "name": "Semi",
        "tournament": {"id": ns.tournament.id, "name": "Open", "desc": "Yearly"},
        "reporter": None,
        "participants": [],
        "token": "tok2",
        "prize": Decimal("0.00"),
        "alias": None,
        "address": None,
    }


async def test_from_yara_orm_nests_every_kind_of_relation(calendar: SimpleNamespace) -> None:
    Event_Pydantic = pydantic_model_creator(Event)
    final = await Event_Pydantic.from_yara_orm(await Event.get(event_id=1))
    assert _without_times(final.model_dump()) == _final(calendar)
    semi = await Event_Pydantic.from_yara_orm(await Event.get(event_id=2))
    assert _without_times(semi.model_dump()) == _semi(calendar)


async def test_from_tortoise_orm_is_the_same(calendar: SimpleNamespace) -> None:
    Event_Pydantic = pydantic_model_creator(Event)
    event = await Event.get(event_id=1)
    assert await Event_Pydantic.from_tortoise_orm(event) == await Event_Pydantic.from_yara_orm(
        event
    )


async def test_reverse_relations_nest_in_order(calendar: SimpleNamespace) -> None:
    Tournament_Pydantic = pydantic_model_creator(Tournament)
    found = await Tournament_Pydantic.from_yara_orm(await Tournament.get(id=calendar.tournament.id))
    dumped = found.model_dump()
    assert [event["name"] for event in dumped["events"]] == ["Final", "Semi"]
    # Under Tournament, an Event nests its own relations, Tournament excepted.
    assert "tournament" not in dumped["events"][0]
    assert dumped["events"][0]["address"] == {
        "city": "Paris",
        "street": "Rue de Rivoli",
        "event_id": 1,
    }
    assert [team["name"] for team in dumped["events"][0]["participants"]] == ["Reds", "Blues"]
    Team_Pydantic = pydantic_model_creator(Team)
    blues = await Team_Pydantic.from_yara_orm(await Team.get(name="Blues"))
    assert [event["name"] for event in blues.model_dump()["events"]] == ["Final"]


async def test_from_queryset(calendar: SimpleNamespace) -> None:
    Events = pydantic_queryset_creator(Event)
    listed = await Events.from_queryset(Event.all())
    assert [_without_times(item) for item in listed.model_dump()] == [
        _final(calendar),
        _semi(calendar),
    ]
    filtered = await Events.from_queryset(Event.filter(name="Semi"))
    assert [item["event_id"] for item in filtered.model_dump()] == [2]
    # PydanticModel.from_queryset gives a plain list; from_queryset_single one item.
    Event_Pydantic = pydantic_model_creator(Event)
    items = await Event_Pydantic.from_queryset(Event.all().order_by("-event_id"))
    assert [item.event_id for item in items] == [2, 1]  # type: ignore[attr-defined]
    single = await Event_Pydantic.from_queryset_single(Event.get(event_id=1))
    assert _without_times(single.model_dump()) == _final(calendar)


async def test_json_dump_of_nested_relations(calendar: SimpleNamespace) -> None:
    Event_Pydantic = pydantic_model_creator(Event)
    final = await Event_Pydantic.from_yara_orm(await Event.get(event_id=1))
    body = json.loads(final.model_dump_json())
    assert body["prize"] == "1000.50"
    assert body["participants"][1] == {"id": calendar.blues.id, "name": "Blues", "alias": 7}
    # Datetimes carry the configured zone's offset.
    assert body["modified"].endswith("+05:30")
    assert body["tournament"]["created"].endswith("+05:30")


async def _sample() -> Sample:
    await Sample.create(
        id=SAMPLE_ID,
        small=-5,
        big=2**40,
        ratio=0.25,
        price=Decimal("12.5"),
        flag=False,
        label="hello",
        text="long text",
        blob=b"hello",
        day=dt.date(2024, 2, 29),
        at=dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC),
        clock=dt.time(9, 30),
        span=dt.timedelta(hours=1, minutes=30),
        ref=REF,
        data={"a": [1, 2.5, {"b": None}], "ok": True},
        tags=["x", "y"],
        settings=Settings(theme="dark"),
        priority=Priority.HIGH,
        surface=Surface.GRASS,
    )
    return await Sample.get(id=SAMPLE_ID)


@pytest.mark.usefixtures("orm")
async def test_every_field_type_dumps_to_python() -> None:
    Sample_Pydantic = pydantic_model_creator(Sample)
    dumped = (await Sample_Pydantic.from_yara_orm(await _sample())).model_dump()
    assert dumped == {
        "id": SAMPLE_ID,
        "small": -5,
        "big": 2**40,
        "ratio": 0.25,
        "price": Decimal("12.500"),
        "flag": False,
        "label": "hello",
        "text": "long text",
        "blob": b"hello",
        "day": dt.date(2024, 2, 29),
        "at": dt.datetime(2024, 3, 1, 17, 30, tzinfo=KOLKATA),
        "clock": dt.time(9, 30, tzinfo=KOLKATA),
        "span": dt.timedelta(hours=1, minutes=30),
        "ref": REF,
        "data": {"a": [1, 2.5, {"b": None}], "ok": True},
        "tags": ["x", "y"],
        "settings": {"theme": "dark", "volume": 5},
        "priority": Priority.HIGH,
        "surface": Surface.GRASS,
    }
    assert dumped["at"].utcoffset() == dt.timedelta(hours=5, minutes=30)


@pytest.mark.usefixtures("orm")
async def test_every_field_type_dumps_to_json() -> None:
    Sample_Pydantic = pydantic_model_creator(Sample)
    text = (await Sample_Pydantic.from_yara_orm(await _sample())).model_dump_json()
    assert json.loads(text) == {
        "id": "12345678-1234-5678-1234-567812345678",
        "small": -5,
        "big": 1099511627776,
        "ratio": 0.25,
        "price": "12.500",
        "flag": False,
        "label": "hello",
        "text": "long text",
        "blob": "hello",
        "day": "2024-02-29",
        "at": "2024-03-01T17:30:00+05:30",
        "clock": "09:30:00+05:30",
        "span": "PT1H30M",
        "ref": "87654321-4321-8765-4321-876543218765",
        "data": {"a": [1, 2.5, {"b": None}], "ok": True},
        "tags": ["x", "y"],
        "settings": {"theme": "dark", "volume": 5},
        "priority": 2,
        "surface": "grass",
    }
    # The JSON reads back into an equal model.
    again = Sample_Pydantic.model_validate_json(text)
    assert again.model_dump()["at"] == dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.usefixtures("orm")
async def test_bytes_as_base64_by_configuration() -> None:
    Base64 = pydantic_model_creator(
        Sample,
        name="SampleBase64",
        include=("id", "blob"),
        model_config=ConfigDict(ser_json_bytes="base64", val_json_bytes="base64"),
    )
    await Sample.create(
        id=SAMPLE_ID,
        ratio=1.0,
        price=Decimal(1),
        label="x",
        day=dt.date(2024, 1, 1),
        at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        blob=b"\xff\x00binary",
        priority=Priority.LOW,
    )
    built = await Base64.from_yara_orm(await Sample.get(id=SAMPLE_ID))
    # pydantic writes URL-safe base64.
    assert json.loads(built.model_dump_json())["blob"] == "_wBiaW5hcnk="
    assert Base64.model_validate_json(built.model_dump_json()).blob == b"\xff\x00binary"  # type: ignore[attr-defined]


async def test_unloaded_relations_are_reported(calendar: SimpleNamespace) -> None:
    Event_Pydantic = pydantic_model_creator(Event)
    event = await Event.get(event_id=1)
    with pytest.raises(RelationNotLoaded, match=r"Event\.tournament is not loaded.*from_yara_orm"):
        Event_Pydantic.model_validate(event)
    # Once fetched, a plain validate works (FastAPI validates a returned instance this way).
    await event.fetch_related("tournament", "reporter", "participants", "address")
    assert _without_times(Event_Pydantic.model_validate(event).model_dump()) == _final(calendar)


async def test_an_empty_foreign_key_needs_no_loading(calendar: SimpleNamespace) -> None:
    Reported = pydantic_model_creator(Event, name="Reported", include=("name", "reporter"))
    semi = await Event.get(event_id=2)
    assert Reported.model_validate(semi).model_dump() == {"name": "Semi", "reporter": None}
    with pytest.raises(RelationNotLoaded):
        Reported.model_validate(await Event.get(event_id=1))


async def test_aliases_are_read_from_the_instance(calendar: SimpleNamespace) -> None:
    Camel = pydantic_model_creator(
        Event,
        name="CamelEvent",
        include=("event_id", "name", "tournament"),
        model_config=ConfigDict(alias_generator=to_camel),
    )
    built = await Camel.from_yara_orm(await Event.get(event_id=1))
    dumped = built.model_dump(by_alias=True)
    assert dumped["eventId"] == 1
    assert dumped["tournament"]["name"] == "Open"


@pytest.mark.usefixtures("orm")
async def test_computed_fields_run_on_the_orm_instance() -> None:
    root = await Employee.create(name="Root")
    await Employee.create(name="Ann", manager=root)
    await Employee.create(name="Bob", manager=root)
    Employee_Pydantic = pydantic_model_creator(Employee)
    built = await Employee_Pydantic.from_yara_orm(await Employee.get(name="Root"))
    dumped = built.model_dump()
    assert dumped["name_length"] == 4
    # team_size reads the ORM instance's team_members, fetched because the model nests them.
    assert dumped["team_size"] == 2
    assert [member["name"] for member in dumped["team_members"]] == ["Ann", "Bob"]
    assert dumped["team_members"][0]["manager_id"] == root.id
    # One level down the relations are nested (and fetched) again.
    assert dumped["team_members"][0]["team_members"] == []
    assert dumped["team_members"][0]["team_size"] == 0


@pytest.mark.usefixtures("orm")
async def test_a_computed_field_on_an_unloaded_relation_says_so() -> None:
    root = await Employee.create(name="Root")
    Slim = pydantic_model_creator(
        Employee, name="EmployeeSlim", exclude=("team_members", "talks_to")
    )
    built = await Slim.from_yara_orm(await Employee.get(id=root.id))
    with pytest.raises(RelationNotLoaded, match=r"computed field Employee\.team_size"):
        built.model_dump()
    # Fetched by hand, it works though the model does not show the relation.
    instance = await Employee.get(id=root.id)
    await instance.fetch_related("team_members")
    assert (await Slim.from_yara_orm(instance)).model_dump()["team_size"] == 0


async def test_generated_models_are_pydantic_models(calendar: SimpleNamespace) -> None:
    Event_Pydantic = pydantic_model_creator(Event)
    built = await Event_Pydantic.from_yara_orm(await Event.get(event_id=2))
    assert isinstance(built, PydanticModel)
    # The ORM instance is not a field: copies and equality see only the data.
    copied = built.model_copy()
    assert copied == built
    assert "__orm_instance__" not in built.model_dump()
