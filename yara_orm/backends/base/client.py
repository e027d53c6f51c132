"""Tortoise's `tortoise.backends.base.client`: the client class and its capabilities."""

from __future__ import annotations

from yara_orm.connection import DatabaseClient
from yara_orm.dialects.base import Capabilities

BaseDBAsyncClient = DatabaseClient

__all__ = ["BaseDBAsyncClient", "Capabilities"]
