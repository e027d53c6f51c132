"""Every field type round-trips through the database, and bad values are refused before SQL."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from tests.orm.models import Author, Book, Event, Kind, Note, Priority
from yara_orm import FieldError, ValidationError, YaraOrm, timezone

PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


async def test_every_field_type_round_trips(orm: str) -> None:
    event = await Event.create(
        kind=Kind.CLOSED,
        priority=Priority.HIGH,
        payload={"tags": ["a", "b"], "n": 1},
        duration=dt.timedelta(hours=1, microseconds=5),
        at=dt.time(12, 30, 1),
        blob=b"\x00bytes\xff",
        flag=True,
        big=2**62,
        small=-300,
        day=dt.date(2024, 2, 29),
        note="hello",
    )
    assert isinstance(event.id, uuid.UUID)
    loaded = await Event.get(id=event.id)
    assert loaded.kind is Kind.CLOSED
    assert loaded.priority is Priority.HIGH
    assert loaded.payload == {"tags": ["a", "b"], "n": 1}
    assert loaded.duration == dt.timedelta(hours=1, microseconds=5)
    assert loaded.at == dt.time(12, 30, 1, tzinfo=dt.UTC)
    assert loaded.blob == b"\x00bytes\xff"
    assert loaded.flag is True
    assert loaded.big == 2**62
    assert loaded.small == -300
    assert loaded.day == dt.date(2024, 2, 29)
    assert loaded.note == "hello"


@pytest.mark.parametrize("payload", ["a string", 42, [1, 2], None, {"nested": {"x": [True]}}])
async def test_json_field_keeps_any_json_value(orm: str, payload: object) -> None:
    event = await Event.create(kind=Kind.OPEN, payload=payload)
    assert (await Event.get(id=event.id)).payload == payload


async def test_decimal_and_datetime_fields(orm: str) -> None:
    author = await Author.create(name="Ada", born=dt.date(1815, 12, 10))
    book = await Book.create(title="Notes", author=author, price=Decimal("12.5"))
    assert book.price == Decimal("12.50")
    loaded = await Book.get(pk=book.pk)
    assert loaded.price == Decimal("12.50")
    assert loaded.published.tzinfo is not None
    assert abs(loaded.published - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert (await Author.get(pk=author.pk)).born == dt.date(1815, 12, 10)


async def test_naive_datetimes_are_taken_as_utc(orm: str) -> None:
    author = await Author.create(name="A")
    naive = dt.datetime(2024, 5, 1, 10, 0)
    book = await Book.create(title="T", author=author, published=naive)
    loaded = await Book.get(pk=book.pk)
    assert loaded.published == naive.replace(tzinfo=dt.UTC)


async def test_datetimes_are_read_in_the_configured_zone(orm: str) -> None:
    author = await Author.create(name="A")
    at = dt.datetime(2024, 5, 1, 10, 0, tzinfo=dt.UTC)
    await Book.bulk_create([Book(title=f"t{i}", author=author, published=at) for i in range(3)])
    zone = timezone.get_default_timezone()
    read = [
        (await Book.get(title="t0")).published,
        *(book.published for book in await Book.all()),
        *(await Book.all().values_list("published", flat=True)),
        *(row["published"] for row in await Book.all().values("published")),
        *(book.published for book in await Book.all().select_related("author")),
    ]
    assert read == [at] * 13
    assert {value.tzinfo for value in read} == {zone}  # the configured zone, not timezone.utc
    timezone.configure(use_tz=True, timezone="Asia/Kolkata")
    try:
        kolkata = timezone.get_default_timezone()
        for book in [await Book.get(title="t0"), *await Book.all()]:
            assert book.published == at and book.published.tzinfo is kolkata
            assert book.published.hour == 15  # 10:00 UTC is 15:30 there
        values = await Book.all().values("published")
        assert {row["published"].tzinfo for row in values} == {kolkata}
        timezone.configure(use_tz=False)
        naive = [book.published for book in await Book.all()]
        assert naive == [dt.datetime(2024, 5, 1, 15, 30)] * 3
    finally:
        timezone.configure(use_tz=True, timezone="UTC")


async def test_auto_now_and_inherited_fields(orm: str) -> None:
    note = await Note.create(text="first")
    created, modified = note.created, note.modified
    note.text = "second"
    await note.save()
    loaded = await Note.get(pk=note.pk)
    assert loaded.created == created
    assert loaded.modified >= modified
    assert loaded.text == "second"
    assert {"created", "modified", "text"} <= set(Note._meta.fields)


@pytest.mark.parametrize(
    ("model", "values", "named"),
    [
        (Author, {"name": "x" * 101}, "Author.name"),
        (Author, {"name": None}, "Author.name"),
        (Author, {"name": b"bytes"}, "Author.name"),
        (Author, {"name": "ok", "id": "abc"}, "Author.id"),
        (Author, {"name": "ok", "born": "not a date"}, "Author.born"),
        (Event, {"kind": "ajar"}, "Event.kind"),
        (Event, {"kind": Kind.OPEN, "small": 2**20}, "Event.small"),
        (Event, {"kind": Kind.OPEN, "flag": "yes"}, "Event.flag"),
        (Event, {"kind": Kind.OPEN, "payload": {1, 2}}, "Event.payload"),
    ],
)
async def test_bad_values_raise_validation_error_before_sql(
    orm: str, model: type, values: dict[str, object], named: str
) -> None:
    with pytest.raises(ValidationError) as info:
        await model.create(**values)
    assert named in str(info.value)
    assert await model.all().count() == 0


async def test_too_many_decimal_digits(orm: str) -> None:
    author = await Author.create(name="A")
    with pytest.raises(ValidationError, match="more than 10 digits"):
        await Book.create(title="T", author=author, price=Decimal("123456789.99"))


async def test_unknown_field_in_constructor(orm: str) -> None:
    with pytest.raises(FieldError, match=r"'colour'.*valid fields: books, born, id, name, profile"):
        Author(name="x", colour="red")


def test_schema_statements_use_each_dialect(orm: str) -> None:
    statements = "\n".join(YaraOrm.schema_statements())
    if orm == "postgres":
        assert "GENERATED BY DEFAULT AS IDENTITY" in statements
        assert '"price" NUMERIC(10, 2)' in statements
        assert "JSONB" in statements
    else:
        assert "AUTOINCREMENT" in statements
        assert '"price" DECIMAL_TEXT(10, 2)' in statements
    assert 'REFERENCES "author" ("id") ON DELETE CASCADE' in statements
    assert 'UNIQUE ("title", "author_id")' in statements
    assert 'CREATE TABLE IF NOT EXISTS "book_tag"' in statements
    assert '"note_text"' in statements


async def test_time_fields_take_iso_text(orm: str) -> None:
    event = await Event.create(kind=Kind.OPEN, at="10:30:15+02:00")
    assert (await Event.get(pk=event.pk)).at == dt.time(8, 30, 15, tzinfo=dt.UTC)
    with pytest.raises(ValidationError, match=r"Event\.at"):
        await Event.create(kind=Kind.OPEN, at="half past ten")


async def test_times_are_stored_in_utc_and_read_in_the_configured_zone(orm: str) -> None:
    event = await Event.create(kind=Kind.OPEN, at=dt.time(23, 15, 0, 250, tzinfo=PLUS_TWO))
    assert event.at == dt.time(21, 15, 0, 250, tzinfo=dt.UTC)
    loaded = await Event.get(pk=event.pk)
    assert loaded.at == event.at and loaded.at.utcoffset() == dt.timedelta(0)
    # The same instant however it is written; a time of day wraps around midnight.
    assert await Event.filter(at=dt.time(23, 15, 0, 250, tzinfo=PLUS_TWO)).count() == 1
    assert await Event.filter(at=dt.time(21, 15, 0, 250)).count() == 1
    early = await Event.create(kind=Kind.OPEN, at=dt.time(1, 0, tzinfo=PLUS_TWO))
    assert (await Event.get(pk=early.pk)).at == dt.time(23, 0, tzinfo=dt.UTC)


async def test_times_compare_and_order_alike_on_both_backends(orm: str) -> None:
    for at in (dt.time(9, 30), dt.time(9, 30, tzinfo=PLUS_TWO), dt.time(8, 0, tzinfo=dt.UTC)):
        await Event.create(kind=Kind.OPEN, at=at)
    ordered = await Event.filter(at__isnull=False).order_by("at").values_list("at", flat=True)
    assert [t.hour * 60 + t.minute for t in ordered] == [7 * 60 + 30, 8 * 60, 9 * 60 + 30]
    assert await Event.filter(at__gt=dt.time(8, 0)).values_list("at", flat=True) == [
        dt.time(9, 30, tzinfo=dt.UTC)
    ]
    assert await Event.filter(at__hour=9).count() == 1


async def test_naive_times_are_wall_time_in_the_configured_zone(orm: str) -> None:
    timezone.configure(use_tz=True, timezone="Asia/Kolkata")
    try:
        event = await Event.create(kind=Kind.OPEN, at=dt.time(9, 0))
        assert event.at == dt.time(9, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30)))
        assert (await Event.get(pk=event.pk)).at == event.at
        assert await Event.filter(at=dt.time(9, 0)).count() == 1
        assert await Event.filter(at=dt.time(3, 30, tzinfo=dt.UTC)).count() == 1
    finally:
        timezone.configure(use_tz=True, timezone="UTC")


async def test_without_use_tz_times_come_back_naive(orm: str) -> None:
    aware = await Event.create(kind=Kind.OPEN, at=dt.time(8, 0, tzinfo=PLUS_TWO))
    timezone.configure(use_tz=False, timezone="UTC")
    try:
        naive = await Event.create(kind=Kind.OPEN, at=dt.time(7, 45, 30))
        assert (await Event.get(pk=naive.pk)).at == dt.time(7, 45, 30)
        assert (await Event.get(pk=aware.pk)).at == dt.time(6, 0)
        assert await Event.filter(at=dt.time(6, 0)).count() == 1
        converted = await Event.create(kind=Kind.OPEN, at=dt.time(10, 0, tzinfo=PLUS_TWO))
        assert converted.at == dt.time(8, 0)  # as it will read back
    finally:
        timezone.configure(use_tz=True, timezone="UTC")
