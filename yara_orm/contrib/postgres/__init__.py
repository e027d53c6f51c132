"""PostgreSQL-only fields (Tortoise's `tortoise.contrib.postgres`)."""

from yara_orm.contrib.postgres.fields import ArrayField

__all__ = ["ArrayField"]
