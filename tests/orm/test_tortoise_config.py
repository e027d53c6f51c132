"""Configuration as Tortoise users write it: URL helpers, typed configs, pool settings in URLs,
positional config, the client classes by backend, schema helpers, models without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import reset_public_schema
from yara_orm import YaraOrm, connections
from yara_orm.backends.asyncpg import AsyncpgDBClient
from yara_orm.backends.base.client import BaseDBAsyncClient
from yara_orm.backends.base.config_generator import expand_db_url, generate_config
from yara_orm.backends.psycopg import PsycopgClient
from yara_orm.backends.sqlite import SqliteClient
from yara_orm.config import split_pool_options
from yara_orm.exceptions import ConfigurationError
from yara_orm.typed_config import AppConfig, ConnectionConfig, DBUrlConfig, TortoiseConfig
from yara_orm.utils import generate_schema_for_client, get_schema_sql

MODELS = "tests.orm.models"


def test_expand_db_url_for_sqlite() -> None:
    assert expand_db_url("sqlite:///data/app.db") == {
        "engine": "yara_orm.backends.sqlite",
        "credentials": {
            "file_path": "/data/app.db",
            "journal_mode": "WAL",
            "journal_size_limit": 16384,
        },
    }
    fresh = expand_db_url("sqlite:///tmp/test-{}.db", testing=True)["credentials"]["file_path"]
    assert fresh.startswith("/tmp/test-") and "{}" not in fresh
    with pytest.raises(ConfigurationError, match="No path specified"):
        expand_db_url("sqlite://")


def test_expand_db_url_for_postgres() -> None:
    assert expand_db_url("postgres://u:p%25w@db.example:5433/app?max_size=7") == {
        "engine": "yara_orm.backends.asyncpg",
        "credentials": {
            "database": "app",
            "host": "db.example",
            "user": "u",
            "password": "p%w",
            "port": 5433,
            "max_size": 7,
        },
    }
    # The authority wins over the query; the query fills what the authority leaves out.
    socket = expand_db_url("postgres:///app?host=/run/pg&user=me&port=6000")["credentials"]
    assert (socket["host"], socket["user"], socket["port"]) == ("/run/pg", "me", 6000)
    both = expand_db_url("postgres://a@h:5433/app?user=b&port=1")["credentials"]
    assert (both["user"], both["port"]) == ("a", 5433)
    with pytest.raises(ConfigurationError, match="Port is not an integer"):
        expand_db_url("postgres://u@h:port/app")
    with pytest.raises(ConfigurationError, match="Unknown DB scheme: mysql"):
        expand_db_url("mysql://u@h/app")


def test_generate_config() -> None:
    config = generate_config("sqlite://:memory:", {"models": [MODELS]}, connection_label="main")
    assert config["apps"] == {"models": {"models": [MODELS], "default_connection": "main"}}
    assert config["connections"]["main"]["credentials"]["file_path"] == ":memory:"


def test_pool_settings_in_a_url_become_connect_options() -> None:
    url, options = split_pool_options("postgres://h/db?minsize=2&max_size=9&timeout=1.5&x=1")
    assert url == "postgres://h/db?x=1"
    assert options == {"min_size": 2, "max_size": 9, "connect_timeout": 1.5}
    with pytest.raises(ConfigurationError, match="max_size='many' must be a int"):
        split_pool_options("postgres://h/db?max_size=many")


def test_typed_config_checks_and_round_trips() -> None:
    config = TortoiseConfig(
        connections={"default": DBUrlConfig("sqlite://:memory:")},
        apps={"models": AppConfig(models=[MODELS], default_connection="default")},
        use_tz=True,
    )
    assert TortoiseConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigurationError, match="unknown connection 'other'"):
        TortoiseConfig(
            connections={"default": DBUrlConfig("sqlite://:memory:")},
            apps={"models": AppConfig(models=[MODELS], default_connection="other")},
        )
    with pytest.raises(ConfigurationError, match="models"):
        AppConfig(models=[])
    with pytest.raises(ConfigurationError):
        ConnectionConfig.from_dict({"credentials": "not a dict"})


async def test_init_with_a_typed_or_positional_config(db_url: str, backend: str) -> None:
    typed = TortoiseConfig(
        connections={"default": DBUrlConfig(db_url)}, apps={"models": AppConfig(models=[MODELS])}
    )
    await YaraOrm.init(config=typed)
    try:
        client = connections.get()
        assert isinstance(client, BaseDBAsyncClient)
        assert isinstance(client, SqliteClient) == (backend == "sqlite")
        assert isinstance(client, AsyncpgDBClient) == (backend == "postgres")
        assert not isinstance(client, PsycopgClient)
        assert client.schema_generator.DIALECT == backend
        assert YaraOrm.get_connection("default") is client
        assert set(YaraOrm.apps["models"]) >= {"Author", "Book", "Tag"}
        assert YaraOrm._inited
    finally:
        await YaraOrm.close()
    assert not YaraOrm._inited
    await YaraOrm.init(
        {"connections": {"default": db_url}, "apps": {"models": {"models": [MODELS]}}}
    )
    try:
        sql = get_schema_sql(connections.get(), safe=False)
        assert 'CREATE TABLE "author"' in sql and 'CREATE TABLE "book"' in sql
        await generate_schema_for_client(connections.get(), safe=True)
        from tests.orm.models import Author

        assert await Author.create(name="Ada") is not None
    finally:
        await YaraOrm.close()


async def test_sqlite_files_keep_their_wal_small(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    await YaraOrm.init(f"sqlite:///{path}", models=[MODELS])
    try:
        rows = await connections.get().execute_query_dict("PRAGMA journal_size_limit")
        assert list(rows[0].values()) == [16384]
        rows = await connections.get().execute_query_dict("PRAGMA journal_mode")
        assert list(rows[0].values()) == ["wal"]
    finally:
        await YaraOrm.close()


def test_init_models_registers_models_without_a_database() -> None:
    YaraOrm.init_models([MODELS], "models")
    try:
        from tests.orm.models import Book

        assert Book._meta.fields_map["author"].related_model.__name__ == "Author"
        assert "Book" in YaraOrm.apps["models"]
        assert not YaraOrm._inited
    finally:
        YaraOrm.models = []


@pytest.mark.postgres
async def test_credentials_shape_the_session(pg_url: str) -> None:
    # Session settings are PostgreSQL's: this runs on that backend only.
    await reset_public_schema(pg_url)
    parts = expand_db_url(pg_url)["credentials"]
    credentials = {
        **{k: parts[k] for k in ("host", "port", "user", "database") if parts.get(k)},
        "application_name": "yara_app",
        "server_settings": {"statement_timeout": "1234"},
        "schema": "public",
        "max_queries": 100,  # asyncpg's own pool setting: accepted, nothing to do here
    }
    config = {
        "connections": {
            "default": {"engine": "yara_orm.backends.asyncpg", "credentials": credentials}
        },
        "apps": {"models": {"models": [MODELS]}},
    }
    await YaraOrm.init(config=config)
    try:
        client = connections.get()
        (row,) = await client.execute_query_dict(
            "SELECT current_setting('application_name') AS app, "
            "current_setting('statement_timeout') AS timeout"
        )
        assert row == {"app": "yara_app", "timeout": "1234ms"}
    finally:
        await YaraOrm.close()
    config["connections"]["default"]["credentials"]["sslrootcert"] = "x.pem"
    with pytest.raises(ConfigurationError, match="unknown PostgreSQL credentials sslrootcert"):
        await YaraOrm.init(config=config)


class ReadsFromReplica:
    """Reads of Author go to "replica"; everything else stays on the model's connection."""

    def db_for_read(self, model: type) -> str | None:
        return "replica" if model.__name__ == "Author" else None

    def db_for_write(self, model: type) -> str | None:
        return None


