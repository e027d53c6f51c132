"""The creator's options and PydanticMeta: field selection, request-body models, ordering,
cycles and depth, configuration, and how generated models are named and reused."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pydantic import ConfigDict, ValidationError, field_validator

from tests.orm.pydantic.models import Author, Book, Employee, Event, Sample, Tournament
from yara_orm import fields
from yara_orm.contrib.pydantic import (
    PydanticMeta,
    pydantic_model_creator,
    pydantic_queryset_creator,
)
from yara_orm.exceptions import ConfigurationError
from yara_orm.models import Model

pytestmark = pytest.mark.usefixtures("orm")


def _nested(schema: dict[str, Any], prop: str) -> dict[str, Any]:
    """The $defs entry of the model nested at `prop` (one, optional, or a list of them)."""
    value = schema["properties"][prop]
    value = value.get("items", value)
    if "anyOf" in value:
        value = next(item for item in value["anyOf"] if "$ref" in item)
    result: dict[str, Any] = schema["$defs"][value["$ref"].removeprefix("#/$defs/")]
    return result


def test_exclude_and_include_reach_nested_models() -> None:
    schema = pydantic_model_creator(
        Event, exclude=("alias", "participants", "tournament.created")
    ).model_json_schema()
    assert "alias" not in schema["properties"]
    assert "participants" not in schema["properties"]
    assert list(_nested(schema, "tournament")["properties"]) == ["id", "name", "desc"]

    only = pydantic_model_creator(
        Event, include=("name", "tournament.name", "reporter")
    ).model_json_schema()
    # `tournament.name` keeps the relation with only that field.
    assert list(only["properties"]) == ["name", "tournament", "reporter"]
    assert list(_nested(only, "tournament")["properties"]) == ["name"]
    assert list(_nested(only, "reporter")["properties"]) == ["id", "name"]
    assert only["required"] == ["name", "tournament"]


def test_exclude_readonly_makes_a_request_body() -> None:
    EventIn = pydantic_model_creator(Event, name="EventIn", exclude_readonly=True)
    schema = EventIn.model_json_schema()
    # No primary key, no auto_now field, no relations: their key columns instead.
    assert list(schema["properties"]) == [
        "name",
        "token",
        "prize",
        "alias",
        "tournament_id",
        "reporter_id",
    ]
    assert schema["required"] == ["name", "token", "tournament_id"]
    assert schema["title"] == "EventIn"
    assert schema["properties"]["tournament_id"]["description"] == "Where the event belongs"
    assert schema["properties"]["reporter_id"]["default"] is None
    body = EventIn.model_validate({"name": "Final", "token": "abc", "tournament_id": 3})
    assert body.model_dump() == {
        "name": "Final",
        "token": "abc",
        "prize": 0,
        "alias": None,
        "tournament_id": 3,
        "reporter_id": None,
    }
    # Unknown fields are refused, as Tortoise's models do.
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        EventIn.model_validate({"name": "x", "token": "t", "tournament_id": 1, "event_id": 9})
    # Too long for the column.
    with pytest.raises(ValidationError, match="at most 8 characters"):
        EventIn.model_validate({"name": "x", "token": "123456789", "tournament_id": 1})


def test_optional_fields_may_be_left_out() -> None:
    EventPatch = pydantic_model_creator(
        Event, name="EventPatch", exclude_readonly=True, optional=("name", "token", "tournament_id")
    )
    assert "required" not in EventPatch.model_json_schema()
    assert EventPatch().model_dump(exclude_unset=True) == {}
    assert EventPatch(name="New").model_dump(exclude_unset=True) == {"name": "New"}
    # A field with a default keeps it; the others default to None.
    assert EventPatch().model_dump()["prize"] == 0
    assert EventPatch().model_dump()["name"] is None
    partial = pydantic_model_creator(
        Event, name="EventPartial", exclude_readonly=True, optional=("name",)
    )
    with pytest.raises(ValidationError):
        partial()


def test_sort_alphabetically() -> None:
    sorted_schema = pydantic_model_creator(Event, sort_alphabetically=True).model_json_schema()
    assert list(sorted_schema["properties"]) == sorted(sorted_schema["properties"])
    assert list(_nested(sorted_schema, "tournament")["properties"]) == [
        "created",
        "desc",
        "id",
        "name",
    ]
    declared = pydantic_model_creator(Event, sort_alphabetically=False).model_json_schema()
    assert list(declared["properties"])[:3] == ["event_id", "name", "tournament"]


def test_max_recursion_and_allow_cycles_from_pydantic_meta() -> None:
    # Employee: allow_cycles, max_recursion=2, manager and gets_talked_to excluded.
    schema = pydantic_model_creator(Employee).model_json_schema()
    assert list(schema["properties"]) == ["id", "name", "talks_to", "manager_id", "team_members"]
    level1 = _nested(schema, "talks_to")
    assert list(level1["properties"]) == ["id", "name", "talks_to", "manager_id", "team_members"]
    assert _nested(schema, "team_members") == level1
    level2_name = level1["properties"]["talks_to"]["items"]["$ref"].removeprefix("#/$defs/")
    # The second level stops: no relations left.
    assert list(schema["$defs"][level2_name]["properties"]) == ["id", "name", "manager_id"]
    assert len(schema["$defs"]) == 2


def test_without_cycles_a_model_nests_itself_once() -> None:
    schema = pydantic_model_creator(Employee, allow_cycles=False).model_json_schema()
    assert list(_nested(schema, "talks_to")["properties"]) == ["id", "name", "manager_id"]


def test_max_recursion_from_meta_override() -> None:
    class Shallow:
        max_recursion = 1

    schema = pydantic_model_creator(
        Tournament, meta_override=Shallow, name="ShallowTournament"
    ).model_json_schema()
    # One level: events are nested, their own relations are not.
    assert list(_nested(schema, "events")["properties"]) == [
        "event_id",
        "name",
        "modified",
        "token",
        "prize",
        "alias",
    ]


def test_backward_relations_off_keeps_annotated_ones() -> None:
    # Author's PydanticMeta: backward_relations = False; `books` is annotated, `edited` is not.
    schema = pydantic_model_creator(Author).model_json_schema()
    assert list(schema["properties"]) == ["id", "name", "books"]

    class NoBackward:
        backward_relations = False

    event = pydantic_model_creator(Event, meta_override=NoBackward).model_json_schema()
    assert "address" in pydantic_model_creator(Event).model_json_schema()["properties"]
    # Event annotates `address`, so it stays; Tournament's unannotated reverse sides go.
    assert "address" in event["properties"]
    tournament = pydantic_model_creator(Tournament, meta_override=NoBackward).model_json_schema()
    assert "events" in tournament["properties"]  # annotated in Tournament


def test_raw_key_columns_on_request() -> None:
    class KeepKeys:
        exclude_raw_fields = False

    schema = pydantic_model_creator(Book, meta_override=KeepKeys).model_json_schema()
    assert list(schema["properties"]) == [
        "id",
        "title",
        "author",
        "editor",
        "author_id",
        "editor_id",
    ]
    # Excluding a relation brings its key column back.
    without = pydantic_model_creator(Book, exclude=("author",)).model_json_schema()
    assert list(without["properties"]) == ["id", "title", "editor", "author_id"]


def test_model_config_merges_meta_and_arguments() -> None:
    # Author's PydanticMeta.model_config: title "Writer", str_strip_whitespace.
    Author_Pydantic = pydantic_model_creator(Author)
    assert Author_Pydantic.model_config["title"] == "Writer"
    assert Author_Pydantic.model_config["from_attributes"] is True
    assert Author_Pydantic.model_config["extra"] == "forbid"
    assert Author_Pydantic.model_validate({"id": 1, "name": "  Ann ", "books": []}).name == "Ann"
    merged = pydantic_model_creator(
        Author, name="AuthorLoose", model_config=ConfigDict(extra="ignore", str_min_length=2)
    )
    assert merged.model_config["title"] == "Writer"
    assert merged.model_config["extra"] == "ignore"
    assert merged.model_validate({"id": 1, "name": "Al", "books": [], "x": 1}).name == "Al"
    with pytest.raises(ValidationError):
        merged.model_validate({"id": 1, "name": "A", "books": []})


def test_computed_fields() -> None:
    Employee_Pydantic = pydantic_model_creator(Employee)
    schema = Employee_Pydantic.model_json_schema(mode="serialization")
    assert schema["properties"]["name_length"] == {
        "description": "Letters in the name",
        "readOnly": True,
        "title": "Name Length",
        "type": "integer",
    }
    assert schema["properties"]["team_size"]["type"] == "integer"
    # A method without a return annotation cannot be typed, so it is left out.
    assert "unannotated" not in schema["properties"]
    # Computed fields are output only.
    assert "name_length" not in Employee_Pydantic.model_json_schema()["properties"]
    # Built from a dict, a computed field runs on the pydantic instance.
    built = Employee_Pydantic.model_validate(
        {"id": 1, "name": "Ann", "talks_to": [], "team_members": []}
    )
    assert built.model_dump()["name_length"] == 3


async def test_a_property_can_be_computed() -> None:
    Loud = pydantic_model_creator(Tournament, name="LoudName", include=("id",), computed=("shout",))
    schema = Loud.model_json_schema(mode="serialization")
    assert schema["properties"]["shout"]["description"] == "The name, loudly"
    tournament = await Tournament.create(name="open")
    assert (await Loud.from_yara_orm(tournament)).model_dump() == {
        "id": tournament.id,
        "shout": "OPEN",
    }


INIT_MODELS = """
from yara_orm import YaraOrm
from yara_orm.contrib.pydantic import pydantic_model_creator
from tests.orm.pydantic.models import Event

