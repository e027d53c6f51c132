"""Helpers for testing the plugin with pytester: a small app and a way to run its suite."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable

import pytest

pytest_plugins = ["pytester"]

APP_MODELS = """
from yara_orm import Model, fields


class Author(Model):
    name = fields.CharField(max_length=50, unique=True)


class Tag(Model):
    label = fields.CharField(max_length=20)


class Book(Model):
    title = fields.CharField(max_length=100)
    author = fields.ForeignKeyField("Author", related_name="books")
    tags = fields.ManyToManyField("Tag", related_name="books")
"""

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]

Runner = Callable[..., pytest.RunResult]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(pytester: pytest.Pytester, backend: str) -> Runner:
    """Write the app's models and ini; return a runner for its suite on `backend`."""
    pytester.makepyfile(app_models=APP_MODELS)
    name = f"plugin_{os.getpid()}_{abs(hash(str(pytester.path))) % 10**8}"
    pytester.makeini(
        f"""
        [pytest]
        yara_models = app_models
        yara_db_name = {name}
        asyncio_mode = auto
        asyncio_default_fixture_loop_scope = function
        """
    )

    def run(*args: str, **files: str) -> pytest.RunResult:
        if files:
            pytester.makepyfile(**{k: textwrap.dedent(v) for k, v in files.items()})
        options = ["-p", "no:cacheprovider", f"--yara-db={backend}"]
        if backend == "postgres":
            url = os.environ.get("YARA_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
            options.append(f"--yara-db-url={url}")
        return pytester.runpytest_subprocess(*options, *args)

    return run
