"""Hostile and out-of-range values: a clear exception of the ORM's hierarchy, the same on
both backends, and the database unchanged."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.orm.models import Author, Book, Event, Kind
from yara_orm import (
    DataError,
    F,
    OperationalError,
    ParameterTypeError,
    ParamsError,
    Q,
    ValidationError,
    connections,
    fields,
)


async def test_integer_overflow_in_an_update_is_a_data_error(orm: str) -> None:
    event = await Event.create(kind=Kind.OPEN, big=2**63 - 1)
    with pytest.raises(DataError) as raised:
        await Event.filter(id=event.id).update(big=F("big") + 1)
    assert raised.value.sqlstate == "22003"
    with pytest.raises(DataError) as raised:
        await Event.filter(id=event.id).update(big=F("big") - 2**63 + F("small") * 0 + 2**63)
    assert raised.value.sqlstate == "22003"
    assert (await Event.get(id=event.id)).big == 2**63 - 1  # unchanged, still an int
    await Event.filter(id=event.id).update(big=F("big") - 1)
    assert (await Event.get(id=event.id)).big == 2**63 - 2


async def test_integer_division_by_zero_is_a_data_error(orm: str) -> None:
    event = await Event.create(kind=Kind.OPEN, big=10, small=0)
    with pytest.raises(DataError) as raised:
        await Event.filter(id=event.id).update(big=F("big") / F("small"))
    assert raised.value.sqlstate == "22012"
    await Event.filter(id=event.id).update(big=F("big") / 3, small=F("big") % 3)
    fetched = await Event.get(id=event.id)
    assert (fetched.big, fetched.small) == (3, 1)


async def test_case_insensitive_lookups_know_unicode(orm: str) -> None:
    await Author.create(name="ÄÖÜ Straße")
    await Author.create(name="plain")
    assert [a.name for a in await Author.filter(name__icontains="äöü")] == ["ÄÖÜ Straße"]
    assert await Author.filter(name__icontains="ÄÖÜ").count() == 1
    assert await Author.filter(name__iexact="äöü straße").count() == 1
    assert await Author.filter(name__istartswith="äö").count() == 1
    assert await Author.filter(name__iendswith="STRASSE").count() == 0  # ß is not ss


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("1E+100"), r"has more than 10 digits \(max_digits=10, decimal_places=2\)"),
        (Decimal("9" * 40), r"has more than 10 digits \(max_digits=10, decimal_places=2\)"),
        (Decimal("123456789.5"), r"has more than 10 digits \(max_digits=10, decimal_places=2\)"),
    ],
)
async def test_decimal_that_does_not_fit_is_a_validation_error(
    orm: str, value: Decimal, reason: str
) -> None:
    author = await Author.create(name="a")
    with pytest.raises(ValidationError, match=reason) as raised:
        await Book.create(title="t", author=author, price=value)
    assert (raised.value.model, raised.value.field) == ("Book", "price")
    assert await Book.all().count() == 0


@pytest.mark.parametrize("value", ["²", "+-5", "1_0x", "", "٣.5"])
async def test_int_field_text_that_is_not_an_integer(orm: str, value: str) -> None:
    with pytest.raises(ValidationError) as raised:
        await Event.create(kind=Kind.OPEN, big=value)
    assert (raised.value.model, raised.value.field, raised.value.value) == ("Event", "big", value)
    assert await Event.all().count() == 0


async def test_int_field_range_is_checked_before_sql(orm: str) -> None:
    with pytest.raises(ValidationError, match="out of range"):
        await Event.create(kind=Kind.OPEN, big=2**63)
    with pytest.raises(ValidationError, match="out of range"):
        await Event.create(kind=Kind.OPEN, small=2**15)
    assert await Event.create(kind=Kind.OPEN, big=" 42 ") is not None


async def test_utc_offsets_with_microseconds_are_kept_exactly(orm: str) -> None:
    zone = dt.timezone(dt.timedelta(hours=1, microseconds=500))
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=zone)
    client = connections.get()
    mark = client.dialect.placeholder(1)
    table = "t_offsets"
    kind = "TIMESTAMPTZ" if client.dialect.name == "postgres" else "TIMESTAMP"
    await client.execute_script(f"CREATE TABLE {table} (at {kind})")
    await client.execute(f"INSERT INTO {table} (at) VALUES ({mark})", [moment])
    (stored,) = (await client.fetch(f"SELECT at FROM {table}"))[0]
    assert stored == moment
    assert stored.astimezone(dt.UTC) == moment.astimezone(dt.UTC)
    with pytest.raises(ParameterTypeError, match="whole seconds"):
        await client.execute(
            f"INSERT INTO {table} (at) VALUES ({mark})",
            [dt.time(1, 2, 3, tzinfo=zone)],
        )


async def test_a_thousand_filters_combined_in_a_loop(orm: str) -> None:
    # Built as people build them: q = q | Q(...) in a loop, 1,000 deep.
    await Author.create(name="n999")
    q = Q(name="n0")
    for i in range(1, 1000):
        q = q | Q(name=f"n{i}")
    assert [a.name for a in await Author.filter(q)] == ["n999"]
    q = ~Q(name="x")
    for i in range(1000):
        q = q & ~Q(name=f"m{i}")
    assert await Author.filter(q).count() == 1


async def test_deeply_nested_filters_compile_without_recursion(orm: str) -> None:
    # Alternating connectors cannot be flattened: the tree really is 1,500 levels deep.
    q = Q(name="a")
    for i in range(1500):
        q = (q | Q(name=f"x{i}")) if i % 2 else (q & ~Q(name=f"y{i}"))
    sql = Author.filter(q).sql()
    assert sql.count("NOT (") == 750


async def test_huge_in_lists_and_in_bulk(orm: str) -> None:
    authors = await Author.bulk_create([Author(name=f"a{i}") for i in range(300)])
    wanted = [a.pk for a in authors[::3]] + list(range(10**6, 10**6 + 100_000))
    assert await Author.filter(pk__in=wanted).count() == 100
    assert await Author.filter(pk__not_in=wanted).count() == 200
    assert await Author.filter(name__in=[f"a{i}" for i in range(0, 150_000, 2)]).count() == 150
    found = await Author.in_bulk([a.pk for a in authors] + list(range(10**7, 10**7 + 70_000)))
    assert sorted(found) == sorted(a.pk for a in authors)


async def test_too_many_parameters_names_the_limit(orm: str) -> None:
    client = connections.get()
    count = 70_000
    marks = ", ".join(client.dialect.placeholder(i + 1) for i in range(count))
    # Class 54, "program limit exceeded": an OperationalError, as PostgreSQL's drivers say.
    with pytest.raises(OperationalError) as raised:
        await client.fetch(f"SELECT 1 WHERE 1 IN ({marks})", list(range(count)))
    message = str(raised.value)
    assert raised.value.sqlstate == "54000"
    assert ("65535" in message) if client.dialect.name == "postgres" else ("32766" in message)
    # The message shows the start of the SQL, not all of it; the exception keeps it whole.
    assert len(message) < 1000 and "characters in all" in message
    assert raised.value.sql is not None and len(raised.value.sql) > 100_000


async def test_values_one_backend_would_refuse_are_refused_on_both(orm: str) -> None:
    with pytest.raises(ValidationError, match="NUL character"):
        await Author.create(name="a\x00b")
    with pytest.raises(ValidationError, match="JSON"):
        await Event.create(kind=Kind.OPEN, payload={"a": float("nan")})
    with pytest.raises(ValidationError, match="too large for a float"):
        await Book.create(title="t", author=await Author.create(name="x"), rating=10**400)
    for bad in (-1, 2**70, "3"):
        with pytest.raises(ParamsError):
            Author.all().limit(bad)  # type: ignore[arg-type]
        with pytest.raises(ParamsError):
            Author.all().offset(bad)  # type: ignore[arg-type]
    assert await Author.all().count() == 1


@settings(max_examples=300, deadline=None)
@given(
    value=st.decimals(allow_nan=False, allow_infinity=False, places=None),
    max_digits=st.integers(1, 20),
    data=st.data(),
)
def test_decimal_digits_are_counted_as_the_database_counts_them(
    value: Decimal, max_digits: int, data: st.DataObject
) -> None:
    places = data.draw(st.integers(0, max_digits))
    field = fields.DecimalField(max_digits=max_digits, decimal_places=places)
    with localcontext() as context:
        context.prec = 200
        try:
            quantized = value.quantize(Decimal(1).scaleb(-places))
        except InvalidOperation:
            fits = False
        else:
            fits = len(quantized.as_tuple().digits) <= max_digits
    if fits:
        assert field.check(value) == value.quantize(Decimal(1).scaleb(-places))
    else:
        with pytest.raises(ValidationError, match="digits"):
            field.check(value)
