"""A FastAPI app described by generated models: its OpenAPI schema, request bodies and
responses. (No `from __future__ import annotations` here: FastAPI reads the route
annotations, which name models made inside `_app()`.)"""

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest

from tests.orm.pydantic.models import Event, Priority, Reporter, Sample, Team, Tournament
from yara_orm.contrib.pydantic import pydantic_model_creator, pydantic_queryset_creator
from yara_testing import record_queries

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

pytestmark = pytest.mark.usefixtures("orm")


def _app() -> Any:
    from yara_orm.contrib.fastapi import install_exception_handlers

    Event_Pydantic = pydantic_model_creator(Event)
    EventIn_Pydantic = pydantic_model_creator(Event, name="EventIn", exclude_readonly=True)
    EventPatch_Pydantic = pydantic_model_creator(
        Event,
        name="EventPatch",
        exclude_readonly=True,
        optional=("name", "token", "tournament_id"),
    )
    Event_Pydantic_List = pydantic_queryset_creator(Event)
    Sample_Pydantic = pydantic_model_creator(Sample)

    app = fastapi.FastAPI()
    install_exception_handlers(app)

    @app.get("/events", response_model=Event_Pydantic_List)
    async def list_events() -> Any:
        return await Event_Pydantic_List.from_queryset(Event.all())

    @app.get("/events/{event_id}", response_model=Event_Pydantic)
    async def get_event(event_id: int) -> Any:
        return await Event_Pydantic.from_yara_orm(await Event.get(event_id=event_id))

    @app.post("/events", response_model=Event_Pydantic, status_code=201)
    async def create_event(body: EventIn_Pydantic) -> Any:  # type: ignore[valid-type]
        event = await Event.create(event_id=100, **body.model_dump())  # type: ignore[attr-defined]
        return await Event_Pydantic.from_yara_orm(event)

    @app.patch("/events/{event_id}", response_model=Event_Pydantic)
    async def patch_event(event_id: int, body: EventPatch_Pydantic) -> Any:  # type: ignore[valid-type]
        event = await Event.get(event_id=event_id)
        await event.update_from_dict(body.model_dump(exclude_unset=True)).save()  # type: ignore[attr-defined]
        return await Event_Pydantic.from_yara_orm(event)

    @app.get("/samples/{sample_id}", response_model=Sample_Pydantic)
    async def get_sample(sample_id: uuid.UUID) -> Any:
        # The instance itself: FastAPI validates it through the model (no relations to load).
        return await Sample.get(id=sample_id)

    return app


@pytest.fixture
async def client() -> AsyncIterator[Any]:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def _events() -> None:
    tournament = await Tournament.create(name="Open")
    reporter = await Reporter.create(name="Ann")
    team = await Team.create(name="Reds")
    first = await Event.create(
        event_id=1, name="Final", tournament=tournament, reporter=reporter, token="tok1"
    )
    await first.participants.add(team)
    await Event.create(event_id=2, name="Semi", tournament=tournament, token="tok2")


async def test_openapi_components(client: Any) -> None:
    schema = (await client.get("/openapi.json")).json()
    components = schema["components"]["schemas"]
    # The response model is named after the ORM model; request bodies by their name=.
    assert components["Event"]["title"] == "Event"
    assert components["Event"]["description"] == "Events on the calendar"
    assert components["Event"]["required"] == [
        "event_id",
        "name",
        "tournament",
        "participants",
        "modified",
        "token",
    ]
    assert components["Event"]["properties"]["reporter"]["anyOf"][0]["$ref"].startswith(
        "#/components/schemas/Reporter_"
    )
    assert components["EventIn"]["required"] == ["name", "token", "tournament_id"]
    assert set(components["EventIn"]["properties"]) == {
        "name",
        "token",
        "prize",
        "alias",
        "tournament_id",
        "reporter_id",
    }
    assert components["EventIn"]["additionalProperties"] is False
    assert "required" not in components["EventPatch"]
    # Nested models are components of their own, titled by their model.
    leaves = {name: body["title"] for name, body in components.items() if name.endswith("_leaf")}
    assert sorted(leaves.values()) == ["Address", "Reporter", "Team", "Tournament"]
    paths = schema["paths"]
    list_schema = paths["/events"]["get"]["responses"]["200"]["content"]["application/json"]
    list_name = list_schema["schema"]["$ref"].removeprefix("#/components/schemas/")
    assert components[list_name]["type"] == "array"
    assert components[list_name]["title"] == "Event_list"
    body = paths["/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/EventIn"}
    # Responses are documented as serialised: a Decimal is a string there.
    sample = components["Sample"]["properties"]
    assert sample["price"] == {"type": "string", "title": "Price"}
    request_prize = components["EventIn"]["properties"]["prize"]
    assert request_prize["anyOf"] == [{"type": "number"}, {"type": "string"}]
    assert sample["at"] == {"type": "string", "format": "date-time", "title": "At"}


