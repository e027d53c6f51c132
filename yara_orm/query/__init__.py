"""Querysets and expressions."""

from yara_orm.query.expressions import Avg, Count, F, Max, Min, Q, Sum, Value
from yara_orm.query.prefetch import Prefetch
from yara_orm.query.queryset import QuerySet

__all__ = ["Avg", "Count", "F", "Max", "Min", "Prefetch", "Q", "QuerySet", "Sum", "Value"]
