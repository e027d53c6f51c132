"""Query spellings Tortoise users write: single-result querysets that chain, values() with
aliases and annotations, unloaded relations and related managers as querysets, the model
class helpers, and what the ORM refuses."""

from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest

from tests.orm.models import Author, Book
from yara_orm import (
    Count,
    DataError,
    DoesNotExist,
    FieldError,
    IntegrityError,
    NullValueError,
    OperationalError,
    ParamsError,
    Sum,
    UnSupportedError,
    ValidationError,
    YaraOrm,
    in_transaction,
    timezone,
)
from yara_orm.expressions import Case, F, Subquery, Value, When


@pytest.fixture
async def shelf(orm: str) -> Author:
    ada = await Author.create(name="Ada", born=dt.date(1815, 12, 10))
    grace = await Author.create(name="Grace")
    for title, author, price in (
        ("Notes", ada, "10.00"),
        ("Sketch", ada, "5.50"),
        ("COBOL", grace, "30.00"),
    ):
        await Book.create(title=title, author=author, price=Decimal(price))
    return ada


async def test_single_result_querysets_chain(shelf: Author) -> None:
    assert await Book.get(title="Notes").values("title", "price") == {
        "title": "Notes",
        "price": Decimal("10.00"),
    }
    assert await Book.filter(price__gt=6).order_by("price").first().values_list("title") == (
        "Notes",
    )
    assert await Book.get_or_none(title="Missing").values("title") is None
    newest = await Book.all().latest("price").only("id", "title")
    assert newest.title == "COBOL"
    assert (await Book.all().order_by("price").last()).title == "COBOL"
    ada = await Author.get(name="Ada").prefetch_related("books")
    assert sorted(b.title for b in ada.books) == ["Notes", "Sketch"]
    with pytest.raises(DoesNotExist):
        await Book.get(title="Missing").values("title")


async def test_latest_and_earliest_need_an_ordering(shelf: Author) -> None:
    with pytest.raises(FieldError, match="latest\\(\\) needs field names"):
        Book.all().latest()
    assert (await Book.all().order_by("price").latest()).title == "COBOL"
    assert (await Author.all().earliest()).name == "Ada"  # Author.Meta.ordering


async def test_model_class_shortcuts(shelf: Author) -> None:
    assert (await Book.first()).title in {"Notes", "Sketch", "COBOL"}
    assert (await Book.earliest("price")).title == "Sketch"
    assert (await Book.latest("price")).title == "COBOL"
    books = await Book.in_bulk([b.pk for b in await Book.all()], "pk")
    assert sorted(b.title for b in books.values()) == ["COBOL", "Notes", "Sketch"]


async def test_values_with_aliases_annotations_and_grouping(shelf: Author) -> None:
    rows = await Book.filter(title="Notes").values("title", writer="author__name")
    assert rows == [{"title": "Notes", "writer": "Ada"}]
    annotated = await Author.filter(name="Ada").annotate(n=Count("books")).values()
    assert annotated[0]["n"] == 2 and annotated[0]["name"] == "Ada"
    # Rows grouped by a value: group_by(). Without it, a value beside an aggregate keeps
    # one row per model row (as Tortoise and Django), so two authors named alike stay two.
    totals = await (
        Book.annotate(total=Sum("price"))
        .group_by("author__name")
        .order_by("author__name")
        .values("author__name", "total")
    )
    assert totals == [
        {"author__name": "Ada", "total": Decimal("15.50")},
        {"author__name": "Grace", "total": Decimal("30.00")},
    ]
    twin = await Author.create(name="Ada")
    await Book.create(title="Twin", author=twin, price=Decimal("1.00"))
    per_author = await Author.annotate(n=Count("books")).order_by("n", "name").values("name", "n")
    assert per_author == [
        {"name": "Ada", "n": 1},
        {"name": "Grace", "n": 1},
        {"name": "Ada", "n": 2},
    ]
    # Only aggregates: the aggregate of the whole queryset, Meta.ordering notwithstanding.
    assert await Author.annotate(n=Count("books")).values("n") == [{"n": 4}]
    (everything,) = await Book.annotate(total=Sum("price")).values("total")
    assert everything == {"total": Decimal("46.50")}


async def test_sql_with_inline_parameters(shelf: Author, orm: str) -> None:
    sql = Book.filter(title="O'Hara", price__gte=Decimal("2.5")).sql(params_inline=True)
    assert "'O''Hara'" in sql and "2.5" in sql
    assert "?" not in sql and "$1" not in sql


