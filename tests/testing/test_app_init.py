"""An application that initialises the ORM itself: under the plugin its `YaraOrm.init(...)`
binds to the test database, inside each test's isolation; its own database is never touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testing.conftest import Runner

# A server address nothing listens on: connecting would fail (or hang) loudly.
UNREACHABLE_PG = "postgres://app:s3cret@127.0.0.1:1/appdb"


def _app(tmp_path: Path, url: str) -> str:
    return f"""
from yara_orm import YaraOrm

APP_URL = {url!r}


async def lifespan_start():
    await YaraOrm.init(APP_URL, modules={{"models": ["app_models"]}})
    await YaraOrm.generate_schemas()


async def lifespan_stop():
    await YaraOrm.close()
"""


@pytest.mark.parametrize("kind", ["sqlite-file", "unreachable-postgres"])
def test_the_applications_init_lands_on_the_test_database(
    app: Runner, pytester: pytest.Pytester, tmp_path: Path, kind: str
) -> None:
    app_db = tmp_path / "app" / "app.db"
    url = f"sqlite:///{app_db}" if kind == "sqlite-file" else UNREACHABLE_PG
    pytester.makepyfile(my_app=_app(tmp_path, url))
    result = app(
        "-v",
        test_app="""
        import my_app
        from app_models import Author


        async def test_a(yara_db):
            await my_app.lifespan_start()
            await Author.create(name="a")
            assert await Author.all().count() == 1
            await my_app.lifespan_stop()


        async def test_b(yara_db):
            await my_app.lifespan_start()
            assert await Author.all().count() == 0
            await my_app.lifespan_stop()


        async def test_after_the_app_closed_the_orm(yara_db):
            # The application's shutdown did not close the plugin's engine.
            await Author.create(name="still works")
            assert await Author.all().count() == 1
        """,
    )
    result.assert_outcomes(passed=3)
    assert not app_db.parent.exists()
    output = result.stdout.str()
    assert "s3cret" not in output
    shown = f"sqlite:///{app_db}" if kind == "sqlite-file" else "postgres://app:***@127.0.0.1:1"
    redirects = [line for line in output.splitlines() if "was redirected" in line]
    assert len(redirects) == 1 and shown in redirects[0], output


def test_an_app_started_by_a_session_fixture_is_redirected_too(
    app: Runner, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    app_db = tmp_path / "app" / "app.db"
    pytester.makepyfile(my_app=_app(tmp_path, f"sqlite:///{app_db}"))
    result = app(
        "-v",
        conftest="""
        import pytest
        import my_app


        @pytest.fixture(scope="session")
        def running_app():
            import asyncio
            # Before any test asked for yara_db: the plugin provisions the database now.
            asyncio.run(my_app.lifespan_start())
            yield
        """,
        test_app="""
        from app_models import Author


        async def test_a(running_app, yara_db):
            await Author.create(name="a")
            assert await Author.all().count() == 1


        async def test_b(running_app, yara_db):
            assert await Author.all().count() == 0
        """,
    )
    result.assert_outcomes(passed=2)
    assert not app_db.parent.exists()
    assert "was redirected" in result.stdout.str()


def test_connecting_elsewhere_fails_unless_the_test_opts_in(app: Runner, tmp_path: Path) -> None:
    other = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    result = app(
        "-v",
        test_connect=f"""
        import pytest
        from yara_orm import connect

        OTHER = {other!r}


        async def test_refused(yara_db):
            await connect(OTHER)


        @pytest.mark.yara_external_db
        async def test_allowed_when_marked(yara_db):
            engine = await connect(OTHER)
            await engine.close()


        async def test_a_test_without_the_database_is_not_affected():
            engine = await connect(OTHER)
            await engine.close()


        async def test_the_test_server_itself_is_fine(yara_db):
            engine = await connect(yara_db.url)
            assert await engine.fetch_rows("SELECT 1") == [(1,)]
            await engine.close()
        """,
    )
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "yara: this test tried to connect to sqlite:///*elsewhere.db (at test_connect.py:8), "
            "which is not the test database server*yara_external_db*"
        ]
    )


NAMED_MODELS = """
from yara_orm import Model, fields


