"""Models of two apps, each naming its app in `Meta.app` and pointing across apps with
'app.Model' (used by test_relations_surface)."""

from __future__ import annotations

from yara_orm import Model, fields


class Supplier(Model):
    name = fields.CharField(max_length=50)

    class Meta:
        app = "inventory"


class Crate(Model):
    label = fields.CharField(max_length=50)
    supplier = fields.ForeignKeyField("inventory.Supplier", related_name="crates")

    class Meta:
        app = "shipping"
        table = "shipping_crate"
