"""Tortoise's `expressions` and `functions`: text functions, Function subclasses, RawSQL,
Subquery, Case/When, and aggregates with distinct= and _filter=, in annotate(), filter(),
order_by(), values() and update()."""

from __future__ import annotations

import pytest

from tests.orm.surface.models import Player, Team
from yara_orm import expressions, functions
from yara_orm.expressions import Case, Connector, F, Function, Q, RawSQL, Subquery, Value, When
from yara_orm.functions import (
    Avg,
    Coalesce,
    Concat,
    Count,
    Length,
    Lower,
    Max,
    Min,
    Sum,
    Trim,
    Upper,
)


@pytest.fixture
async def league(orm: str) -> None:
    """Élan (ann 3, bob 5, cid 5), Beta (dan 1), Gamma (no players); free has no team."""
    elan = await Team.create(name="Élan", rank=1, motto="  go  ")
    beta = await Team.create(name="Beta", rank=2)
    await Team.create(name="Gamma", rank=2, motto="win")
    for team, name, goals in [
        (elan, "ann", 3),
        (elan, "bob", 5),
        (elan, "cid", 5),
        (beta, "dan", 1),
        (None, "free", 9),
    ]:
        await Player.create(name=name, team=team, goals=goals)


def test_modules_export_tortoise_names() -> None:
    for name in ("F", "Q", "Value", "RawSQL", "Subquery", "Case", "When", "Function"):
        assert name in expressions.__all__
    for name in ("Upper", "Lower", "Trim", "Length", "Coalesce", "Concat", "Count", "Sum"):
        assert name in functions.__all__
    assert functions.Count is Count and functions.Function is Function
    assert {c.name: c.value for c in Connector} == {
        "add": "+",
        "sub": "-",
        "mul": "*",
        "div": "/",
        "mod": "%",
    }


# Functions -----------------------------------------------------------------------------------


async def test_text_functions(league: None) -> None:
    rows = await (
        Team.annotate(
            up=Upper("name"),
            low=Lower("name"),
            trimmed=Trim("motto"),
            length=Length("name"),
        )
        .order_by("rank", "name")
        .values_list("up", "low", "trimmed", "length")
    )
    # Upper and Lower know more than ASCII on both backends.
    assert rows == [
        ("ÉLAN", "élan", "go", 4),
        ("BETA", "beta", None, 4),
        ("GAMMA", "gamma", "win", 5),
    ]


async def test_coalesce_and_concat(league: None) -> None:
    rows = await (
        Team.annotate(
            motto_or=Coalesce("motto", "none"),
            motto_or_name=Coalesce("motto", F("name")),
            label=Concat("name", ": ", F("motto")),  # NULL counts as empty text
        )
        .order_by("id")
        .values_list("motto_or", "motto_or_name", "label")
    )
    assert rows == [
        ("  go  ", "  go  ", "Élan:   go  "),
        ("none", "Beta", "Beta: "),
        ("win", "win", "Gamma: win"),
    ]


async def test_functions_in_filters_order_and_instances(league: None) -> None:
    assert await Team.annotate(size=Length(Trim("motto"))).filter(size=2).values_list(
        "name", flat=True
    ) == ["Élan"]
    teams = await Team.annotate(size=Length("name"), low=Lower("name")).order_by("-size", "rank")
    assert [t.name for t in teams] == ["Gamma", "Élan", "Beta"]
    assert [t.low for t in teams] == ["gamma", "élan", "beta"]  # type: ignore[attr-defined]


async def test_function_subclass_and_arithmetic(league: None) -> None:
    class Abs(Function):
        database_func = "ABS"

    rows = (
        await Player.annotate(distance=Abs(F("goals") - 4))
        .order_by("name")
        .values_list("name", "distance")
    )
    assert rows == [("ann", 1), ("bob", 1), ("cid", 1), ("dan", 3), ("free", 5)]


async def test_update_with_a_function(league: None) -> None:
    assert await Team.filter(name="Beta").update(motto=Upper("name")) == 1
    assert (await Team.get(name="Beta")).motto == "BETA"


# RawSQL and Subquery -------------------------------------------------------------------------


async def test_raw_sql_annotation(league: None) -> None:
    query = Player.annotate(double=RawSQL('"goals" * 2'))
    assert await query.order_by("name").values_list("name", "double") == [
        ("ann", 6),
        ("bob", 10),
        ("cid", 10),
        ("dan", 2),
        ("free", 18),
    ]
    assert await query.filter(double__gte=10).order_by("name").values_list("name", flat=True) == [
        "bob",
        "cid",
        "free",
    ]