YaraOrm.init_models(["tests.orm.pydantic.models"], "models")
schema = pydantic_model_creator(Event).model_json_schema()
print(sorted(schema["properties"]))
"""


def test_models_can_be_made_before_connecting() -> None:
    # An app module builds its models at import, before the ORM connects: init_models.
    result = subprocess.run(
        [sys.executable, "-c", INIT_MODELS], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(
        sorted(
            [
                "address",
                "alias",
                "event_id",
                "modified",
                "name",
                "participants",
                "prize",
                "reporter",
                "token",
                "tournament",
            ]
        )
    )


def test_computed_must_name_a_method() -> None:
    with pytest.raises(ConfigurationError, match="not a method"):
        pydantic_model_creator(Sample, computed=("label",))


def test_validators_argument() -> None:
    def shout(cls: Any, value: str) -> str:
        return value.upper()

    Loud = pydantic_model_creator(
        Tournament,
        name="LoudTournament",
        exclude_readonly=True,
        validators={"shout": field_validator("name")(shout)},
    )
    assert Loud(name="open").name == "OPEN"


def test_names_and_reuse() -> None:
    first = pydantic_model_creator(Event)
    assert first is pydantic_model_creator(Event)
    assert first.__name__ == "tests.orm.pydantic.models.Event"
    assert first.model_config["title"] == "Event"
    assert first.__doc__ == "Events on the calendar"
    excluded = pydantic_model_creator(Event, exclude=("alias",))
    assert excluded is not first
    assert excluded is pydantic_model_creator(Event, exclude=("alias",))
    assert excluded.__name__.startswith("tests.orm.pydantic.models.Event:")
    assert excluded is not pydantic_model_creator(Event, exclude=("name",))
    readonly = pydantic_model_creator(Event, exclude_readonly=True)
    assert readonly is not first
    assert pydantic_model_creator(Event, name="Foo") is pydantic_model_creator(Event, name="Foo")
    assert pydantic_model_creator(Event, name="Foo").model_config["title"] == "Foo"


def test_queryset_creator() -> None:
    Events = pydantic_queryset_creator(Event)
    schema = Events.model_json_schema()
    assert schema["type"] == "array"
    assert schema["title"] == "Event_list"
    assert schema["description"] == "Events on the calendar"
    item = schema["items"]["$ref"].removeprefix("#/$defs/")
    assert schema["$defs"][item]["title"] == "Event"
    assert pydantic_queryset_creator(Event) is Events
    named = pydantic_queryset_creator(Event, name="Calendar", exclude=("participants",))
    assert named.model_json_schema()["title"] == "Calendar"
    assert "participants" not in named.model_json_schema()["$defs"]["Calendar"]["properties"]


def test_pydantic_meta_defaults_are_tortoises() -> None:
    assert PydanticMeta.max_recursion == 3
    assert PydanticMeta.allow_cycles is False
    assert PydanticMeta.backward_relations is True
    assert PydanticMeta.exclude_raw_fields is True
    assert PydanticMeta.exclude == ("Meta",)


def test_unresolved_models_are_refused() -> None:
    class Orphan(Model):
        parent: fields.ForeignKeyRelation[Tournament] = fields.ForeignKeyField(
            "models.Nowhere", related_name="orphans"
        )

        class Meta:
            app = "elsewhere"

    with pytest.raises(ConfigurationError, match="init_models"):
        pydantic_model_creator(Orphan)
