"""Every name of `yara_orm.exceptions`: raised in the situation it names, and placed where code
written against Tortoise (or PEP 249) catches it."""

from __future__ import annotations

import pytest

import yara_orm
from tests.orm.surface.models import Code, Player, Team
from yara_orm import F, YaraOrm, connections, exceptions, fields, in_transaction
from yara_orm.exceptions import (
    BaseORMException,
    ConfigurationError,
    DatabaseError,
    DataError,
    DBConnectionError,
    DoesNotExist,
    FieldError,
    IncompleteInstanceError,
    IntegrityError,
    InterfaceError,
    InternalError,
    IsolationDeadlockError,
    MultipleObjectsReturned,
    NotExistOrMultiple,
    NotSupportedError,
    NoValuesFetched,
    ObjectDoesNotExistError,
    OperationalError,
    ParameterTypeError,
    ParamsError,
    PoolTimeoutError,
    ProgrammingError,
    QueryCanceledError,
    RelationNotLoaded,
    TransactionManagementError,
    TransactionRollbackError,
    UnSupportedError,
    ValidationError,
    YaraError,
)

# Hierarchy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", exceptions.__all__)
def test_every_exported_exception_is_an_orm_exception(name: str) -> None:
    error = getattr(exceptions, name)
    assert issubclass(error, BaseORMException)
    # The package re-exports each one under the same name.
    assert getattr(yara_orm, name) is error


def test_tortoise_aliases_name_the_same_classes() -> None:
    assert BaseORMException is YaraError
    assert NoValuesFetched is RelationNotLoaded
    assert yara_orm.BaseORMException is YaraError


@pytest.mark.parametrize(
    ("error", "base"),
    [
        (DoesNotExist, NotExistOrMultiple),
        (MultipleObjectsReturned, NotExistOrMultiple),
        (NotExistOrMultiple, LookupError),
        (ObjectDoesNotExistError, DoesNotExist),
        (ObjectDoesNotExistError, KeyError),
        (NoValuesFetched, AttributeError),
        (FieldError, AttributeError),
        (ValidationError, ValueError),
        (ParamsError, ValueError),
        (IntegrityError, DatabaseError),
        (ProgrammingError, DatabaseError),
        (DataError, DatabaseError),
        (InternalError, DatabaseError),
        (NotSupportedError, DatabaseError),
        (OperationalError, DatabaseError),
        (DBConnectionError, OperationalError),
        (DBConnectionError, ConnectionError),
        (PoolTimeoutError, OperationalError),
        (PoolTimeoutError, TimeoutError),
        (IsolationDeadlockError, PoolTimeoutError),
        (QueryCanceledError, OperationalError),
        (TransactionRollbackError, OperationalError),
        (ParameterTypeError, InterfaceError),
        (ParameterTypeError, TypeError),
    ],
)
def test_exception_bases(error: type[BaseException], base: type[BaseException]) -> None:
    assert issubclass(error, base)


def test_unsupported_and_transaction_errors_stand_alone() -> None:
    # Neither is a database error: nothing was sent.
    for error in (UnSupportedError, TransactionManagementError, IncompleteInstanceError):
        assert issubclass(error, BaseORMException)
        assert not issubclass(error, DatabaseError)


def test_messages_made_from_the_model_class() -> None:
    assert str(DoesNotExist(Team)) == 'Object "Team" does not exist'
    assert str(MultipleObjectsReturned(Team)) == (
        'Multiple objects returned for "Team", expected exactly one'
    )
    assert DoesNotExist(Team).model is Team
    # A message instead of a model is kept as it is.
    plain = DoesNotExist("no such row")
    assert plain.model is None and str(plain) == "no such row"
    missing = ObjectDoesNotExistError(Team, "id", 7)
    assert (missing.pk_name, missing.pk_val) == ("id", 7)
    assert str(missing) == "Team has no object with id=7"


# Raised where the name says ----------------------------------------------------------------


