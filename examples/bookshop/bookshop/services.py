"""What the shop does. `catalogue_slow` has the classic N+1; `catalogue` is its fixed twin."""

from __future__ import annotations

from decimal import Decimal

from bookshop.models import Book, Customer, Order, OrderLine, OrderStatus
from yara_orm import F, Sum, in_transaction


class OutOfStock(Exception):
    pass


async def catalogue_slow() -> list[dict[str, object]]:
    """One query for the books, then one more per book for its author."""
    entries = []
    for book in await Book.all().order_by("title"):
        author = await book.author
        entries.append({"title": book.title, "author": author.name, "price": book.price})
    return entries


async def catalogue() -> list[dict[str, object]]:
    """The same page in one query."""
    books = await Book.all().order_by("title").select_related("author")
    return [{"title": b.title, "author": b.author.name, "price": b.price} for b in books]


async def place_order(customer: Customer, items: dict[Book, int]) -> Order:
    """Reserve stock and record the order, all or nothing."""
    async with in_transaction():
        order = await Order.create(customer=customer)
        for book, quantity in items.items():
            reserved = await Book.filter(pk=book.pk, stock__gte=quantity).update(
                stock=F("stock") - quantity
            )
            if not reserved:
                raise OutOfStock(f"{book.title}: fewer than {quantity} in stock")
            await OrderLine.create(order=order, book=book, quantity=quantity, unit_price=book.price)
    return order


async def order_total(order: Order) -> Decimal:
    lines = await OrderLine.filter(order=order)
    return sum((line.unit_price * line.quantity for line in lines), Decimal("0"))


async def pay(order: Order) -> None:
    order.status = OrderStatus.PAID
    await order.save(update_fields=["status"])


async def best_sellers(limit: int = 3) -> list[tuple[str, int]]:
    rows = await (
        OrderLine.annotate(sold=Sum("quantity"))
        .group_by("book__title")
        .order_by("-sold")
        .limit(limit)
        .values_list("book__title", "sold")
    )
    return [(title, int(sold)) for title, sold in rows]