class Entry(Model):
    text = fields.CharField(max_length=50)
"""


def test_each_named_connection_gets_an_isolated_test_database(
    app: Runner, pytester: pytest.Pytester, backend: str
) -> None:
    pytester.makepyfile(log_models=NAMED_MODELS)
    result = app(
        "-v",
        conftest="""
        import pytest

        CONFIG = {
            "connections": {
                "default": "postgres://app:pw@127.0.0.1:1/main",
                "logs": "postgres://app:pw@127.0.0.1:1/logs",
            },
            "apps": {
                "models": {"models": ["app_models"], "default_connection": "default"},
                "logs": {"models": ["log_models"], "default_connection": "logs"},
            },
        }


        @pytest.fixture(scope="session")
        def yara_orm_config():
            return CONFIG
        """,
        test_named="""
        import pytest
        from yara_orm import YaraOrm, connections
        from app_models import Author
        from log_models import Entry
        from conftest import CONFIG


        async def test_writes_both(yara_db):
            await YaraOrm.init(config=CONFIG)  # as the application would
            assert yara_db.databases == ["default", "logs"]
            await Author.create(name="a")
            await Entry.create(text="e")
            assert connections.engine("logs") is not connections.engine("default")
            assert await Entry.all().count() == 1


        async def test_both_rolled_back(yara_db):
            assert await Author.all().count() == 0
            assert await Entry.all().count() == 0


        @pytest.mark.yara_db(databases=["default"])
        async def test_only_default(yara_db):
            assert yara_db.databases == ["default"]
            await Author.create(name="ok")
            await Entry.all().count()
        """,
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*Database access to connection 'logs' not allowed in this test*databases=*'default'*"]
    )
    if backend == "postgres":
        assert "_logs" in result.stdout.str()  # test_<name>_logs was created


SHOP = """
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel

from app_models import Author, Book, Tag
from yara_orm.contrib.fastapi import RegisterYara

APP_DB = {url!r}


@asynccontextmanager
async def lifespan(app):
    async with RegisterYara(
        app,
        db_url=APP_DB,
        modules={{"models": ["app_models"]}},
        generate_schemas=True,
        add_exception_handlers=True,
    ):
        yield


app = FastAPI(lifespan=lifespan)


class AuthorIn(BaseModel):
    name: str


async def write_audit(author_id: int) -> None:
    await Tag.create(label=f"audit-{{author_id}}")


@app.post("/authors", status_code=201)
async def create_author(body: AuthorIn, background: BackgroundTasks):
    author = await Author.create(name=body.name)
    background.add_task(write_audit, author.id)
    return {{"id": author.id, "name": author.name}}


@app.get("/authors/{{author_id}}")
async def get_author(author_id: int):
    author = await Author.get(id=author_id)
    return {{"id": author.id, "name": author.name}}


@app.get("/books")
async def list_books():
    books = await Book.all()
    return [{{"title": b.title, "author": (await b.author).name}} for b in books]
"""

SHOP_TESTS = """
import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from app_models import Author, Book, Tag
from shop import app


@pytest.fixture
async def client(yara_db):
    async with LifespanManager(app) as manager:
        transport = ASGITransport(app=manager.app)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_post_and_its_background_task(client):
    response = await client.post("/authors", json={"name": "Ada"})
    assert response.status_code == 201
    assert await Author.filter(name="Ada").count() == 1
    assert await Tag.filter(label__startswith="audit-").count() == 1


async def test_nothing_left_by_the_previous_test(client):
    assert (await client.get("/authors/1")).status_code == 404
    assert await Author.all().count() == 0
    assert await Tag.all().count() == 0


