"""Field docstrings written as `#:` comment lines right above a field in a model's class body
(Sphinx's convention, which Tortoise reads too): for `describe()` and pydantic schemas."""

from __future__ import annotations

import inspect
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from yara_orm.fields.base import Field
    from yara_orm.models.base import Model

_COMMENT = re.compile(r"^\s*#:\s?(.*?)\s*$")
_TARGET = re.compile(r"^\s*(\w+)\s*[:=]")
_comments: dict[type[Any], dict[str, str]] = {}


def field_docstring(field: Field[Any]) -> str | None:
    """The field's `docstring`, or the `#:` comment above it in its model's source."""
    if field.docstring:
        return field.docstring
    if field.model is None:
        return None
    return field_comments(field.model).get(field.name)


def field_comments(model: type[Model]) -> dict[str, str]:
    """Each field's `#:` comment, in the model's class body or a base it inherits fields
    from (read once per model); `{model}` in a comment names the model."""
    cached = _comments.get(model)
    if cached is None:
        cached = {}
        for klass in reversed(model.__mro__):
            if klass is object or klass.__module__.startswith("yara_orm."):
                continue
            for name, text in _own_comments(klass).items():
                cached[name] = text.replace("{model}", model.__name__)
        _comments[model] = cached
    return cached


def _own_comments(klass: type[Any]) -> dict[str, str]:
    try:
        lines, _ = inspect.getsourcelines(klass)
    except (OSError, TypeError):  # defined in a REPL, or the source is not shipped
        return {}
    found: dict[str, str] = {}
    pending: list[str] = []
    for line in lines[1:]:
        comment = _COMMENT.match(line)
        if comment:
            pending.append(comment.group(1))
            continue
        target = _TARGET.match(line)
        if target and pending:
            found[target.group(1)] = "\n".join(pending)
        pending = []
    return found
