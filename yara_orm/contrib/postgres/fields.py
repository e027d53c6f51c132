"""`ArrayField`: a PostgreSQL array column (`int[]`, `varchar(10)[]`, ...), read and written as
a Python list, with the array lookups `contains`, `contained_by`, `overlap` and `len`."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from yara_orm.exceptions import ConfigurationError
from yara_orm.fields.base import Field

if TYPE_CHECKING:
    from yara_orm.query.compiler import Compiler

# A type name with an optional modifier: `int`, `varchar(1)`, `numeric(10, 2)`, `double precision`.
_ELEMENT_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?")
# Element types whose Python values are checked before any SQL (others are left to the server).
_ELEMENT_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("INT", "INTEGER", "INT4", "SMALLINT", "INT2", "BIGINT", "INT8"), (int,)),
    **dict.fromkeys(("TEXT", "VARCHAR", "CHARACTER VARYING", "CHAR", "CHARACTER"), (str,)),
    **dict.fromkeys(("REAL", "FLOAT4", "DOUBLE PRECISION", "FLOAT8"), (int, float)),
    "BOOLEAN": (bool,),
    "BOOL": (bool,),
}


def _operator(sql: str) -> Callable[[Compiler, str, Field[Any], Any], str]:
    def lookup(compiler: Compiler, column: str, field: Field[Any], value: Any) -> str:
        return f"{column} {sql} {compiler.value(field, value)}"

    return lookup


def _length(compiler: Compiler, column: str, field: Field[Any], value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise field.fail(value, "is not a length (an int) for __len")
    # cardinality, not array_length (which is NULL for an empty array): `len=0` finds them.
    return f"cardinality({column}) = {compiler.param(value)}"


class ArrayField(Field[list[Any]]):
    """A one-dimensional array of `element_type` (a PostgreSQL type name, default `int`)."""

    db_kind: ClassVar[str] = "array"
    python_types: ClassVar[tuple[type, ...]] = (list,)
    lookups: ClassVar[dict[str, Callable[[Compiler, str, Field[Any], Any], str]]] = {
        "contains": _operator("@>"),
        "contained_by": _operator("<@"),
        "overlap": _operator("&&"),
        "len": _length,
    }

    def __init__(self, element_type: str = "int", **kwargs: Any) -> None:
        if not isinstance(element_type, str) or not _ELEMENT_TYPE.fullmatch(element_type):
            raise ConfigurationError(
                f"ArrayField(element_type={element_type!r}): not a PostgreSQL type name"
            )
        super().__init__(**kwargs)
        self.element_type = element_type.upper()
        self._element_python = _ELEMENT_PYTHON_TYPES.get(self.element_type.split("(")[0].strip())

    def type_arguments(self) -> dict[str, Any]:
        return {"element_type": self.element_type}

    def coerce(self, value: Any) -> Any:
        if isinstance(value, tuple):
            return list(value)
        raise self.fail(value, "is not a list")

    def check(self, value: Any) -> Any:
        wanted = self._element_python
        if wanted is not None:
            for element in value:
                wrong_bool = isinstance(element, bool) and bool not in wanted
                if element is not None and (wrong_bool or not isinstance(element, wanted)):
                    raise self.fail(value, f"holds {element!r}, which is not {self.element_type}")
        return value
