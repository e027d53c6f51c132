"""Models: declaring tables as classes."""

from yara_orm.models.base import Model
from yara_orm.models.related import NoneAwaitable

__all__ = ["Model", "NoneAwaitable"]
