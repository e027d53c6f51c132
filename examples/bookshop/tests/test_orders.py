"""Orders: stock, transactions, totals, and tests that need real commits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from bookshop.models import Book, Order, OrderStatus
from bookshop.services import OutOfStock, best_sellers, order_total, pay, place_order


async def test_placing_an_order_reserves_stock(yara_db, customer, book_factory):
    book = await book_factory.create(stock=3, price=Decimal("10.00"))
    order = await place_order(customer, {book: 2})
    assert await order_total(order) == Decimal("20.00")
    assert (await Book.get(pk=book.pk)).stock == 1


async def test_out_of_stock_rolls_the_whole_order_back(yara_db, customer, book_factory):
    plenty = await book_factory.create(stock=10)
    scarce = await book_factory.create(stock=1)
    with pytest.raises(OutOfStock):
        await place_order(customer, {plenty: 1, scarce: 2})
    assert await Order.all().count() == 0
    assert (await Book.get(pk=plenty.pk)).stock == 10


async def test_paying_writes_only_the_status(yara_db, customer, book):
    order = await place_order(customer, {book: 1})
    with yara_db.assert_num_queries(1):
        await pay(order)
    assert (await Order.get(pk=order.pk)).status is OrderStatus.PAID


async def test_best_sellers(yara_db, customer, book_factory):
    first, second = await book_factory.create_batch(2, stock=50)
    await place_order(customer, {first: 3, second: 1})
    await place_order(customer, {first: 2})
    assert await best_sellers(2) == [(first.title, 5), (second.title, 1)]


@pytest.mark.yara_db(transaction=True)
async def test_with_real_commits(yara_db, customer, book):
    await place_order(customer, {book: 1})
    assert await Order.all().count() == 1


async def test_the_commits_are_gone(yara_db):
    assert await Order.all().count() == 0
    assert await Book.all().count() == 5  # the seed is back


async def test_made_rows_fill_every_required_field(yara_db):
    line_book = await yara_db.make(Book)
    assert line_book.isbn and line_book.title and (await line_book.author).email