async def test_select_for_update_options(shelf: Author, orm: str) -> None:
    query = Book.filter(title="Notes").select_related("author")
    sql = query.select_for_update(no_key=True, of=("book",)).sql()
    if orm == "postgres":
        # Only the book's row is locked, not the joined author's.
        assert sql.endswith('FOR NO KEY UPDATE OF "t0"')
    else:
        assert "FOR" not in sql.split("FROM", 1)[1]  # SQLite locks the whole database
    async with in_transaction():
        (book,) = await query.select_for_update(of=("book",))
        assert book.author.name == "Ada"


async def test_unloaded_relations_and_managers_are_querysets(shelf: Author) -> None:
    book = await Book.get(title="Notes")
    assert await book.author.values_list("name", flat=True) == "Ada"
    assert (await book.author).name == "Ada"
    assert book.author.name == "Ada"  # loaded by the await above
    ada = shelf
    titles = await ada.books.order_by("title").values_list("title", flat=True)
    assert titles == ["Notes", "Sketch"]
    assert await ada.books.filter(price__lt=6).count() == 1
    assert (await ada.books.order_by("-price").first()).title == "Notes"
    unsaved = Author(name="Nobody")
    with pytest.raises(OperationalError, match="hasn't been instanced"):
        await unsaved.books.all()


async def test_construct_iter_and_text_coercion(shelf: Author) -> None:
    built = Author.construct(name="Raw", born=None)
    assert built.pk is None and built.name == "Raw" and not built._saved_in_db
    ada = await Author.get(name="Ada")
    assert dict(ada) == {"id": ada.pk, "name": "Ada", "born": dt.date(1815, 12, 10)}
    numbered = await Author.create(name=42)
    assert (await Author.get(pk=numbered.pk)).name == "42"


async def test_missing_required_value_is_a_null_value_error(orm: str) -> None:
    with pytest.raises(NullValueError, match="name is non nullable field") as raised:
        await Author.create(name=None)
    assert isinstance(raised.value, IntegrityError) and isinstance(raised.value, ValidationError)
    assert raised.value.sqlstate == "23502"
    assert await Author.all().count() == 0


async def test_get_or_create_refuses_conflicting_defaults(shelf: Author) -> None:
    with pytest.raises(ParamsError, match="Conflict value with key='name'"):
        await Author.get_or_create(name="Ada", defaults={"name": "Other"})


async def test_timezone_settings_are_mirrored_in_the_environment(orm: str) -> None:
    saved = (os.environ.get("USE_TZ"), os.environ.get("TIMEZONE"))
    try:
        timezone.configure(use_tz=True, timezone="Europe/Paris")
        assert (os.environ["USE_TZ"], os.environ["TIMEZONE"]) == ("True", "Europe/Paris")
        assert timezone.get_timezone() == "Europe/Paris"
        assert str(timezone.now().tzinfo) in {"Europe/Paris", "UTC"}
    finally:
        timezone.configure(use_tz=True, timezone="UTC")
        for key, value in zip(("USE_TZ", "TIMEZONE"), saved, strict=True):
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        timezone._reset_timezone_cache()
    assert YaraOrm._inited


async def test_explain_shows_the_plan(shelf: Author, orm: str) -> None:
    query = Book.filter(title="Notes")
    plan = await query.explain()
    assert "book" in str(plan).lower() or "t0" in str(plan)
    if orm == "postgres":
        assert "Plan" in plan[0]["QUERY PLAN"][0]
        analyzed = await query.explain(analyze=True, costs=True)
        assert "Actual Loops" in analyzed[0]["QUERY PLAN"][0]["Plan"]
        text = await query.explain(output_fmt="text")
        assert isinstance(text[0]["QUERY PLAN"], str)
        with pytest.raises(UnSupportedError, match="Unsupported explain format"):
            await query.explain(output_fmt="html")
        with pytest.raises(UnSupportedError, match="NOT_AN_OPTION"):
            await query.explain(not_an_option=True)
        xml = await query.explain(output_fmt="xml")
        assert xml[0]["QUERY PLAN"].startswith("<explain")
    else:
        with pytest.raises(UnSupportedError, match="different explain formats"):
            await query.explain(output_fmt="json")
        with pytest.raises(UnSupportedError, match="explain options"):
            await query.explain(analyze=True)


async def test_in_a_subquery(shelf: Author) -> None:
    cheap_authors = Book.filter(price__lt=20).values_list("author_id", flat=True)
    assert await Author.filter(id__in=Subquery(cheap_authors)).values_list("name", flat=True) == [
        "Ada"
    ]
    assert await Author.filter(id__in=cheap_authors).count() == 1
    assert await Author.filter(id__not_in=Subquery(cheap_authors)).values_list(
        "name", flat=True
    ) == ["Grace"]
    updated = await Book.filter(author_id__in=Subquery(Author.filter(name="Grace").values("id")))
    assert [b.title for b in updated] == ["COBOL"]