async def test_get_of_no_row_raises_does_not_exist(orm: str) -> None:
    with pytest.raises(DoesNotExist) as raised:
        await Team.get(name="nobody")
    assert raised.value.model is Team
    assert str(raised.value) == 'Object "Team" does not exist'
    assert await Team.get_or_none(name="nobody") is None


async def test_get_of_two_rows_raises_multiple_objects_returned(orm: str) -> None:
    await Team.create(name="a", rank=1)
    await Team.create(name="b", rank=1)
    with pytest.raises(MultipleObjectsReturned) as raised:
        await Team.get(rank=1)
    assert raised.value.model is Team
    # get_or_none() forgives no row, not two.
    with pytest.raises(MultipleObjectsReturned):
        await Team.filter(rank=1).get_or_none()
    # One handler catches both.
    for query in (Team.get(rank=1), Team.get(rank=2)):
        with pytest.raises(NotExistOrMultiple):
            await query


async def test_model_subscript_raises_object_does_not_exist(orm: str) -> None:
    team = await Team.create(name="a")
    assert await Team[team.pk] == team
    with pytest.raises(ObjectDoesNotExistError) as raised:
        await Team[team.pk + 100]
    assert (raised.value.pk_name, raised.value.pk_val) == ("id", team.pk + 100)
    # Caught as Tortoise and dict users would.
    for catch in (KeyError, DoesNotExist):
        with pytest.raises(catch):
            await Team[team.pk + 100]
    # A key that cannot be a primary key finds nothing too, rather than a validation error.
    with pytest.raises(ObjectDoesNotExistError):
        await Team["not a number"]


async def test_relations_not_fetched_raise_no_values_fetched(orm: str) -> None:
    team = await Team.create(name="a")
    await Player.create(name="p", team=team)
    player = await Player.get(name="p")
    with pytest.raises(NoValuesFetched, match=r"Player\.team"):
        _ = player.team.name
    with pytest.raises(NoValuesFetched, match=r"Team\.players"):
        len(team.players)
    # Fetched, both work.
    assert (await player.team).name == "a"
    await team.fetch_related("players")
    assert [p.name for p in team.players] == ["p"]


async def test_bad_query_arguments_raise_params_error(orm: str) -> None:
    with pytest.raises(ParamsError):
        Team.all().limit(-1)
    with pytest.raises(ParamsError):
        Team.all().offset(-5)
    with pytest.raises(ParamsError):
        Team.all()[-1]
    with pytest.raises(ParamsError):
        Team.all()[0:10:2]
    with pytest.raises(ParamsError, match="on_conflict"):
        await Team.bulk_create([Team(name="x")], update_fields=["rank"])
    assert await Team.all().count() == 0
    code = await Code.create(code="a", label="A")
    with pytest.raises(ParamsError, match="pk="):
        code.clone()


async def test_saving_a_partial_instance_raises_incomplete_instance_error(orm: str) -> None:
    await Team.create(name="a", rank=3, motto="kept")
    (partial,) = await Team.raw('SELECT "id", "name" FROM "team"')
    partial.name = "b"
    with pytest.raises(IncompleteInstanceError):
        await partial.save()
    # The fields it has can be saved; the others are left alone.
    await partial.save(update_fields=["name"])
    assert await Team.all().values("name", "rank", "motto") == [
        {"name": "b", "rank": 3, "motto": "kept"}
    ]


async def test_bad_values_raise_validation_error(orm: str) -> None:
    with pytest.raises(ValidationError) as raised:
        await Team.create(name="x" * 51)
    assert (raised.value.model, raised.value.field) == ("Team", "name")
    with pytest.raises(ValidationError, match="rank"):
        await Team.create(name="a", rank="many")
    with pytest.raises(ValidationError):
        await Team.create(name=None)
    assert await Team.all().count() == 0


