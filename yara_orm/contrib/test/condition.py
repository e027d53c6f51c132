"""Conditions for `requireCapability`: `dialect=NotEQ("sqlite")`, `dialect=In("a", "b")`."""

from __future__ import annotations

from typing import Any


class Condition:
    def __init__(self, value: Any) -> None:
        self.value = value


class NotEQ(Condition):
    def __eq__(self, other: object) -> bool:
        return bool(self.value != other)

    def __hash__(self) -> int:
        return hash(("!=", self.value))

    def __str__(self) -> str:
        return f"<!={self.value}>"


class In(Condition):
    def __init__(self, *values: Any) -> None:
        super().__init__(values)

    def __eq__(self, other: object) -> bool:
        return other in self.value

    def __hash__(self) -> int:
        return hash(("in", self.value))

    def __str__(self) -> str:
        return f"<in {self.value}>"


class NotIn(In):
    def __eq__(self, other: object) -> bool:
        return other not in self.value

    def __hash__(self) -> int:
        return hash(("not in", self.value))

    def __str__(self) -> str:
        return f"<not in {self.value}>"


__all__ = ["Condition", "In", "NotEQ", "NotIn"]
