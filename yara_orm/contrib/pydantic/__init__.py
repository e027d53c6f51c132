"""Pydantic models of ORM models, as Tortoise's `tortoise.contrib.pydantic` makes them: for
FastAPI request and response bodies, OpenAPI schemas, and serialising query results.

    Book_Pydantic = pydantic_model_creator(Book)
    BookIn_Pydantic = pydantic_model_creator(Book, name="BookIn", exclude_readonly=True)
    Book_Pydantic_List = pydantic_queryset_creator(Book)

    book = await Book_Pydantic.from_yara_orm(await Book.get(id=1))
    books = await Book_Pydantic_List.from_queryset(Book.all())

Needs pydantic 2 (`pip install "yara-orm[pydantic]"`); the rest of yara_orm never imports it.
"""

try:
    import pydantic
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise ImportError(
        'yara_orm.contrib.pydantic needs pydantic 2: pip install "yara-orm[pydantic]"'
    ) from error

if not pydantic.VERSION.startswith("2."):  # pragma: no cover
    raise ImportError(
        f"yara_orm.contrib.pydantic needs pydantic 2, not {pydantic.VERSION}: "
        'pip install "yara-orm[pydantic]"'
    )

from yara_orm.contrib.pydantic.base import PydanticListModel, PydanticModel
from yara_orm.contrib.pydantic.creator import (
    pydantic_model_creator,
    pydantic_queryset_creator,
)
from yara_orm.contrib.pydantic.options import PydanticMeta

__all__ = [
    "PydanticListModel",
    "PydanticMeta",
    "PydanticModel",
    "pydantic_model_creator",
    "pydantic_queryset_creator",
]
