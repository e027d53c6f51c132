"""The bookshop's tables."""

from __future__ import annotations

import enum
from decimal import Decimal

from yara_orm import Model, fields


class Author(Model):
    name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=200, unique=True)

    class Meta:
        ordering = ("name",)


class Genre(Model):
    name = fields.CharField(max_length=50, unique=True)


class Book(Model):
    title = fields.CharField(max_length=200)
    isbn = fields.UUIDField(unique=True)
    price = fields.DecimalField(max_digits=8, decimal_places=2)
    stock = fields.IntField(default=0)
    author = fields.ForeignKeyField("Author", related_name="books")
    genres = fields.ManyToManyField("Genre", related_name="books")


class OrderStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    SHIPPED = "shipped"


class Customer(Model):
    name = fields.CharField(max_length=100)
    email = fields.CharField(max_length=200, unique=True)


class Order(Model):
    customer = fields.ForeignKeyField("Customer", related_name="orders")
    status = fields.CharEnumField(OrderStatus, default=OrderStatus.OPEN)
    created = fields.DatetimeField(auto_now_add=True)


class OrderLine(Model):
    order = fields.ForeignKeyField("Order", related_name="lines")
    book = fields.ForeignKeyField("Book", related_name="order_lines", on_delete=fields.RESTRICT)
    quantity = fields.IntField()
    unit_price = fields.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