async def test_routers_send_reads_and_writes_where_they_say(db_url: str) -> None:
    from tests.orm.models import Author
    from yara_orm.dialects.sqlite import SqliteDialect
    from yara_orm.schema import schema_sql

    config = {
        "connections": {"default": db_url, "replica": "sqlite://:memory:"},
        "apps": {"models": {"models": [MODELS]}},
        "routers": [ReadsFromReplica],
    }
    await YaraOrm.init(config=config)
    try:
        await YaraOrm.generate_schemas()
        replica = connections.get("replica")
        for statement in schema_sql(YaraOrm.models, SqliteDialect(), safe=True):
            await replica.execute_script(statement)
        await replica.execute("INSERT INTO author (name) VALUES ('on the replica')")
        written = await Author.create(name="on the primary")  # a write: the model's connection
        assert [a.name for a in await Author.all()] == ["on the replica"]  # a read: replica
        primary = connections.get("default")
        assert [a.name for a in await Author.all().using_db(primary)] == ["on the primary"]
        assert await Author.filter(pk=written.pk).update(name="renamed") == 1  # a write
        assert await Author.all().using_db(primary).values_list("name", flat=True) == ["renamed"]
    finally:
        await YaraOrm.close()
    with pytest.raises(ConfigurationError, match="neither db_for_read nor db_for_write"):
        await YaraOrm.init(config={**config, "routers": [object]})
    with pytest.raises(ConfigurationError, match="could not be imported"):
        await YaraOrm.init(config={**config, "routers": ["nowhere.Router"]})


