"""Tortoise's `tortoise.queryset`: the queryset classes."""

from yara_orm.query.queryset import QuerySet

__all__ = ["QuerySet"]
