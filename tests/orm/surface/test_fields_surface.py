"""Fields as Tortoise declares them: validators=, db_default (a literal or SQL the database
runs), enum fields, JSONField's encoder/decoder/field_type, and the generic Field[T]."""

from __future__ import annotations

import datetime as dt
import enum
import re
import typing
from decimal import Decimal
from typing import Any

import pytest

from tests.orm.surface.models import Checked, Colour, Defaulted, Paint, Palette, Player, Size, Team
from tests.orm.surface.schema import create_table
from yara_orm import ValidationError, connections, fields
from yara_orm.exceptions import ConfigurationError
from yara_orm.fields import Now, RandomHex, SqlDefault
from yara_orm.fields.base import DatabaseDefault
from yara_orm.fields.data import CharField, JSONField
from yara_orm.fields.relational import ForeignKeyFieldInstance, ManyToManyFieldInstance
from yara_orm.validators import (
    CommaSeparatedIntegerListValidator,
    EmailValidator,
    InvalidDomainName,
    InvalidEmailAddress,
    InvalidScheme,
    InvalidURL,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    validate_domain_name,
    validate_ipv6_address,
    validate_ipv46_address,
    validate_url,
)

# Validators --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"score": -1}, "score", "greater or equal to 0"),
        ({"score": 11}, "score", "less or equal to 10"),
        ({"code": "abc"}, "code", "does not match"),
        ({"code": "ABCD"}, "code", "does not match"),
        ({"nick": "a"}, "nick", "< 2"),
        ({"nick": "abcdef"}, "nick", "> 5"),
        ({"email": "no-at-sign"}, "email", "valid email"),
        ({"ip": "10.0.0"}, "ip", "IPv4"),
        ({"numbers": "1,,2"}, "numbers", "does not match"),
        ({"tag": "Loud"}, "tag", "not lower case"),  # a plain callable raising ValueError
    ],
)
async def test_validators_refuse_before_any_sql(
    orm: str, values: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        await Checked.create(**values)
    assert raised.value.field == field
    assert raised.value.model == "Checked"
    assert await Checked.all().count() == 0


async def test_values_passing_validators_are_stored(orm: str) -> None:
    checked = await Checked.create(
        score=10, code="XYZ", nick="ab", email="ada@example.org", ip="10.0.0.1", numbers="1,22"
    )
    loaded = await Checked.get(pk=checked.pk)
    assert (loaded.score, loaded.code, loaded.nick) == (10, "XYZ", "ab")
    assert (loaded.email, loaded.ip, loaded.numbers) == ("ada@example.org", "10.0.0.1", "1,22")


async def test_validators_run_on_save_and_update(orm: str) -> None:
    # As in Tortoise, building an instance does not run validators: saving it does.
    unsaved = Checked(score=50)
    with pytest.raises(ValidationError, match="score"):
        await unsaved.save()
    unsaved.score = 7
    await unsaved.save()
    checked = await Checked.create(score=1)
    checked.score = 50
    with pytest.raises(ValidationError, match="score"):
        await checked.save()
    with pytest.raises(ValidationError, match="score"):
        await Checked.filter(pk=checked.pk).update(score=-3)
    assert (await Checked.get(pk=checked.pk)).score == 1
    # None on a nullable field is not given to the validators.
    await Checked.filter(pk=checked.pk).update(nick=None)
    assert (await Checked.get(pk=checked.pk)).nick is None


def test_validators_on_their_own() -> None:
    RegexValidator(r"^\d+$")("123")
    with pytest.raises(ValidationError):
        RegexValidator(r"^\d+$")("12a")
    with pytest.raises(ValidationError):
        RegexValidator("^a", re.IGNORECASE)(5)  # not text
    MinValueValidator(Decimal("0.5"))(Decimal("0.5"))
    with pytest.raises(ValidationError):
        MaxValueValidator(1.5)(2)
    with pytest.raises(ValidationError, match="numeric"):
        MaxValueValidator(10)("3")
    CommaSeparatedIntegerListValidator(allow_negative=True)("-1,2")
    with pytest.raises(ValidationError):
        CommaSeparatedIntegerListValidator()("-1,2")
    validate_ipv6_address("::1")
    validate_ipv46_address("192.168.0.1")
    with pytest.raises(ValidationError):
        validate_ipv46_address("300.1.1.1")
    validate_url("https://example.org/path?q=1")
    with pytest.raises(InvalidScheme):
        validate_url("gopher://example.org")
    with pytest.raises(InvalidURL):
        validate_url("http://")
    assert issubclass(InvalidScheme, InvalidURL) and issubclass(InvalidURL, ValidationError)
    EmailValidator(allowed_domains=["localhost"])("root@localhost")
    with pytest.raises(InvalidEmailAddress):
        EmailValidator(allowed_domains=["example.org"])("root@example.com")
    validate_domain_name("münchen.de")
    with pytest.raises(InvalidDomainName):
        validate_domain_name("\N{PERSONAL COMPUTER}.tech")  # a symbol, not a letter


def test_a_field_keeps_its_validators() -> None:
    field = Checked._meta.fields_map["score"]
    assert [type(v) for v in field.validators] == [MinValueValidator, MaxValueValidator]


# Database defaults ---------------------------------------------------------------------------


async def test_generated_schema_declares_the_defaults(orm: str) -> None:
    statement = create_table("defaulted")
    random_hex = RandomHex().get_sql(dialect=orm)
    for expected in [
        "\"status\" VARCHAR(10) NOT NULL DEFAULT 'new'",
        '"count" INTEGER NOT NULL DEFAULT 7',
        "DEFAULT CURRENT_TIMESTAMP",
        f"DEFAULT {random_hex}",
        "DEFAULT (40 + 2)",
    ]:
        assert expected in statement
    # The plain default is Python's business, not the table's.
    assert "plain" not in statement
    assert (
        random_hex
        == {"sqlite": "(lower(hex(randomblob(16))))", "postgres": "md5(random()::text)"}[orm]
    )


async def test_db_defaults_are_filled_in_by_the_database(orm: str) -> None:
    unsaved = Defaulted()
    assert isinstance(unsaved.status, DatabaseDefault)
    assert not unsaved.status and str(unsaved.status) == "<DB_DEFAULT>"
    created = await Defaulted.create()
    # Read back with the INSERT.
    assert (created.status, created.count, created.flag, created.answer) == ("new", 7, True, 42)
    assert re.fullmatch(r"[0-9a-f]{32}", created.token)
    assert isinstance(created.stamp, dt.datetime) and created.stamp.tzinfo is not None
    assert abs(created.stamp - dt.datetime.now(dt.UTC)) < dt.timedelta(hours=1)
    loaded = await Defaulted.get(pk=created.pk)
    assert (loaded.status, loaded.token, loaded.stamp) == (
        created.status,
        created.token,
        created.stamp,
    )
    other = await Defaulted.create()
    assert other.token != created.token  # computed per row


async def test_db_defaults_apply_to_rows_written_without_the_orm(orm: str) -> None:
    await connections.get().execute('INSERT INTO "defaulted" ("label") VALUES (\'by hand\')')
    row = await Defaulted.get(label="by hand")
    assert (row.status, row.count, row.flag, row.answer) == ("new", 7, True, 42)


async def test_given_values_win_over_db_defaults(orm: str) -> None:
    stamp = dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    created = await Defaulted.create(status="old", count=0, flag=False, stamp=stamp, answer=1)
    loaded = await Defaulted.get(pk=created.pk)
    assert (loaded.status, loaded.count, loaded.flag, loaded.answer) == ("old", 0, False, 1)
    assert loaded.stamp == stamp
    # bulk_create leaves unset columns to the database too.
    await Defaulted.bulk_create([Defaulted(label="b1"), Defaulted(label="b2", count=3)])
    assert await Defaulted.filter(label__startswith="b").order_by("label").values_list(
        "status", "count"
    ) == [("new", 7), ("new", 3)]


def test_db_default_declarations() -> None:
    assert not Defaulted._meta.fields_map["status"].required
    assert Defaulted._meta.fields_map["status"].has_db_default()
    assert SqlDefault("1") == SqlDefault("1") and SqlDefault("1") != SqlDefault("2")
    assert Now().get_sql() == "CURRENT_TIMESTAMP"
    with pytest.raises(ConfigurationError, match="db_default"):
        fields.IntField(db_default=lambda: 1)


# Enums -------------------------------------------------------------------------------------


async def test_enum_fields_round_trip_as_members(orm: str) -> None:
    paint = await Paint.create(colour=Colour.ULTRAVIOLET, size=Size.LARGE)
    loaded = await Paint.get(pk=paint.pk)
    assert loaded.colour is Colour.ULTRAVIOLET and loaded.size is Size.LARGE
    # Raw values are accepted and turned into members.
    by_value = await Paint.create(colour="green", size=1, spare="red")
    assert by_value.colour is Colour.GREEN and by_value.size is Size.SMALL
    assert (await Paint.get(pk=by_value.pk)).spare is Colour.RED
    defaulted = await Paint.create(colour=Colour.RED)
    assert defaulted.size is Size.SMALL
    assert await Paint.filter(colour=Colour.GREEN).count() == 1
    assert await Paint.filter(colour="green").count() == 1
    assert await Paint.filter(size=Size.SMALL).count() == 2
    assert await Paint.filter(colour__in=[Colour.RED, "ultraviolet"]).count() == 2
    assert await Paint.filter(pk=paint.pk).values_list("colour", "size") == [
        (Colour.ULTRAVIOLET, Size.LARGE)
    ]


async def test_enum_fields_refuse_other_values(orm: str) -> None:
    with pytest.raises(ValidationError, match="'red', 'green', 'ultraviolet'"):
        await Paint.create(colour="blue")
    with pytest.raises(ValidationError, match="1, 3"):
        await Paint.create(colour=Colour.RED, size=2)
    assert await Paint.all().count() == 0


async def test_enum_columns_fit_the_longest_value(orm: str) -> None:
    statement = create_table("paint")
    assert '"colour" VARCHAR(11) NOT NULL' in statement  # len("ultraviolet")
    assert '"spare" VARCHAR(20)' in statement  # max_length given
    assert '"size" SMALLINT NOT NULL' in statement


# JSON --------------------------------------------------------------------------------------


async def test_json_encoder_writes_and_decoder_reads(orm: str) -> None:
    paint = await Paint.create(colour="red", exact={"price": Decimal("2.5"), "n": 3})
    stored = await connections.get().fetch(
        'SELECT CAST("exact" AS TEXT) FROM "paint" WHERE "id" = ' + str(paint.pk)
    )
    # The encoder wrote the decimal as a JSON number (json.dumps would refuse it).
    assert "2.5" in stored[0][0] and '"2.5"' not in stored[0][0]
    loaded = await Paint.get(pk=paint.pk)
    # The decoder read the number back as a Decimal.
    assert loaded.exact == {"price": Decimal("2.5"), "n": 3}
    assert isinstance(loaded.exact["price"], Decimal)
    (via_values,) = await Paint.filter(pk=paint.pk).values_list("exact", flat=True)
    assert isinstance(via_values["price"], Decimal)


async def test_json_field_type_gives_pydantic_models(orm: str) -> None:
    paint = await Paint.create(colour="red", palette=Palette(name="warm", shades=[1, 2]))
    await Paint.create(colour="red", palette={"name": "cold", "shades": []})
    loaded = await Paint.get(pk=paint.pk)
    assert loaded.palette == Palette(name="warm", shades=[1, 2])
    palettes = await Paint.all().order_by("id").values_list("palette", flat=True)
    assert [p.name for p in palettes] == ["warm", "cold"]
    assert all(isinstance(p, Palette) for p in palettes)


async def test_json_text_is_decoded_and_other_text_kept(orm: str) -> None:
    decoded = await Paint.create(colour="red", data='{"a": [1, 2]}')
    assert decoded.data == {"a": [1, 2]}
    kept = await Paint.create(colour="red", data="not json")
    assert (await Paint.get(pk=kept.pk)).data == "not json"
    with pytest.raises(ValidationError, match="JSON"):
        await Paint.create(colour="red", data={"bad": object()})


# Declarations ------------------------------------------------------------------------------


def test_field_generics_are_subscriptable() -> None:
    assert typing.get_origin(fields.Field[int]) is fields.Field
    json_of_lists = fields.JSONField[list[int]]
    assert typing.get_origin(json_of_lists) is fields.JSONField
    assert isinstance(json_of_lists(null=True), JSONField)
    assert typing.get_args(fields.ForeignKeyRelation[Team]) == (Team,)
    for annotation in (
        fields.ForeignKeyNullableRelation[Team],
        fields.OneToOneRelation[Team],
        fields.OneToOneNullableRelation[Team],
        fields.ReverseRelation[Player],
        fields.ManyToManyRelation[Team],
    ):
        assert typing.get_args(annotation) in ((Team,), (Player,))
    assert isinstance(Paint._meta.fields_map["data"], JSONField)


def test_tortoise_spellings_of_options() -> None:
    # Tortoise 1.x deprecates pk= and index=, with these warnings, pointing at the caller.
    with pytest.warns(DeprecationWarning, match="`pk` is deprecated") as warned:
        assert fields.IntField(pk=True).pk
    assert warned[0].filename == __file__
    assert fields.IntField(primary_key=True).pk
    with pytest.warns(DeprecationWarning, match="`index` is deprecated, please use `db_index`"):
        assert fields.CharField(max_length=5, index=True).index
    assert fields.CharField(max_length=5, db_index=True).index
    with pytest.raises(ConfigurationError, match="primary_key and pk"):
        fields.IntField(pk=True, primary_key=False)
    with pytest.raises(ConfigurationError, match="db_index and index"):
        fields.CharField(max_length=5, index=True, db_index=False)
    # Tortoise spells "no default" default=None.
    assert not fields.CharField(max_length=5, default=None).has_default()
    assert Team._meta.fields_map["name"].model_field_name == "name"
    # The module names Tortoise code imports from.
    assert CharField is fields.CharField
    assert ForeignKeyFieldInstance is fields.ForeignKeyField
    assert ManyToManyFieldInstance is fields.ManyToManyField


def test_field_definitions_that_cannot_work_are_refused() -> None:
    class Word(enum.Enum):
        A = "a"

    class Huge(enum.IntEnum):
        BIG = 40_000

    class Zero(enum.IntEnum):
        NONE = 0

    with pytest.raises(ConfigurationError, match="only supports integer enums"):
        fields.IntEnumField(Word)
    with pytest.raises(ConfigurationError, match=r"-32768\.\.32767"):
        fields.IntEnumField(Huge)
    with pytest.raises(ConfigurationError, match=r"1\.\.32767"):
        fields.IntEnumField(Zero, generated=True)
    with pytest.raises(ConfigurationError, match="needs an Enum class"):
        fields.CharEnumField(str)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'max_digits' must be >= 1"):
        fields.DecimalField(max_digits=0, decimal_places=0)
    with pytest.raises(ConfigurationError, match="'decimal_places' must be >= 0"):
        fields.DecimalField(max_digits=4, decimal_places=-1)
    with pytest.raises(ConfigurationError, match="cannot exceed"):
        fields.DecimalField(max_digits=2, decimal_places=3)
    # An enum field describes its members unless given a description.
    assert fields.CharEnumField(Word).description == "A: a"
    assert fields.IntEnumField(Zero, description="none").description == "none"


def test_a_field_describes_itself_and_has_a_readable_repr() -> None:
    title = Team._meta.fields_map["name"]
    assert title.describe()["name"] == "name"
    assert title.describe(serializable=False)["python_type"] is str
    assert repr(title) == "<CharField Team.name>"


async def test_time_fields_stamp_themselves(orm: str) -> None:
    stamp = fields.TimeField(auto_now=True)
    assert (stamp.auto_now, stamp.auto_now_add) == (True, False)
    assert stamp.describe()["auto_now"] is True and stamp.constraints == {"readOnly": True}
    assert isinstance(stamp.default_value(), dt.time)
    with pytest.raises(ConfigurationError, match="only 'auto_now' or 'auto_now_add'"):
        fields.TimeField(auto_now=True, auto_now_add=True)
    assert fields.DatetimeField(auto_now_add=True).describe()["auto_now_add"] is True


async def test_bulk_create_of_rows_that_leave_every_column_to_the_database(orm: str) -> None:
    from tests.orm.surface.models import AllDefaults

    made = await AllDefaults.bulk_create([AllDefaults() for _ in range(3)])
    assert len({obj.pk for obj in made}) == 3 and None not in {obj.pk for obj in made}
    rows = await AllDefaults.all().order_by("id").values_list("count", "flag")
    assert rows == [(7, True)] * 3
    mixed = await AllDefaults.bulk_create([AllDefaults(), AllDefaults(count=1)])
    assert [o.pk is not None for o in mixed] == [True, True]
    assert sorted(await AllDefaults.all().values_list("count", flat=True)) == [1, 7, 7, 7, 7]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: fields.TextField(db_index=True), "TextField can't be indexed, consider CharField"),
        (lambda: fields.TextField(unique=True), "TextField can't be indexed, consider CharField"),
        (lambda: fields.BinaryField(unique=True), "BinaryField can't be indexed"),
        (lambda: fields.JSONField(db_index=True), "JSONField can't be indexed"),
    ],
)
def test_types_no_index_can_cover_refuse_one(make: Any, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        make()


def test_text_primary_key_is_deprecated_but_works() -> None:
    with pytest.warns(DeprecationWarning, match="TextField as a PrimaryKey is Deprecated"):
        field = fields.TextField(primary_key=True)
    assert field.pk and field.unique


def test_char_and_decimal_fields_need_their_size_and_decimals_read_at_their_scale() -> None:
    with pytest.raises(TypeError, match="'max_digits' and 'decimal_places'"):
        fields.DecimalField()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'max_length'"):
        fields.CharField()  # type: ignore[call-arg]
    price = fields.DecimalField(max_digits=12, decimal_places=2)
    assert [str(price.to_python_value(v)) for v in ("100", "12.3456", 0)] == [
        "100.00",
        "12.35",
        "0.00",
    ]
    assert price.to_python_value(None) is None
    # Rows are decoded by the engine: the built-in reader is not put on the read path.
    assert price.from_db is None