def test_testing_urls_get_a_unique_name_however_the_braces_are_written() -> None:
    for template in ("sqlite:///tmp/t-{}.db", r"sqlite:///tmp/t-\{\}.db"):
        path = expand_db_url(template, testing=True)["credentials"]["file_path"]
        assert path.startswith("/tmp/t-") and "{" not in path and "\\" not in path
    database = expand_db_url(r"postgres://u@h/test_\{\}", testing=True)["credentials"]["database"]
    assert database.startswith("test_") and len(database) > len("test_") + 8


async def test_table_name_generator_names_tables_without_meta_table(db_url: str) -> None:
    from tests.orm.models import Author, Book

    await YaraOrm.init(
        db_url, models=[MODELS], table_name_generator=lambda model: f"app_{model.__name__.lower()}"
    )
    try:
        assert Author._meta.table == "app_author"
        await YaraOrm.generate_schemas()
        ada = await Author.create(name="Ada")
        await Book.create(title="Notes", author=ada)
        assert await Book.filter(author__name="Ada").count() == 1
        rows = await connections.get().execute_query_dict('SELECT count(*) AS n FROM "app_book"')
        assert rows[0]["n"] == 1
    finally:
        await YaraOrm.close()
    await YaraOrm.init("sqlite://:memory:", models=[MODELS])
    try:
        assert Author._meta.table == "author"  # the next init without one: the default again
    finally:
        await YaraOrm.close()


async def test_register_yara_keeps_inits_time_zone_defaults(db_url: str) -> None:
    from yara_orm import timezone
    from yara_orm.contrib.fastapi import RegisterYara

    timezone.configure(use_tz=False, timezone="Europe/Paris")  # as an earlier init may leave it
    async with RegisterYara(db_url=db_url, modules={"models": [MODELS]}):
        assert timezone.get_use_tz() is True and timezone.get_timezone() == "UTC"
    async with RegisterYara(db_url=db_url, modules={"models": [MODELS]}, use_tz=False):
        assert timezone.get_use_tz() is False
    timezone.configure(use_tz=True, timezone="UTC")


async def test_tortoise_1x_import_spellings(db_url: str) -> None:
    from yara_orm.connection import get_connection, get_connections
    from yara_orm.contrib.test import tortoise_test_context

    # On PostgreSQL a "{}" in the database name: a fresh database, dropped on exit.
    template = db_url if db_url.startswith("sqlite") else db_url.rpartition("/")[0] + "/test_{}"
    async with tortoise_test_context([MODELS], db_url=template):
        assert get_connection("default") is connections.get("default")
        assert get_connections() is connections
        from tests.orm.models import Author

        assert await Author.create(name="Ada") is not None


def test_tortoise_field_and_type_aliases() -> None:
    from yara_orm import TortoiseConfig, YaraConfig, fields
    from yara_orm.queryset import QuerySet, QuerySetSingle, ValuesListQuery, ValuesQuery
    from yara_orm.validators import MinValueValidator, NumericValidator

    assert fields.DateTimeField is fields.DatetimeField
    assert fields.IntegerField is fields.IntField
    assert fields.BigIntegerField is fields.BigIntField
    assert fields.SmallIntegerField is fields.SmallIntField
    assert fields.DurationField is fields.TimeDeltaField
    assert fields.ForeignKey is fields.ForeignKeyField
    assert TortoiseConfig is YaraConfig
    assert issubclass(ValuesQuery, QuerySet) and issubclass(ValuesListQuery, QuerySet)
    assert QuerySetSingle is not None
    assert issubclass(MinValueValidator, NumericValidator)
