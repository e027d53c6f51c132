"""QuerySet.union(): rows of several querysets, of one model or several, as one list."""

from __future__ import annotations

import pytest

from tests.orm.models import Author, Tag
from yara_orm import Count, ParamsError


@pytest.fixture
async def people_and_tags(orm: str) -> None:
    for name in ("Ada", "Grace", "Alan"):
        await Author.create(name=name)
    for name in ("classic", "Ada-ish"):
        await Tag.create(name=name)


async def test_union_of_one_model_folds_duplicates(people_and_tags: None) -> None:
    first = Author.filter(name__in=["Ada", "Grace"])
    second = Author.filter(name__in=["Grace", "Alan"])
    names = sorted(a.name for a in await first.union(second))
    assert names == ["Ada", "Alan", "Grace"]
    everything = await first.union(second, all=True).order_by("name")
    assert [a.name for a in everything] == ["Ada", "Alan", "Grace", "Grace"]
    assert await first.union(second).count() == 3


async def test_union_of_two_models_orders_limits_and_keeps_types(people_and_tags: None) -> None:
    authors = Author.filter(name__startswith="A").only("id", "name")
    tags = Tag.all().only("id", "name")
    rows = await authors.union(tags).order_by("-name").limit(3).offset(1)
    assert [(type(r).__name__, r.name) for r in rows] == [
        ("Author", "Alan"),
        ("Tag", "Ada-ish"),
        ("Author", "Ada"),
    ]
    with pytest.raises(AttributeError):
        _ = rows[0].born  # only the selected fields are loaded
    chained = await Author.filter(name="Ada").only("id", "name").union(tags).union(authors)
    assert len(chained) == 4


async def test_union_refuses_what_it_cannot_do(people_and_tags: None) -> None:
    with pytest.raises(ParamsError, match="same select fields"):
        await Author.all().union(Tag.all())
    with pytest.raises(ParamsError, match="must be in the select list"):
        await Author.all().union(Author.all()).order_by("nickname")
    with pytest.raises(ParamsError, match="non-negative"):
        Author.all().union(Author.all()).limit(-1)
    with pytest.raises(ParamsError, match="annotations"):
        await Author.annotate(n=Count("books")).union(Author.all())