async def test_constraint_violations_raise_integrity_error(orm: str) -> None:
    await Team.create(name="a")
    with pytest.raises(IntegrityError) as duplicate:
        await Team.create(name="a")
    assert duplicate.value.sqlstate == "23505"
    with pytest.raises(IntegrityError) as dangling:
        await Player.create(name="p", team_id=12345)
    assert dangling.value.sqlstate == "23503"
    # NOT NULL, as the database itself reports it.
    with pytest.raises(IntegrityError) as missing:
        await connections.get().execute('INSERT INTO "team" ("rank") VALUES (1)')
    assert missing.value.sqlstate == "23502"
    with pytest.raises(IntegrityError, match="doesn't exist"):
        await Team(id=999, name="ghost").save(force_update=True)


async def test_operations_on_unsaved_instances_raise_operational_error(orm: str) -> None:
    with pytest.raises(OperationalError, match="unpersisted"):
        await Team(name="never saved").delete()
    with pytest.raises(OperationalError, match=r"save\(\)"):
        await Player.create(name="p", team=Team(name="unsaved"))
    assert await Player.all().count() == 0


async def test_unknown_names_raise_field_error(orm: str) -> None:
    with pytest.raises(FieldError) as raised:
        await Team.filter(colour="red")
    # The message lists what exists.
    assert "colour" in str(raised.value) and "motto" in str(raised.value)
    with pytest.raises(FieldError):
        await Team.all().values("colour")
    with pytest.raises(FieldError):
        Team(colour="red")


async def test_finished_transactions_raise(orm: str) -> None:
    async with in_transaction() as connection:
        await connection.commit()
        with pytest.raises(TransactionManagementError):
            await connection.commit()
        with pytest.raises(TransactionManagementError):
            await connection.rollback()
        # Statements on it are refused by the client.
        with pytest.raises(InterfaceError):
            await Team.create(name="late", using_db=connection)
    assert await Team.all().count() == 0


async def test_database_errors_reach_the_orm_caller(orm: str) -> None:
    team = await Team.create(name="a", rank=1)
    with pytest.raises(ProgrammingError) as missing:
        await Team.raw("SELECT * FROM no_such_table")
    assert missing.value.sqlstate == "42P01"
    with pytest.raises(DataError) as division:
        await Team.filter(pk=team.pk).update(rank=F("rank") / 0)
    assert division.value.sqlstate == "22012"
    client = connections.get()
    with pytest.raises(ParameterTypeError) as unsendable:
        await client.fetch(f"SELECT {client.dialect.placeholder(1)}", [object()])
    assert unsendable.value.position == 1
    assert (await Team.get(pk=team.pk)).rank == 1


def test_bad_declarations_raise_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        fields.ForeignKeyField("models.Team", on_delete=fields.SET_NULL)  # needs null=True
    with pytest.raises(ConfigurationError):
        fields.ForeignKeyField("models.Team", on_delete="EXPLODE")
    with pytest.raises(ConfigurationError):
        fields.IntField(primary_key=True, null=True)
    with pytest.raises(ConfigurationError):
        fields.ForeignKeyField()  # no target


async def test_bad_configuration_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="apps"):
        await YaraOrm.init(config={"connections": {"default": "sqlite://:memory:"}})
    with pytest.raises(ConfigurationError, match="connections"):
        await YaraOrm.init(
            config={
                "connections": {"default": "sqlite://:memory:"},
                "apps": {
                    "models": {
                        "models": ["tests.orm.surface.models"],
                        "default_connection": "other",
                    }
                },
            }
        )


async def test_unreachable_database_raises_db_connection_error() -> None:
    try:
        with pytest.raises(DBConnectionError) as raised:
            await YaraOrm.init(
                "postgres://postgres@127.0.0.1:1/none", models=["tests.orm.surface.models"]
            )
        assert isinstance(raised.value, ConnectionError)
        assert "127.0.0.1:1" in str(raised.value)
    finally:
        await YaraOrm.close()
