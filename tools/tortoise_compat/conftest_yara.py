"""Fixtures Tortoise's tests ask for (db, db_module, db_isolated, ...), provided by yara_orm."""

import os

import pytest_asyncio

from yara_orm.context import tortoise_test_context
from yara_orm.transactions import in_transaction


class _Rollback(Exception):
    pass


class _Module:
    """The module's context; reopened when a test's own context closed the (process-wide) ORM."""

    def __init__(self):
        self.cm = None
        self.ctx = None

    async def open(self):
        db_url = os.getenv("TORTOISE_TEST_DB", "sqlite://:memory:")
        self.cm = tortoise_test_context(
            modules=["tests.testmodels"],
            db_url=db_url,
            app_label="models",
            connection_label="models",
        )
        self.ctx = await self.cm.__aenter__()

    async def close(self):
        try:
            await self.cm.__aexit__(None, None, None)
        except Exception:
            pass

    async def ensure(self):
        from yara_orm import YaraOrm
        from yara_orm.connection import connections

        try:
            await connections.get("models").execute_query("SELECT 1")
            ok = "Tournament" in {m.__name__ for m in YaraOrm.models}
        except Exception:
            ok = False
        if not ok:
            await self.open()
        return self.ctx


@pytest_asyncio.fixture(scope="module")
async def _db_module_holder():
    holder = _Module()
    await holder.open()
    yield holder
    await holder.close()


@pytest_asyncio.fixture(scope="function")
async def db_module(_db_module_holder):
    return await _db_module_holder.ensure()


@pytest_asyncio.fixture(scope="function")
async def db(db_module):
    try:
        async with in_transaction("models"):
            yield db_module
            raise _Rollback
    except _Rollback:
        pass


@pytest_asyncio.fixture(scope="function")
async def db_simple(db_module):
    yield db_module


@pytest_asyncio.fixture(scope="function")
async def db_isolated():
    db_url = os.getenv("TORTOISE_TEST_DB", "sqlite://:memory:")
    async with tortoise_test_context(
        modules=["tests.testmodels"], db_url=db_url, app_label="models", connection_label="models"
    ) as ctx:
        yield ctx


@pytest_asyncio.fixture(scope="function")
async def db_truncate(db_module):
    yield db_module
    for model in list(db_module.apps.get("models", {}).values()):
        await db_module.db().execute_script(f'DELETE FROM "{model._meta.db_table}"')


def make_db_fixture(modules, app_label="models", connection_label="models"):
    @pytest_asyncio.fixture(scope="function")
    async def _db_fixture():
        db_url = os.getenv("TORTOISE_TEST_DB", "sqlite://:memory:")
        async with tortoise_test_context(
            modules=modules, db_url=db_url, app_label=app_label, connection_label=connection_label
        ) as ctx:
            yield ctx

    return _db_fixture