async def test_integrity_error_becomes_422_and_the_test_goes_on(client):
    assert (await client.post("/authors", json={"name": "dup"})).status_code == 201
    response = await client.post("/authors", json={"name": "dup"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "IntegrityError"
    assert "INSERT" not in response.json()["detail"][0]["msg"]  # no SQL for the client
    assert await Author.filter(name="dup").count() == 1


async def test_queries_of_one_request(client, yara_db):
    author = await Author.create(name="x")
    with yara_db.assert_num_queries(1) as log:
        response = await client.get(f"/authors/{author.id}")
    assert response.json() == {"id": author.id, "name": "x"}
    assert log[0].location.startswith("shop.py:"), log[0].location


async def test_nplusone_in_an_endpoint(client, yara_db):
    author = await Author.create(name="x")
    await Book.bulk_create([Book(title=f"b{i}", author=author) for i in range(3)])
    with yara_db.assert_no_nplusone():
        await client.get("/books")
"""


PLAIN = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from app_models import Author
from yara_orm.contrib.starlette import register_yara


async def add(request):
    author = await Author.create(name=request.path_params["name"])
    return JSONResponse({{"id": author.id}})


app = Starlette(routes=[Route("/add/{{name}}", add, methods=["POST"])])
register_yara(app, db_url={url!r}, modules={{"models": ["app_models"]}}, generate_schemas=True)
"""

PLAIN_TESTS = """
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient

from app_models import Author
from plain import app


async def post(name):
    async with LifespanManager(app) as manager:
        transport = ASGITransport(app=manager.app)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post(f"/add/{name}")


async def test_plain_write(yara_db):
    assert (await post("Ada")).status_code == 200
    assert await Author.filter(name="Ada").count() == 1


async def test_plain_nothing_left(yara_db):
    assert await Author.all().count() == 0
"""


def test_a_fastapi_app_with_its_lifespan(
    app: Runner, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    app_db = tmp_path / "shop.db"
    pytester.makepyfile(
        shop=SHOP.format(url=f"sqlite:///{app_db}"),
        plain=PLAIN.format(url=UNREACHABLE_PG),
    )
    result = app("-v", test_shop=SHOP_TESTS, test_plain=PLAIN_TESTS)
    result.assert_outcomes(passed=6, failed=1)
    endpoint_line = SHOP.splitlines().index(
        '    return [{{"title": b.title, "author": (await b.author).name}} for b in books]'
    )
    result.stdout.fnmatch_lines(
        [f"*N+1: Book.author was loaded lazily for 3 of 3 Book instances*shop.py:{endpoint_line}*"]
    )
    assert not app_db.exists()


def test_time_zone_settings_an_app_changes_end_with_its_test(app: Runner) -> None:
    result = app(
        "-v",
        test_tz="""
        import datetime as dt

        from yara_orm import YaraOrm, timezone
        from app_models import Author


        async def test_an_app_that_wants_naive_datetimes(yara_db):
            await YaraOrm.init("sqlite://:memory:", modules={"models": ["app_models"]},
                               use_tz=False, timezone="Europe/Paris")
            assert timezone.get_use_tz() is False
            await YaraOrm.close()


        async def test_the_next_test_starts_from_the_session_settings(yara_db):
            assert timezone.get_use_tz() is True
            assert timezone.get_timezone() == "UTC"
            assert timezone.now().tzinfo is not None
        """,
    )
    result.assert_outcomes(passed=2)


def test_an_init_at_import_time_is_an_error_and_touches_nothing(
    app: Runner, pytester: pytest.Pytester, tmp_path: Path
) -> None:
    app_db = tmp_path / "app" / "app.db"
    app_db.parent.mkdir()  # so an init that went through would create the file
    pytester.makepyfile(my_app=_app(tmp_path, f"sqlite:///{app_db}"))
    result = app(
        test_import_init="""
        import asyncio

        import my_app
        from app_models import Author

        asyncio.run(my_app.lifespan_start())  # at collection time, before the session


        async def test_a(yara_db):
            await Author.create(name="a")
        """
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*YaraOrm.init was called before the test session started*"])
    assert not app_db.exists()
