"""Models: declaring tables as classes."""

from yara_orm.models.base import Model

__all__ = ["Model"]
