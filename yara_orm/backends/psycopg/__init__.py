"""Tortoise's `tortoise.backends.psycopg`."""

from yara_orm.backends.psycopg.client import PsycopgClient

__all__ = ["PsycopgClient"]
