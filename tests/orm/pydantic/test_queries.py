"""Building models from querysets fetches each relation once for all rows: the number of
queries depends on the relations a model nests, never on the number of rows."""

from __future__ import annotations

import pytest

from tests.orm.pydantic.models import Address, Event, Reporter, Team, Tournament
from yara_orm.contrib.pydantic import pydantic_model_creator, pydantic_queryset_creator
from yara_testing import NPlusOneError, assert_no_nplusone, assert_num_queries, record_queries

pytestmark = pytest.mark.usefixtures("orm")


async def _calendar(events: int, first_id: int = 1) -> Tournament:
    """`events` events, each with a reporter, two participants and an address."""
    tournament = await Tournament.create(name="Open")
    teams = [await Team.create(name=f"Team {n}") for n in range(3)]
    for n in range(events):
        reporter = await Reporter.create(name=f"Reporter {n}")
        event = await Event.create(
            event_id=first_id + n, name=f"Event {n}", tournament=tournament, reporter=reporter
        )
        await event.participants.add(teams[n % 3], teams[(n + 1) % 3])
        await Address.create(event=event, city="Paris", street=f"Street {n}")
    return tournament


async def _count_list_queries() -> tuple[int, int]:
    Events = pydantic_queryset_creator(Event)
    with record_queries() as log:
        listed = await Events.from_queryset(Event.all())
    return len(log), len(listed.root)


@pytest.mark.parametrize("rows", [2, 20])
async def test_from_queryset_runs_one_query_per_relation(rows: int) -> None:
    await _calendar(rows)
    queries, built = await _count_list_queries()
    assert built == rows
    # The events, then tournament, reporter, participants and address: one query each.
    assert queries == 5


async def test_query_count_does_not_grow_with_rows() -> None:
    await _calendar(2)
    few, _ = await _count_list_queries()
    await _calendar(28, first_id=3)
    many, built = await _count_list_queries()
    assert built == 30
    assert few == many


async def test_nested_reverse_relations_are_fetched_per_level() -> None:
    await _calendar(12)
    Tournaments = pydantic_queryset_creator(Tournament)
    # Tournaments, their events, and the events' reporter, participants and address.
    with assert_num_queries(5):
        listed = await Tournaments.from_queryset(Tournament.all())
    (tournament,) = listed.model_dump()
    assert len(tournament["events"]) == 12
    assert all(len(event["participants"]) == 2 for event in tournament["events"])
    assert all(event["address"]["city"] == "Paris" for event in tournament["events"])


async def test_from_yara_orm_fetches_each_relation_once() -> None:
    await _calendar(3)
    Event_Pydantic = pydantic_model_creator(Event)
    event = await Event.get(event_id=2)
    with record_queries() as log:
        built = await Event_Pydantic.from_yara_orm(event)
    assert len(log) == 4  # tournament, reporter, participants, address
    assert built.model_dump()["reporter"]["name"] == "Reporter 1"  # type: ignore[index]


async def test_a_model_without_relations_runs_one_query() -> None:
    tournament = await _calendar(4)
    Flat = pydantic_queryset_creator(
        Event, exclude=("tournament", "reporter", "participants", "address")
    )
    with assert_num_queries(1):
        listed = await Flat.from_queryset(Event.all())
    # Relations not nested: their key columns show instead.
    assert [item["tournament_id"] for item in listed.model_dump()] == [tournament.id] * 4


async def test_the_n_plus_one_detector_stays_quiet_and_would_catch_a_loop() -> None:
    await _calendar(6)
    Events = pydantic_queryset_creator(Event)
    with assert_no_nplusone():
        await Events.from_queryset(Event.all())
    # The detector is live here: loading each event's reporter one by one is flagged.
    with pytest.raises(NPlusOneError, match="reporter"), assert_no_nplusone():
        for event in await Event.all():
            await event.reporter