async def test_list_response(client: Any) -> None:
    await _events()
    with record_queries() as log:
        response = await client.get("/events")
    assert response.status_code == 200
    body = response.json()
    assert [event["name"] for event in body] == ["Final", "Semi"]
    assert body[0]["reporter"] == {"id": body[0]["reporter"]["id"], "name": "Ann"}
    assert [team["name"] for team in body[0]["participants"]] == ["Reds"]
    assert body[1]["reporter"] is None
    assert body[1]["address"] is None
    assert body[0]["prize"] == "0.00"
    assert body[0]["modified"].endswith("+05:30")
    assert len(log) == 5


async def test_create_patch_and_404(client: Any) -> None:
    tournament = await Tournament.create(name="Open")
    created = await client.post(
        "/events",
        json={"name": "Opening", "token": "abc", "prize": "12.5", "tournament_id": tournament.id},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["event_id"] == 100
    assert body["prize"] == "12.50"
    assert body["tournament"]["name"] == "Open"
    assert body["participants"] == []
    patched = await client.patch("/events/100", json={"alias": 5})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["alias"], patched.json()["name"]) == (5, "Opening")
    assert (await Event.get(event_id=100)).alias == 5
    refused = await client.post(
        "/events", json={"name": "x", "token": "t", "tournament_id": 1, "modified": "2024-01-01"}
    )
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["type"] == "extra_forbidden"
    assert (await client.get("/events/999")).status_code == 404


async def test_tortoise_exception_handlers_given_to_the_app_constructor() -> None:
    from yara_orm.contrib.fastapi import tortoise_exception_handlers

    app = fastapi.FastAPI(exception_handlers=tortoise_exception_handlers())

    @app.get("/tournaments/{tournament_id}")
    async def get_tournament(tournament_id: int) -> Any:
        return {"name": (await Tournament.get(id=tournament_id)).name}

    @app.post("/tournaments")
    async def create_tournament() -> Any:
        await Tournament.create(id=1, name="Open")
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        missing = await client.get("/tournaments/7")
        assert missing.status_code == 404 and "Tournament" in missing.json()["detail"]
        assert (await client.post("/tournaments")).status_code == 200
        duplicate = await client.post("/tournaments")
        assert duplicate.status_code == 422
        assert duplicate.json()["detail"][0]["type"] == "IntegrityError"


async def test_field_types_as_fastapi_returns_them(client: Any) -> None:
    sample_id = uuid.uuid4()
    await Sample.create(
        id=sample_id,
        ratio=0.5,
        price=Decimal("3.14159"),
        label="pi",
        blob=b"bytes",
        day=dt.date(2024, 1, 2),
        at=dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        span=dt.timedelta(days=1, seconds=1),
        data=[1, "two", None],
        priority=Priority.LOW,
    )
    response = await client.get(f"/samples/{sample_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == str(sample_id)
    assert body["price"] == "3.142"
    assert body["blob"] == "bytes"
    assert body["day"] == "2024-01-02"
    assert body["at"] == "2024-01-02T08:34:05+05:30"
    assert body["span"] == "P1DT1S"
    assert body["data"] == [1, "two", None]
    assert body["tags"] == []
    assert body["settings"] == {"theme": "light", "volume": 5}
    assert (body["priority"], body["surface"]) == (1, "clay")
    assert (body["small"], body["flag"], body["big"]) == (0, True, None)
