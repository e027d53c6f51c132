"""Tortoise's `tortoise.query_utils`: `Prefetch` and `Q`."""

from yara_orm.query.expressions import Q
from yara_orm.query.prefetch import Prefetch

__all__ = ["Prefetch", "Q"]
