"""The query log outside pytest's fixtures: `record_queries()` and the assertion helpers."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.testing.conftest import Runner
from yara_orm import Model, YaraOrm, fields
from yara_testing import (
    NPlusOneError,
    QueryCountError,
    assert_max_queries,
    assert_no_nplusone,
    assert_num_queries,
    record_queries,
)
from yara_testing.recorder import location_base

THIS_FILE = Path(__file__)  # as the module's code objects name it


class Gadget(Model):
    name = fields.CharField(max_length=20)


class Part(Model):
    gadget = fields.ForeignKeyField("Gadget", related_name="parts")


@pytest.fixture
async def orm() -> AsyncIterator[None]:
    await YaraOrm.init("sqlite://:memory:", models=[Gadget, Part])
    await YaraOrm.generate_schemas()
    try:
        yield
    finally:
        await YaraOrm.close()


async def test_record_queries_in_any_code(orm: None) -> None:
    with record_queries() as log:
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        gadget = await Gadget.create(name="g")
        await Gadget.filter(name="g").count()
    assert len(log) == 2 and log.count == 2
    first = log[0]
    assert first.sql.startswith('INSERT INTO "gadget"')
    assert first.params == ("g",)
    assert first.location.endswith(f"test_recorder.py:{line}")
    assert first.rows == 1
    assert first.duration >= first.gil_held + first.io - 1e-9
    assert log.total_duration == pytest.approx(sum(r.duration for r in log))
    assert log.total_gil_held > 0
    assert [r.sql for r in log.filter(sql_contains="count")] == [log[1].sql]
    text = str(log)
    assert text.startswith("1. INSERT INTO") and "2 queries" in text
    assert gadget.pk


async def test_locations_are_the_innermost_user_line_relative_to_one_directory(
    orm: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def helper() -> None:
        await Gadget.all()  # the innermost line of user code: what each record names

    helper_line = inspect.getsourcelines(helper)[1] + 1
    with record_queries() as log:
        for _ in range(2):
            await helper()
            line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
            await Gadget.filter(name="x").count()
            await Gadget.filter(name="y").count()
    base = Path(location_base())
    here = THIS_FILE.relative_to(base) if THIS_FILE.is_relative_to(base) else THIS_FILE
    expected = [f"{here}:{helper_line}", f"{here}:{line}", f"{here}:{line + 1}"]
    assert [r.location for r in log] == expected * 2
    # A test that changes the working directory, and logs opened in different ones, name a
    # file alike: relative to where pytest started.
    with record_queries() as outer:
        monkeypatch.chdir(tmp_path)
        with record_queries() as inner:
            await helper()
        monkeypatch.undo()
        await helper()
    assert [r.location for r in outer] == [f"{here}:{helper_line}"] * 2
    assert [r.location for r in inner] == [f"{here}:{helper_line}"]


async def test_nested_records_and_no_listener_after(orm: None) -> None:
    with record_queries() as outer:
        await Gadget.create(name="a")
        with record_queries() as inner:
            await Gadget.all()
    assert (len(outer), len(inner)) == (2, 1)
    from yara_orm.connection import _listeners

    assert _listeners == [], "the recorder detaches when the last block ends"


async def test_assertion_helpers(orm: None) -> None:
    with assert_num_queries(1):
        await Gadget.all()
    with assert_max_queries(2):
        await Gadget.all()
    with pytest.raises(QueryCountError, match=r"expected exactly 0 queries, ran 1:\n1\. SELECT"):
        with assert_num_queries(0):
            await Gadget.all()
    gadget = await Gadget.create(name="g")
    for _ in range(2):
        await Part.create(gadget=gadget)
    with pytest.raises(NPlusOneError, match=r"Part\.gadget was loaded lazily for 2 of 2"):
        with assert_no_nplusone():
            for part in await Part.all():
                part.__dict__.pop("_rel_gadget", None)
                await part.gadget


def test_run_takes_awaitables_and_attributes_queries_to_the_caller(app: Runner) -> None:
    result = app(
        test_sync_run="""
        import pytest
        from app_models import Author


        def test_sync(yara_db):
            yara_db.run(lambda: Author.create(name="a"))
            assert yara_db.run(Author.all().count()) == 1
            assert yara_db.run(Author.filter(name="a").exists()) is True
            locations = [record.location for record in yara_db.queries]
            assert locations == [f"test_sync_run.py:{n}" for n in (6, 7, 8)], locations


        def test_wrong_argument_says_what_to_pass(yara_db):
            with pytest.raises(TypeError, match="async function .* or an awaitable"):
                yara_db.run(3)
        """
    )
    result.assert_outcomes(passed=2)


def test_a_log_filters_by_statement_kind() -> None:
    from yara_testing.recorder import QueryLog, QueryRecord

    def record(sql: str) -> QueryRecord:
        return QueryRecord(
            sql=sql,
            params=(),
            duration=0.0,
            gil_held=0.0,
            gil_wait=0.0,
            io=0.0,
            rows=0,
            location="t.py:1",
            test=None,
        )

    log = QueryLog(
        [
            record('SELECT t0."id" FROM "book" t0'),
            record('INSERT INTO "book" ("title") SELECT * FROM unnest(CAST($1 AS VARCHAR[]))'),
            record('  insert into "book" ("title") VALUES (?)'),
            record("UPDATE book SET title = 'SELECT'"),
        ]
    )
    assert len(log.filter(sql_contains="SELECT")) == 3
    assert [r.sql.split()[0].upper() for r in log.filter(kind="insert")] == ["INSERT", "INSERT"]
    assert len(log.filter(kind="SELECT")) == 1
    assert len(log.filter(kind="UPDATE", sql_contains="select")) == 1
    assert len(log.filter(kind="DELETE")) == 0
