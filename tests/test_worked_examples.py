"""SPEC 8: each worked example, built for real and read back from the Beancount ledger."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

from books import bal, build_ok, config_text, d, txns, write_books
from spec_examples import P1, P3, P4, P5

D = Decimal


def sale(day: int, instance: str = "PK-1", package: str = "P-1", loc: str = "loc-11") -> dict:
    return {"type": "sale", "id": f"s-{instance}", "date": d(day), "location": loc,
            "invoice": f"INV-{instance}", "customer": "cust-1",
            "lines": [{"package": package, "instance": instance}]}


def pay(event_id: str, day: int, amount: str, invoice: str = "INV-PK-1",
        loc: str = "loc-11") -> dict:
    return {"type": "payment", "id": event_id, "date": d(day), "location": loc,
            "invoice": invoice, "amount": amount, "method": "card"}


def payment_basis(path: Path, day: int) -> Decimal:
    end = datetime.date(2026, 1, day)
    return -(bal(path, "Liabilities:Loc11:Packages:Deposits", end)
             + bal(path, "Liabilities:Loc11:Packages:Deferred", end))


def sale_basis(path: Path, day: int) -> Decimal:
    return -bal(path, "Liabilities:Loc11:Packages:Deferred", datetime.date(2026, 1, day))


def test_1_partial_payments(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P1, redeem_open=True), [
        sale(1), pay("p-1", 1, "20.00"), pay("p-2", 2, "30.00"), pay("p-3", 3, "50.00"),
    ])
    build_ok(books)
    assert [payment_basis(books, day) for day in (1, 2, 3)] == [D("20.00"), D("50.00"),
                                                               D("100.00")]
    assert [sale_basis(books, day) for day in (1, 2, 3)] == [D("0.00"), D("0.00"), D("100.00")]


def test_2_sale_basis_late_close(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P1), [
        sale(1), pay("p-1", 1, "30.00"), pay("p-2", 5, "70.00"),
    ])
    build_ok(books)
    assert [sale_basis(books, day) for day in range(1, 7)] == [D("0.00")] * 4 + [D("100.00")] * 2
    assert [payment_basis(books, day) for day in range(1, 7)] == (
        [D("30.00")] * 4 + [D("100.00")] * 2
    )




def redeem(event_id: str, day: int, item: str, instance: str = "PK-1", loc: str = "loc-11",
           quantity: int = 1) -> dict:
    return {"type": "redemption", "id": event_id, "date": d(day), "location": loc,
            "instance": instance, "item": item, "quantity": quantity}


def test_3_opening_balance_payment_basis(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P3, redeem_open=True), [
        sale(1, package="P-3"), pay("p-1", 1, "30.00"), redeem("r-1", 2, "facial"),
    ])
    build_ok(books)
    # The period starts on day 3: opening is the balance at the end of day 2.
    assert payment_basis(books, 2) == D("10.00")
    assert -bal(books, "Income:Loc11:Packages:InitialRecognition") == D("5.00")
    assert -bal(books, "Income:Loc11:Packages:Redemptions") == D("15.00")


def test_3_opening_balance_sale_basis(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P3, redeem_open=True), [
        sale(1, package="P-3"), pay("p-1", 1, "100.00"), redeem("r-1", 2, "facial"),
    ])
    build_ok(books)
    assert sale_basis(books, 2) == D("80.00")




def _example_4(tmp_path: Path, start: str) -> Path:
    books = write_books(tmp_path, config_text(P4.format(start=start)), [
        sale(1, package="P-4"), pay("p-1", 1, "140.00"),
        redeem("r-1", 10, "massage", loc="loc-21"),
        redeem("r-2", 10, "oil", loc="loc-21"),
        redeem("r-3", 10, "yoga", loc="loc-21"),
    ])
    build_ok(books)
    return books


def test_4_reconciliation(tmp_path: Path) -> None:
    books = _example_4(tmp_path, "2026-01-05")
    assert bal(books, "Assets:Loc21:DueFrom:Loc11") == D("21.50")
    assert bal(books, "Liabilities:Loc11:DueTo:Loc21") == D("-21.50")
    assert bal(books, "Expenses:Loc11:Reconciliation") == D("21.50")
    assert bal(books, "Income:Loc21:Reconciliation") == D("-21.50")
    amounts = sorted(t.postings[0].units.number for t in txns(books, "reconciliation")
                     if t.meta["location"] == "loc-11")
    assert amounts == [D("3.50"), D("6.00"), D("12.00")]
    # Redemptions are the source's revenue, wherever the unit was used.
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("-140.00")


def test_4_reconciliation_not_retroactive(tmp_path: Path) -> None:
    books = _example_4(tmp_path, "2026-01-11")
    assert bal(books, "Assets:Loc21:DueFrom:Loc11") == D("0.00")
    assert txns(books, "reconciliation") == []




def test_5_grace_period(tmp_path: Path) -> None:
    sold = datetime.date(2026, 1, 1)
    third = sold + datetime.timedelta(days=100)  # 10 days after the 90 days of validity
    books = write_books(tmp_path, config_text(P5), [
        sale(1, package="cuts-3"), pay("p-1", 1, "100.00"),
        redeem("r-1", 10, "haircut"), redeem("r-2", 20, "haircut"),
        {"type": "redemption", "id": "r-3", "date": third.isoformat(), "location": "loc-11",
         "instance": "PK-1", "item": "haircut"},
    ])
    build_ok(books, as_of=datetime.date(2026, 12, 31))
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("0.00")
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("-100.00")
    assert bal(books, "Income:Loc11:Packages:Breakage") == D("0.00")
    assert txns(books, "expiry") == []
    assert [t.postings[0].units.number for t in txns(books, "redemption")] == [
        D("33.34"), D("33.33"), D("33.33")]


P6 = """
[items.massage]
name = "Massage"
category = "service"
price = "80.00"

[packages.massage-5]
name = "Five massages"
price = "350.00"
items = [ { item = "massage", quantity = 5, price = "350.00" } ]
"""


def test_6_outstanding_units_in_the_ledger(tmp_path: Path) -> None:
    """The ledger holds what the outstanding-value report reads: 2 of 5 used, 3 left."""
    books = write_books(tmp_path, config_text(P6), [
        sale(1, package="massage-5"), pay("p-1", 1, "350.00"),
        redeem("r-1", 2, "massage"), redeem("r-2", 3, "massage"),
    ])
    build_ok(books)
    used = sum(int(t.meta["quantity"]) for t in txns(books, "redemption")
               if t.meta["item"] == "massage")
    assert used == 2
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("-210.00")
