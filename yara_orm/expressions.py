"""Tortoise's `tortoise.expressions`: `F`, `Q`, `Value`, `RawSQL`, `Subquery`, `Case`, `When`
and the base `Function`."""

import enum

from yara_orm.query.expressions import (
    Case,
    CombinedExpression,
    Expression,
    F,
    Function,
    Q,
    RawSQL,
    Subquery,
    Value,
    When,
)


class Connector(enum.Enum):
    """The arithmetic operators F expressions combine with."""

    add = "+"
    sub = "-"
    mul = "*"
    div = "/"
    mod = "%"


__all__ = [
    "Case",
    "CombinedExpression",
    "Connector",
    "Expression",
    "F",
    "Function",
    "Q",
    "RawSQL",
    "Subquery",
    "Value",
    "When",
]
