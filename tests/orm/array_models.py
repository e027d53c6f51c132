"""A model with PostgreSQL array columns (`yara_orm.contrib.postgres`)."""

from __future__ import annotations

from yara_orm import fields
from yara_orm.contrib.postgres import ArrayField
from yara_orm.models import Model


class Readings(Model):
    id = fields.IntField(primary_key=True)
    values = ArrayField()
    labels = ArrayField(element_type="varchar(3)", null=True)
    small = ArrayField(element_type="smallint", null=True)
