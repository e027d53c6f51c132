"""The JSON schema of generated models: types, required fields, defaults, constraints, titles,
descriptions, and relations nested as models."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from tests.orm.pydantic.models import Event, Sample, Team, Tournament
from yara_orm.contrib.pydantic import PydanticModel, pydantic_model_creator

pytestmark = pytest.mark.usefixtures("orm")

INT = {"maximum": 2**31 - 1, "minimum": -(2**31)}
BIGINT = {"maximum": 2**63 - 1, "minimum": -(2**63)}


def _ref(prop: dict[str, Any]) -> str:
    """The $defs name a property refers to (directly, or in an anyOf with null)."""
    if "$ref" in prop:
        return str(prop["$ref"]).removeprefix("#/$defs/")
    (ref,) = [item["$ref"] for item in prop["anyOf"] if "$ref" in item]
    return str(ref).removeprefix("#/$defs/")


def test_every_field_type_has_its_schema_type() -> None:
    schema = pydantic_model_creator(Sample).model_json_schema()
    props = schema["properties"]
    assert props["id"] == {"format": "uuid", "title": "Id", "type": "string"}
    assert props["small"] == {
        "default": 0,
        "maximum": 32767,
        "minimum": -32768,
        "title": "Small",
        "type": "integer",
    }
    assert props["big"] == {
        "anyOf": [{**BIGINT, "type": "integer"}, {"type": "null"}],
        "default": None,
        "nullable": True,
        "title": "Big",
    }
    assert props["ratio"] == {"title": "Ratio", "type": "number"}
    assert props["price"] == {"anyOf": [{"type": "number"}, {"type": "string"}], "title": "Price"}
    assert props["flag"] == {"default": True, "title": "Flag", "type": "boolean"}
    assert props["label"] == {"maxLength": 20, "title": "Label", "type": "string"}
    assert props["text"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert props["blob"]["anyOf"] == [{"format": "binary", "type": "string"}, {"type": "null"}]
    assert props["day"] == {"format": "date", "title": "Day", "type": "string"}
    assert props["at"] == {"format": "date-time", "title": "At", "type": "string"}
    assert props["clock"]["anyOf"][0] == {"format": "time", "type": "string"}
    assert props["span"]["anyOf"][0] == {"format": "duration", "type": "string"}
    assert props["ref"]["anyOf"][0] == {"format": "uuid", "type": "string"}
    # JSON: any value, a declared generic, or the pydantic model given as field_type.
    assert props["data"] == {"default": None, "nullable": True, "title": "Data"}
    assert props["tags"] == {"items": {"type": "string"}, "title": "Tags", "type": "array"}
    assert props["settings"] == {"$ref": "#/$defs/Settings"}
    assert schema["$defs"]["Settings"]["properties"]["volume"]["type"] == "integer"


def test_enums_are_schema_enums_with_their_members_described() -> None:
    schema = pydantic_model_creator(Sample).model_json_schema()
    assert schema["$defs"]["Priority"] == {"enum": [1, 2], "title": "Priority", "type": "integer"}
    assert schema["$defs"]["Surface"] == {
        "enum": ["clay", "grass"],
        "title": "Surface",
        "type": "string",
    }
    assert schema["properties"]["priority"] == {
        "$ref": "#/$defs/Priority",
        "description": "LOW: 1<br/>HIGH: 2",
        "ge": -32768,
        "le": 32767,
    }
    # The annotation `Field[Surface]` is read as Surface.
    assert schema["properties"]["surface"] == {
        "$ref": "#/$defs/Surface",
        "default": "clay",
        "description": "CLAY: clay<br/>GRASS: grass",
        "maxLength": 5,
    }
    Sample_Pydantic = pydantic_model_creator(Sample)
    with pytest.raises(ValidationError) as caught:
        Sample_Pydantic.model_validate({"surface": "sand"})
    errors = {error["loc"][0]: error for error in caught.value.errors()}
    assert errors["surface"]["type"] == "enum"


def test_required_fields_follow_null_and_defaults() -> None:
    sample = pydantic_model_creator(Sample).model_json_schema()
    # A callable default (settings=Settings, id=uuid4) is still required in a response.
    assert sample["required"] == [
        "id",
        "ratio",
        "price",
        "label",
        "day",
        "at",
        "tags",
        "settings",
        "priority",
    ]
    event = pydantic_model_creator(Event).model_json_schema()
    assert event["required"] == [
        "event_id",
        "name",
        "tournament",
        "participants",
        "modified",
        "token",
    ]
    assert event["properties"]["prize"]["default"] == "0.00"


def test_titles_and_descriptions() -> None:
    event = pydantic_model_creator(Event).model_json_schema()
    assert event["title"] == "Event"
    assert event["description"] == "Events on the calendar"
    props = event["properties"]
    assert props["event_id"] == {**BIGINT, "title": "Event Id", "type": "integer"}
    # description=
    assert props["name"] == {"description": "The event's name", "title": "Name", "type": "string"}
    # Two `#:` lines above the field.
    assert props["tournament"]["description"] == "Where the event belongs<br/>(one tournament each)"
    assert props["modified"] == {
        "format": "date-time",
        "readOnly": True,
        "title": "Modified",
        "type": "string",
    }
    tournament = pydantic_model_creator(Tournament).model_json_schema()
    # A multi-paragraph model docstring; a one-line `#:` comment.
    assert tournament["description"] == "A tournament.<br/><br/>Played once a year."
    assert tournament["properties"]["name"] == {
        "description": "What the tournament is called",
        "maxLength": 64,
        "title": "Name",
        "type": "string",
    }
    # A reverse side is described by its foreign key's first line.
    assert tournament["properties"]["events"]["description"] == "Where the event belongs"


def test_relations_are_nested_models() -> None:
    schema = pydantic_model_creator(Event).model_json_schema()
    props, defs = schema["properties"], schema["$defs"]
    assert list(props) == [
        "event_id",
        "name",
        "tournament",
        "reporter",
        "participants",
        "modified",
        "token",
        "prize",
        "alias",
        "address",
    ]
    # Nested models are named <Model>_<hash>_leaf, titled by the model.
    names = {name: _ref(props[name]) for name in ("tournament", "reporter", "address")}
    names["participants"] = props["participants"]["items"]["$ref"].removeprefix("#/$defs/")
    for relation, model in [
        ("tournament", "Tournament"),
        ("reporter", "Reporter"),
        ("address", "Address"),
        ("participants", "Team"),
    ]:
        assert re.fullmatch(rf"{model}_[a-z2-7]{{6}}_leaf", names[relation])
        assert defs[names[relation]]["title"] == model
    # A forward foreign key: required; a nullable one or a reverse one-to-one: None default.
    assert "$ref" in props["tournament"]
    for nullable in ("reporter", "address"):
        assert props[nullable]["anyOf"][1] == {"type": "null"}
        assert props[nullable]["default"] is None
        assert props[nullable]["nullable"] is True
    assert props["participants"]["type"] == "array"
    # The key columns are hidden where their relation is nested.
    assert "tournament_id" not in props
    assert "reporter_id" not in props


def test_nesting_stops_at_a_model_seen_higher_up() -> None:
    schema = pydantic_model_creator(Event).model_json_schema()
    defs = schema["$defs"]
    tournament = defs[_ref(schema["properties"]["tournament"])]
    assert list(tournament["properties"]) == ["id", "name", "desc", "created"]
    assert tournament["required"] == ["id", "name", "created"]
    # Address's primary key is its one-to-one to Event: the relation stops (Event is above),
    # the key column stays, as the primary key.
    address = defs[_ref(schema["properties"]["address"])]
    assert list(address["properties"]) == ["city", "street", "event_id"]
    assert address["properties"]["event_id"] == {**BIGINT, "title": "Event Id", "type": "integer"}
    team = defs[schema["properties"]["participants"]["items"]["$ref"].removeprefix("#/$defs/")]
    assert list(team["properties"]) == ["id", "name", "alias"]


def test_reverse_relations_nest_further() -> None:
    schema = pydantic_model_creator(Tournament).model_json_schema()
    props, defs = schema["properties"], schema["$defs"]
    assert list(props) == ["id", "name", "desc", "created", "events"]
    event = defs[props["events"]["items"]["$ref"].removeprefix("#/$defs/")]
    # Under Tournament, Event nests its other relations but not Tournament again.
    assert list(event["properties"]) == [
        "event_id",
        "name",
        "reporter",
        "participants",
        "modified",
        "token",
        "prize",
        "alias",
        "address",
    ]
    team = pydantic_model_creator(Team).model_json_schema()
    assert list(team["properties"]) == ["id", "name", "alias", "events"]


def test_nested_models_are_shared_between_models() -> None:
    event = pydantic_model_creator(Event)
    team = pydantic_model_creator(Team)
    # The same shape is one class: Event's Reporter leaf is Team's Event leaf's Reporter.
    event_reporter = event.model_fields["reporter"].annotation
    team_event = team.model_fields["events"].annotation.__args__[0]  # type: ignore[union-attr]
    assert team_event.model_fields["reporter"].annotation == event_reporter
    assert issubclass(team_event, PydanticModel)