async def test_ordering_by_an_annotation_left_out_of_values(shelf: Author) -> None:
    rank = Case(When(title="Sketch", then=Value(1)), When(title="COBOL", then=Value(2)), default=3)
    titles = await Book.annotate(rank=rank).order_by("rank").values_list("title", flat=True)
    assert titles == ["Sketch", "COBOL", "Notes"]
    renamed = await Book.annotate(rank=rank).order_by("-rank").values("title", r="rank")
    assert [row["title"] for row in renamed] == ["Notes", "COBOL", "Sketch"]


async def test_powers_in_annotations_and_updates(orm: str) -> None:
    ada = await Author.create(name="Ada")
    book = await Book.create(title="Notes", author=ada, rating=3.0)
    (squared,) = await Book.annotate(sq=F("rating") ** 2).values_list("sq", flat=True)
    assert squared == pytest.approx(9.0)
    await Book.filter(pk=book.pk).update(rating=2 ** F("rating"))
    await book.refresh_from_db()
    assert book.rating == pytest.approx(8.0)


async def test_regex_lookups(shelf: Author) -> None:
    assert await Book.filter(title__posix_regex="^[CN]").order_by("title").values_list(
        "title", flat=True
    ) == ["COBOL", "Notes"]
    assert await Book.filter(title__posix_regex="^cobol").count() == 0
    assert await Book.filter(title__iposix_regex="^cobol").count() == 1
    with pytest.raises(DataError) as bad:
        await Book.filter(title__posix_regex="(").count()
    assert bad.value.sqlstate == "2201B"


async def test_date_parts(orm: str) -> None:
    ada = await Author.create(name="Ada")
    moment = dt.datetime(2024, 12, 30, 10, 20, 30, 900_000, tzinfo=dt.UTC)
    book = await Book.create(title="Notes", author=ada, published=moment)
    await Book.filter(pk=book.pk).update(published=moment)
    found = Book.filter(published__quarter=4, published__week=1, published__second=30)
    assert await found.count() == 1
    assert await Book.filter(published__quarter=3).count() == 0
    assert await Book.filter(published__microsecond=900_000).count() == 1
    assert await Book.filter(published__microsecond=0).count() == 0
    whole = await Book.create(title="Whole", author=ada, published=moment.replace(microsecond=0))
    assert await Book.filter(published__microsecond=0).get() == whole


async def test_queryset_contains_and_refusals(shelf: Author) -> None:
    notes = await Book.get(title="Notes")
    assert await Book.all().contains(notes)
    assert not await Book.filter(price__gt=20).contains(notes)
    with pytest.raises(ParamsError, match="does not have a primary key"):
        await Book.all().contains(Book(title="new", author=shelf))
    with pytest.raises(ParamsError, match="contains\\(\\) takes a Book"):
        await Book.all().contains(shelf)  # type: ignore[arg-type]
    with pytest.raises(ParamsError, match="Slice steps should be 1 or None"):
        Book.all()[::2]
    with pytest.raises(ParamsError, match="Slice start should be non-negative"):
        Book.all()[-1:]
    with pytest.raises(ParamsError, match="Slice stop should be non-negative"):
        Book.all()[2:1]
    with pytest.raises(ParamsError, match="Limit should be non-negative number"):
        Book.all().limit(-1)
    with pytest.raises(FieldError, match="Duplicate key title"):
        await Book.all().values("title", title="author__name")
    assert await Book.all().order_by("title").values_list("title", "title") == [
        ("COBOL", "COBOL"),
        ("Notes", "Notes"),
        ("Sketch", "Sketch"),
    ]


async def test_update_refuses_what_is_not_a_column_of_the_row(shelf: Author) -> None:
    with pytest.raises(IntegrityError, match="is PK and can not be updated"):
        await Book.filter(title="Notes").update(id=99)
    with pytest.raises(FieldError, match="is virtual and can not be updated"):
        await Book.filter(title="Notes").update(tags=[])
    with pytest.raises(FieldError, match="Unknown keyword argument colour"):
        await Book.filter(title="Notes").update(colour="red")
    assert await Book.filter(title="Notes").count() == 1


async def test_arithmetic_into_a_decimal_field_keeps_its_scale(shelf: Author) -> None:
    await Book.filter(title="Sketch").update(price=F("price") / 7)
    assert (await Book.get(title="Sketch")).price == Decimal("0.79")
    assert await Book.filter(price=Decimal("0.79")).count() == 1
    await Book.filter(title="Notes").update(price=F("price") + 1)
    assert str((await Book.get(title="Notes")).price) == "11.00"