async def test_subquery_as_a_value(league: None) -> None:
    beta = Subquery(Team.filter(name="Beta").values("id"))
    assert await Player.filter(team_id=beta).values_list("name", flat=True) == ["dan"]
    best = Subquery(Player.all().order_by("-goals").limit(1).values("name"))
    assert await Team.annotate(best=best).order_by("name").values_list("best", flat=True) == [
        "free",
        "free",
        "free",
    ]


# Case / When -----------------------------------------------------------------------------------


async def test_case_when(league: None) -> None:
    scored = Case(
        When(Q(goals__gte=5) | Q(name="ann"), then=F("goals")),
        When(goals__gte=9, then=Value(100)),  # never reached: the first branch wins
        default=Value(0),
    )
    assert await Player.annotate(score=scored).order_by("name").values_list("name", "score") == [
        ("ann", 3),
        ("bob", 5),
        ("cid", 5),
        ("dan", 0),
        ("free", 9),
    ]
    negated = Case(When(goals__gte=5, then=F("goals"), negate=True), default=Value(-1))
    assert await Player.annotate(low=negated).order_by("name").values_list("low", flat=True) == [
        3,
        -1,
        -1,
        1,
        -1,
    ]


async def test_case_when_binds_condition_and_result_values_in_order(league: None) -> None:
    # Both the condition and the result are parameters: with SQLite's positional "?", a
    # result compiled before its condition swapped them ("goals >= 'high' THEN 5").
    level = Case(When(goals__gte=5, then="high"), When(goals__lte=1, then="low"), default="mid")
    rows = await Player.annotate(level=level).order_by("name").values_list("name", "level")
    assert rows == [
        ("ann", "mid"),
        ("bob", "high"),
        ("cid", "high"),
        ("dan", "low"),
        ("free", "high"),
    ]
    assert await Player.filter(goals__in=[1, 3]).annotate(level=level).count() == 2
    sql = Player.annotate(level=level).values("level").sql(params_inline=True)
    assert ">= 5 THEN 'high'" in sql


# Aggregates ------------------------------------------------------------------------------------


async def test_aggregates_with_distinct(league: None) -> None:
    rows = await (
        Team.annotate(
            members=Count("players__goals"),
            scores=Count("players__goals", distinct=True),
            total=Sum("players__goals"),
            distinct_total=Sum("players__goals", distinct=True),
        )
        .order_by("id")
        .values_list("id", "name", "members", "scores", "total", "distinct_total")
    )
    # Grouped by what values_list() selects: the id keeps the ordering valid on PostgreSQL.
    assert [row[1:] for row in rows] == [
        ("Élan", 3, 2, 13, 8),
        ("Beta", 1, 1, 1, 1),
        ("Gamma", 0, 0, None, None),
    ]


async def test_aggregates_with_filter(league: None) -> None:
    rows = await (
        Team.annotate(
            scorers=Count("players", _filter=Q(players__goals__gte=3)),
            b_goals=Sum("players__goals", _filter=Q(players__name__startswith="b")),
        )
        .order_by("id")
        .values_list("id", "name", "scorers", "b_goals")
    )
    assert [row[1:] for row in rows] == [("Élan", 3, 5), ("Beta", 0, None), ("Gamma", 0, None)]


async def test_filtering_on_aggregates(league: None) -> None:
    busy = Team.annotate(n=Count("players")).filter(n__gte=2)
    assert await busy.values_list("name", flat=True) == ["Élan"]
    assert await busy.count() == 1
    scorers = Team.annotate(n=Count("players", _filter=Q(players__goals__gte=3))).filter(n=0)
    assert sorted(await scorers.values_list("name", flat=True)) == ["Beta", "Gamma"]
    (elan,) = await Team.annotate(n=Count("players", distinct=True)).filter(n__gt=1)
    assert elan.name == "Élan" and elan.n == 3  # type: ignore[attr-defined]


async def test_whole_table_aggregates(league: None) -> None:
    (row,) = await Player.annotate(
        total=Sum("goals"), low=Min("goals"), high=Max("goals"), mean=Avg("goals")
    ).values("total", "low", "high", "mean")
    assert (row["total"], row["low"], row["high"]) == (23, 1, 9)
    assert float(row["mean"]) == pytest.approx(23 / 5)
    per_team = (
        await Player.annotate(total=Sum("goals"))
        .filter(team_id__isnull=False)
        .group_by("team_id")
        .values("team_id", "total")
    )
    assert sorted((r["team_id"], r["total"]) for r in per_team) == sorted(
        [((await Team.get(name="Élan")).pk, 13), ((await Team.get(name="Beta")).pk, 1)]
    )
