"""Tortoise's `tortoise.contrib.fastapi`, for yara-orm: `RegisterYara` for a lifespan,
`register_yara(app, ...)`, and the optional `DoesNotExist` → 404 / `IntegrityError` → 422
exception handlers. Needs the `fastapi` extra."""

from __future__ import annotations

from pydantic import BaseModel

from yara_orm.contrib.starlette import (
    RegisterTortoise,
    RegisterYara,
    exception_handlers,
    install_exception_handlers,
    register_tortoise,
    register_yara,
)


class HTTPNotFoundError(BaseModel):
    """The body of a 404 from the `DoesNotExist` handler, for `responses=` in route docs."""

    detail: str


tortoise_exception_handlers = exception_handlers


__all__ = [
    "HTTPNotFoundError",
    "RegisterTortoise",
    "RegisterYara",
    "exception_handlers",
    "install_exception_handlers",
    "register_tortoise",
    "register_yara",
    "tortoise_exception_handlers",
]
