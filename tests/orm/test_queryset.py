"""QuerySet: lazy chaining, lookups, expressions, aggregates, values, slicing, writes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.orm.models import Author, BadlyOrdered, Book, Tag
from yara_orm import (
    Avg,
    ConfigurationError,
    Count,
    DoesNotExist,
    F,
    FieldError,
    Max,
    Min,
    MultipleObjectsReturned,
    Q,
    Sum,
    ValidationError,
)


@pytest.fixture
async def shop(orm: str) -> dict[str, Author]:
    ada = await Author.create(name="Ada", born=dt.date(1815, 12, 10))
    grace = await Author.create(name="Grace", born=dt.date(1906, 12, 9))
    alan = await Author.create(name="Alan")
    books = [
        ("Notes on the Engine", ada, "10.00", 4.5, dt.datetime(1843, 9, 1, tzinfo=dt.UTC)),
        ("Sketch", ada, "5.50", 3.0, dt.datetime(1842, 1, 1, tzinfo=dt.UTC)),
        ("COBOL Basics", grace, "30.00", 4.0, dt.datetime(1959, 5, 1, tzinfo=dt.UTC)),
        ("Compilers 100%", grace, "25.00", None, dt.datetime(1952, 6, 1, tzinfo=dt.UTC)),
        ("On_Computable Numbers", alan, "15.00", 5.0, dt.datetime(1936, 11, 12, tzinfo=dt.UTC)),
    ]
    for title, author, price, rating, published in books:
        await Book.create(
            title=title, author=author, price=Decimal(price), rating=rating, published=published
        )
    return {"ada": ada, "grace": grace, "alan": alan}


async def titles(query: object) -> list[str]:
    return sorted(book.title for book in await query)  # type: ignore[attr-defined]


async def test_querysets_are_lazy_and_chainable(shop: dict[str, Author]) -> None:
    base = Book.filter(price__gte=Decimal("10"))
    narrowed = base.exclude(author__name="Grace").order_by("-price")
    assert [b.title for b in await narrowed] == ["On_Computable Numbers", "Notes on the Engine"]
    assert len(await base) == 4, "chaining did not change the original"
    assert "ORDER BY" in narrowed.sql()


@pytest.mark.parametrize(
    ("lookup", "expected"),
    [
        ({"title": "Sketch"}, ["Sketch"]),
        ({"title__iexact": "sketch"}, ["Sketch"]),
        ({"title__not": "Sketch", "author__name": "Ada"}, ["Notes on the Engine"]),
        ({"price__gt": Decimal("25")}, ["COBOL Basics"]),
        ({"price__lt": 10}, ["Sketch"]),
        (
            {"price__range": (Decimal("10"), Decimal("15"))},
            ["Notes on the Engine", "On_Computable Numbers"],
        ),
        ({"title__in": ["Sketch", "Nope"]}, ["Sketch"]),
        (
            {"title__not_in": ["Sketch", "COBOL Basics", "Compilers 100%"]},
            ["Notes on the Engine", "On_Computable Numbers"],
        ),
        ({"rating__isnull": True}, ["Compilers 100%"]),
        ({"rating__not_isnull": False}, ["Compilers 100%"]),
        ({"title__contains": "Comp"}, ["Compilers 100%", "On_Computable Numbers"]),
        ({"title__contains": "comp"}, []),
        ({"title__icontains": "comp"}, ["Compilers 100%", "On_Computable Numbers"]),
        ({"title__contains": "100%"}, ["Compilers 100%"]),
        ({"title__contains": "_"}, ["On_Computable Numbers"]),
        ({"title__startswith": "Co"}, ["Compilers 100%"]),
        ({"title__istartswith": "co"}, ["COBOL Basics", "Compilers 100%"]),
        ({"title__endswith": "Basics"}, ["COBOL Basics"]),
        ({"title__iendswith": "BASICS"}, ["COBOL Basics"]),
        ({"published__year": 1843}, ["Notes on the Engine"]),
        ({"published__year__lt": 1940}, ["Notes on the Engine", "On_Computable Numbers", "Sketch"]),
        ({"published__month": 6}, ["Compilers 100%"]),
        ({"published__day": 12}, ["On_Computable Numbers"]),
        ({"author__name": "Alan"}, ["On_Computable Numbers"]),
        ({"author__born__year__gt": 1900}, ["COBOL Basics", "Compilers 100%"]),
        ({"author__name__icontains": "ADA"}, ["Notes on the Engine", "Sketch"]),
    ],
    ids=lambda v: str(v)[:40],
)
async def test_lookups(
    shop: dict[str, Author], lookup: dict[str, object], expected: list[str]
) -> None:
    assert await titles(Book.filter(**lookup)) == sorted(expected)


async def test_lookups_across_reverse_relations_at_depth(shop: dict[str, Author]) -> None:
    names = sorted(a.name for a in await Author.filter(books__title__icontains="comp"))
    assert names == ["Alan", "Grace"]
    # A filter across a to-many relation returns each author once.
    assert [a.name for a in await Author.filter(books__price__gt=1)] == ["Ada", "Alan", "Grace"]
    tag = await Tag.create(name="classic")
    book = await Book.get(title="Sketch")
    await book.tags.add(tag)
    assert [t.name for t in await Tag.filter(books__author__name="Ada")] == ["classic"]
    assert [a.name for a in await Author.filter(books__tags__name="classic")] == ["Ada"]


async def test_q_objects(shop: dict[str, Author]) -> None:
    either = Book.filter(Q(title="Sketch") | Q(price__gt=26))
    assert await titles(either) == ["COBOL Basics", "Sketch"]
    neither = Book.filter(~Q(author__name="Ada") & ~Q(rating__isnull=True))
    assert await titles(neither) == ["COBOL Basics", "On_Computable Numbers"]
    nested = Book.filter(Q(Q(author__name="Ada") | Q(author__name="Alan"), price__lt=12))
    assert await titles(nested) == ["Notes on the Engine", "Sketch"]


async def test_exclude_across_a_to_many_relation_means_none_match(shop: dict[str, Author]) -> None:
    # Ada has one cheap and one dearer book: she has *a* book over 6, so she is excluded.
    assert [a.name for a in await Author.exclude(books__price__gt=6)] == []
    assert [a.name for a in await Author.exclude(books__price__lt=6)] == ["Alan", "Grace"]


async def test_f_expressions(shop: dict[str, Author]) -> None:
    changed = await Book.filter(author__name="Ada").update(price=F("price") + 1)
    assert changed == 2
    assert (await Book.get(title="Sketch")).price == Decimal("6.50")
    doubled = Book.filter(price__gt=F("rating") * 5)
    assert await titles(doubled) == ["COBOL Basics"]
    annotated = await Book.filter(title="Sketch").annotate(double=F("price") * 2)
    assert annotated[0].double == Decimal("13.00")


async def test_aggregates_annotate_and_group_by(shop: dict[str, Author]) -> None:
    counted = await Author.annotate(n=Count("books")).order_by("name")
    assert [(a.name, a.n) for a in counted] == [("Ada", 2), ("Alan", 1), ("Grace", 2)]
    busy = await Author.annotate(n=Count("books")).filter(n__gt=1).order_by("-name")
    assert [a.name for a in busy] == ["Grace", "Ada"]
    # A filter on an aggregate given before a plain one: parameters still line up.
    mixed = Author.annotate(n=Count("books")).filter(n__gt=1).filter(name__startswith="G")
    assert [a.name for a in await mixed] == ["Grace"]
    rows = await (
        Book.annotate(total=Sum("price"), cheapest=Min("price"), dearest=Max("price"))
        .group_by("author__name")
        .order_by("author__name")
        .values("author__name", "total", "cheapest", "dearest")
    )
    assert [r["author__name"] for r in rows] == ["Ada", "Alan", "Grace"]
    # Decimal aggregates are Decimals on both backends (SQLite sums decimal text as floats).
    assert (rows[0]["total"], rows[0]["cheapest"], rows[0]["dearest"]) == (
        Decimal("15.50"),
        Decimal("5.50"),
        Decimal("10.00"),
    )
    assert all(isinstance(rows[0][key], Decimal) for key in ("total", "cheapest", "dearest"))
    (ada,) = await Author.filter(name="Ada").annotate(mean=Avg("books__price"))
    assert isinstance(ada.mean, Decimal) and ada.mean == Decimal("7.75")
    average = await Book.filter(rating__not_isnull=True).annotate(avg=Avg("rating")).values("avg")
    assert average[0]["avg"] == pytest.approx(4.125)


async def test_ordering_by_a_to_many_relation_itself_is_refused(shop: dict[str, Author]) -> None:
    with pytest.raises(FieldError, match=r"to-many relation 'books'.*'books__id'"):
        await Author.all().order_by("books")
    with pytest.raises(FieldError, match="to-many relation 'tags'"):
        await Book.all().order_by("-tags")
    with pytest.raises(ConfigurationError, match=r"BadlyOrdered.Meta.ordering: .*\"missing\""):
        await BadlyOrdered.all()
    # A forward relation orders by its key, as its column does.
    by_author = await Book.all().order_by("author", "title").values_list("author_id", flat=True)
    assert list(by_author) == sorted(by_author)


async def test_ordering_by_a_to_many_path_orders_by_each_related_row(
    shop: dict[str, Author],
) -> None:
    # As in Tortoise and Django: one row per related row, in its order.
    ordered = await Author.all().order_by("books__title")
    assert [a.name for a in ordered] == ["Grace", "Grace", "Ada", "Alan", "Ada"]
    newest_first = await Author.all().order_by("-books__title")
    assert [a.name for a in newest_first][:2] == ["Ada", "Alan"]
    # A to-many filter still gives each author once.
    found = await Author.filter(books__price__gt=1).order_by("name")
    assert [a.name for a in found] == ["Ada", "Alan", "Grace"]
    # Both at once: one row per author and related title (PostgreSQL needs the ordering
    # terms selected under DISTINCT; they are, and left out of the results).
    both = await Author.filter(books__price__gt=6).order_by("-books__title")
    assert [a.name for a in both] == ["Alan", "Ada", "Grace", "Grace"]
    rows = await Author.filter(books__price__gt=6).order_by("books__title").values_list("name")
    assert rows == [("Grace",), ("Grace",), ("Ada",), ("Alan",)]


async def test_values_and_values_list(shop: dict[str, Author]) -> None:
    rows = await Book.filter(author__name="Alan").values("title", "author__name")
    assert rows == [{"title": "On_Computable Numbers", "author__name": "Alan"}]
    pairs = await Book.filter(price__lt=11).order_by("price").values_list("title", "price")
    assert pairs == [("Sketch", Decimal("5.50")), ("Notes on the Engine", Decimal("10.00"))]
    flat = await Author.all().values_list("name", flat=True)
    assert flat == ["Ada", "Alan", "Grace"]  # Meta.ordering applies


async def test_counting_existence_and_distinct(shop: dict[str, Author]) -> None:
    assert await Book.all().count() == 5
    assert await Book.filter(author__name="Ada").count() == 2
    assert await Author.filter(books__price__gt=1).count() == 3
    assert await Book.filter(title="Sketch").exists()
    assert not await Book.filter(title="nope").exists()
    assert await Book.all().limit(2).count() == 2
    assert len(await Book.all().values_list("author_id", flat=True)) == 5
    assert len(await Book.all().distinct().values_list("author_id", flat=True)) == 3


async def test_distinct_values_are_not_widened_by_the_models_ordering(
    shop: dict[str, Author],
) -> None:
    await Author.create(name="Byron", born=dt.date(1815, 12, 10))  # Meta.ordering: name
    born = await Author.all().distinct().values_list("born", flat=True)
    assert sorted(born, key=str) == [dt.date(1815, 12, 10), dt.date(1906, 12, 9), None]
    assert len(await Author.all().distinct().values("born")) == 3
    ordered = await Author.all().distinct().order_by("-born").values_list("born", flat=True)
    assert len(ordered) == 3 and dt.date(1906, 12, 9) in ordered
    with pytest.raises(FieldError, match="distinct\\(\\) values cannot be ordered by name"):
        await Author.all().distinct().order_by("name").values_list("born", flat=True)


async def test_first_and_last_of_aggregates(shop: dict[str, Author]) -> None:
    total = Decimal("85.50")
    assert await Book.annotate(s=Sum("price")).first().values("s") == {"s": total}
    assert await Book.annotate(s=Sum("price")).values("s").first() == {"s": total}
    assert await Book.annotate(s=Sum("price")).first().values_list("s", flat=True) == total
    assert await Author.annotate(n=Count("books")).values_list("n", flat=True).last() == 5
    first = await Author.annotate(n=Count("books")).first()  # instances: by primary key
    assert (first.name, first.n) == ("Ada", 2)


async def test_arithmetic_on_a_decimal_field_reads_as_that_field(shop: dict[str, Author]) -> None:
    totals = (
        await Book.filter(title="Sketch").annotate(t=F("price") * 3).values_list("t", flat=True)
    )
    assert totals == [Decimal("16.50")] and isinstance(totals[0], Decimal)
    (book,) = await Book.filter(title="Sketch").annotate(t=F("price") + Decimal("0.20"))
    assert book.t == Decimal("5.70")


async def test_get_first_last_and_slicing(shop: dict[str, Author]) -> None:
    assert (await Author.get(name="Ada")).name == "Ada"
    with pytest.raises(DoesNotExist):
        await Author.get(name="Nobody")
    with pytest.raises(MultipleObjectsReturned):
        await Book.get(author__name="Ada")
    assert await Author.get_or_none(name="Nobody") is None
    assert (await Author.first()).name == "Ada"
    assert (await Author.all().last()).name == "Grace"
    assert (await Book.all().order_by("price").first()).title == "Sketch"
    page = await Book.all().order_by("price")[1:3]
    assert [b.title for b in page] == ["Notes on the Engine", "On_Computable Numbers"]
    assert (await Book.all().order_by("price")[4]).title == "COBOL Basics"
    assert [b.title for b in await Book.all().order_by("price").offset(4)] == ["COBOL Basics"]


async def test_async_iteration_and_only(shop: dict[str, Author]) -> None:
    seen = [author.name async for author in Author.all()]
    assert seen == ["Ada", "Alan", "Grace"]
    slim = await Author.all().only("name")
    assert slim[0].name == "Ada"
    with pytest.raises(AttributeError):
        _ = slim[0].born


async def test_update_and_delete(shop: dict[str, Author]) -> None:
    assert await Book.filter(author__name="Grace").update(rating=1.0) == 2
    assert await Book.filter(rating=1.0).count() == 2
    assert await Book.filter(author__name="Grace").delete() == 2
    assert await Book.all().count() == 3
    assert await Book.all().order_by("price").limit(1).delete() == 1
    assert not await Book.filter(title="Sketch").exists()


async def test_unknown_fields_and_lookups_are_named(shop: dict[str, Author]) -> None:
    with pytest.raises(FieldError) as unknown:
        await Book.filter(colour="red")
    assert str(unknown.value) == (
        "Unknown filter param 'colour'. Allowed base values are "
        "['author', 'id', 'pk', 'price', 'published', 'rating', 'tags', 'title']"
    )
    with pytest.raises(FieldError, match=r"unknown lookup 'resembles'.*valid lookups"):
        await Book.filter(title__resembles="x")
    with pytest.raises(FieldError) as deeper:
        await Book.filter(author__nickname="x")
    message = str(deeper.value)
    assert message.startswith("Unknown filter param 'author__nickname': Unknown field")
    assert 'Unknown field "nickname" for model "Author"' in message
    assert message.count("valid fields") == 1 and "Allowed base values" not in message
    with pytest.raises(ValidationError, match=r"Book.price"):
        await Book.filter(price="cheap")
    with pytest.raises(FieldError):
        await Book.all().order_by("nonsense")


async def test_values_travel_as_parameters(shop: dict[str, Author]) -> None:
    hostile = "x'; DROP TABLE book; --"
    assert await Book.filter(title=hostile).count() == 0
    await Author.create(name=hostile)
    assert (await Author.get(name=hostile)).name == hostile
    assert await Book.all().count() == 5
