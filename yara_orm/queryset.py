"""Tortoise's `tortoise.queryset`: the queryset classes."""

from yara_orm.query.queryset import QuerySet, QuerySetSingle, ValuesListQuery, ValuesQuery
from yara_orm.query.raw import RawQuery as RawSQLQuery

__all__ = ["QuerySet", "QuerySetSingle", "RawSQLQuery", "ValuesListQuery", "ValuesQuery"]
