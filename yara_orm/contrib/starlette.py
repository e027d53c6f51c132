"""Start and stop the ORM with a Starlette (or FastAPI) application's lifespan.

```python
app = Starlette(lifespan=lambda app: RegisterYara(app, db_url=..., modules={"models": [...]}))
# or, for an app built elsewhere:
register_yara(app, db_url=..., modules={"models": ["app.models"]}, generate_schemas=True)
```

Under the test toolkit the initialisation is redirected to the test database like any other
`YaraOrm.init` call: nothing here knows about tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Generator, Iterable, Mapping
from types import ModuleType, TracebackType
from typing import Any, Self

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from yara_orm.exceptions import DoesNotExist, IntegrityError
from yara_orm.orm import YaraOrm


async def _does_not_exist(request: Request, error: Exception) -> Response:
    return JSONResponse(status_code=404, content={"detail": str(error)})


async def _integrity_error(request: Request, error: Exception) -> Response:
    # The database's message only: the SQL that follows it stays on the server.
    message = str(error).split("\n", 1)[0]
    return JSONResponse(
        status_code=422,
        content={"detail": [{"loc": [], "msg": message, "type": "IntegrityError"}]},
    )


def exception_handlers() -> dict[type[Exception], Any]:
    """The handlers `install_exception_handlers` adds, as a mapping for
    `FastAPI(exception_handlers=...)` (Tortoise's `tortoise_exception_handlers()`)."""
    return {DoesNotExist: _does_not_exist, IntegrityError: _integrity_error}


def install_exception_handlers(app: Any) -> None:
    """`DoesNotExist` becomes a 404 and `IntegrityError` a 422, with Tortoise's bodies.
    They show database messages to clients: convenient in development, a leak in production."""
    for error, handler in exception_handlers().items():
        app.add_exception_handler(error, handler)
    # Inside a lifespan the app has already built its middleware stack with the handlers it
    # had then: have it rebuilt, with these, for the next request.
    if getattr(app, "middleware_stack", None) is not None:
        app.middleware_stack = None


class RegisterYara(contextlib.AbstractAsyncContextManager["RegisterYara"]):
    """Initialise the ORM on entry and close its connections on exit: an async context
    manager for a lifespan (also awaitable, to initialise only). Takes `YaraOrm.init`'s ways
    of configuring: `config`, `config_file`, or `db_url` with `modules`; `use_tz` and
    `timezone` default to `YaraOrm.init`'s (aware datetimes in UTC)."""

    def __init__(
        self,
        app: Any = None,
        config: Mapping[str, Any] | None = None,
        config_file: str | None = None,
        db_url: str | None = None,
        modules: Mapping[str, Iterable[str | ModuleType]] | None = None,
        generate_schemas: bool = False,
        add_exception_handlers: bool = False,
        use_tz: bool | None = None,
        timezone: str | None = None,
        _create_db: bool = False,
    ) -> None:
        self.app = app
        self.config = config
        self.config_file = config_file
        self.db_url = db_url
        self.modules = modules
        self.generate_schemas = generate_schemas
        self.use_tz = use_tz
        self.timezone = timezone
        self._create_db = _create_db
        if add_exception_handlers and app is not None:
            install_exception_handlers(app)

    async def init_orm(self) -> None:
        await YaraOrm.init(
            self.db_url,
            config=self.config,
            config_file=self.config_file,
            modules=self.modules,
            use_tz=self.use_tz,
            timezone=self.timezone,
            _create_db=self._create_db,
        )
        if self.generate_schemas:
            await YaraOrm.generate_schemas()

    @staticmethod
    async def close_orm() -> None:
        await YaraOrm.close_connections()

    def __call__(self, *args: Any, **kwargs: Any) -> contextlib.AbstractAsyncContextManager[None]:
        """So that the instance itself can be an app's lifespan (`lifespan=RegisterYara(...)`):
        a context that runs the ORM and gives the app no lifespan state."""

        @contextlib.asynccontextmanager
        async def lifespan() -> AsyncIterator[None]:
            async with self:
                yield

        return lifespan()

    async def __aenter__(self) -> Self:
        await self.init_orm()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close_orm()

    def __await__(self) -> Generator[Any, None, Self]:
        async def initialised() -> Self:
            await self.init_orm()
            return self

        return initialised().__await__()


def register_yara(
    app: Any,
    config: Mapping[str, Any] | None = None,
    config_file: str | None = None,
    db_url: str | None = None,
    modules: Mapping[str, Iterable[str | ModuleType]] | None = None,
    generate_schemas: bool = False,
    add_exception_handlers: bool = False,
) -> None:
    """Run the ORM inside `app`'s lifespan (around whatever lifespan it already has)."""
    orm = RegisterYara(
        app,
        config,
        config_file,
        db_url,
        modules,
        generate_schemas,
        add_exception_handlers,
    )
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_instance: Any) -> AsyncIterator[Any]:
        async with orm, inner(app_instance) as state:
            yield state

    app.router.lifespan_context = lifespan


# Tortoise's names.
RegisterTortoise = RegisterYara
register_tortoise = register_yara

__all__ = [
    "RegisterTortoise",
    "RegisterYara",
    "install_exception_handlers",
    "register_tortoise",
    "register_yara",
]
