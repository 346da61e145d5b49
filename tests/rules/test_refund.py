"""SPEC 4.5: a refund returns money, its tax share debits SalesTax, its net debits the
liability (never beyond it), the rest is forfeited; the package is over."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from books import (
    bal,
    build_in_memory,
    config_text,
    d,
    pay,
    problems_of,
    redeem,
    refund,
    sale,
    txns,
    write_books,
)

D = Decimal

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
validity_days = 10
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.cuts-ir]
name = "Three haircuts, 5.00 recognised at payment"
price = "100.00"
tax_rate = "0.10"
initial_recognition = "5.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""

DEPOSITS = "Liabilities:Loc11:Packages:Deposits"
DEFERRED = "Liabilities:Loc11:Packages:Deferred"
UNCLAIMED = "Liabilities:Loc11:Packages:Unclaimed"
TAX = "Liabilities:Loc11:SalesTax"
BREAKAGE = "Income:Loc11:Packages:Breakage"
CASH = "Assets:Loc11:Cash:Cash"


def books_of(tmp_path: Path, events: list[dict[str, Any]], **policy: Any) -> Path:
    return write_books(tmp_path / "books", config_text(CATALOG, **policy), events)


def postings(t: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for p in t.postings:
        out[p.account] = out.get(p.account, D(0)) + p.units.number
    return out


PAID = [sale("s1", 1, "K1"), pay("p1", 1, "K1", "110.00")]


def test_full_refund_of_an_unused_package(tmp_path: Path) -> None:
    books = books_of(tmp_path, [*PAID, refund("f1", 3, "K1", "110.00")])
    build_in_memory(books)
    (t,) = txns(books, "refund")
    assert postings(t) == {TAX: D("10.00"), DEFERRED: D("100.00"), CASH: D("-110.00")}
    assert t.links == {"K1"} and t.date.isoformat() == d(3)
    for key, value in {"event": "f1", "kind": "refund", "location": "loc-11",
                       "invoice": "INV-K1", "customer": "cust-1", "instance": "K1",
                       "package": "cuts-3", "method": "cash"}.items():
        assert t.meta[key] == value, key
    assert bal(books, TAX) == bal(books, DEFERRED) == bal(books, BREAKAGE) == D("0.00")


def test_partial_refund_forfeits_the_rest_to_breakage(tmp_path: Path) -> None:
    # 33.34 redeemed: 66.66 left. Refund 50.00: tax 50 x 10/110 = 4.545 -> 4.55, net 45.45;
    # the 21.21 left is forfeited to Breakage.
    books = books_of(tmp_path, [*PAID, redeem("r1", 2, "K1"),
                                refund("f1", 3, "K1", "50.00")])
    build_in_memory(books)
    (t,) = txns(books, "refund")
    assert postings(t) == {TAX: D("4.55"), DEFERRED: D("66.66"), BREAKAGE: D("-21.21"),
                           CASH: D("-50.00")}
    assert bal(books, DEFERRED) == D("0.00")
    assert bal(books, TAX) == D("-5.45")


def test_forfeit_goes_to_breakage_even_under_the_liability_policy(tmp_path: Path) -> None:
    # SPEC 4.5: a refund settles the contract; nothing it forfeits is unclaimed property.
    books = books_of(tmp_path, [*PAID, redeem("r1", 2, "K1"),
                                refund("f1", 3, "K1", "50.00")], expired_balance="liability")
    build_in_memory(books)
    (t,) = txns(books, "refund")
    assert postings(t) == {TAX: D("4.55"), DEFERRED: D("66.66"), BREAKAGE: D("-21.21"),
                           CASH: D("-50.00")}
    assert bal(books, UNCLAIMED) == D("0.00")


def test_a_goodwill_refund_beyond_the_liability_is_an_expense(tmp_path: Path) -> None:
    # SPEC 4.5: money that left the till is never refused. 66.66 left, no initial
    # recognition. 77.00: tax 77 x 10/110 = 7.00, net 70.00: 66.66 from the liability,
    # 3.34 debits Expenses:Loc11:Packages:Refunds.
    books = books_of(tmp_path, [*PAID, redeem("r1", 2, "K1"),
                                refund("f1", 3, "K1", "77.00")])
    build_in_memory(books)
    (t,) = txns(books, "refund")
    assert postings(t) == {TAX: D("7.00"), DEFERRED: D("66.66"),
                           "Expenses:Loc11:Packages:Refunds": D("3.34"), CASH: D("-77.00")}


def test_refund_of_exactly_the_liability_forfeits_nothing(tmp_path: Path) -> None:
    # 73.33: tax 73.33 x 10/110 = 6.666 -> 6.67, net 66.66 = the liability.
    books = books_of(tmp_path, [*PAID, redeem("r1", 2, "K1"),
                                refund("f1", 3, "K1", "73.33")])
    build_in_memory(books)
    (t,) = txns(books, "refund")
    assert postings(t) == {TAX: D("6.67"), DEFERRED: D("66.66"), CASH: D("-73.33")}


def test_a_full_refund_of_an_unused_package_reverses_its_initial_recognition(
    tmp_path: Path,
) -> None:
    # SPEC 4.5. cuts-ir: 110.00 paid = tax 10.00 + IR 5.00 + Deferred 95.00. 110.00 back:
    # tax 10.00, net 100.00 = the liability 95.00, then the initial recognition 5.00.
    # 104.50 is tax 9.50 + net 95.00: the liability alone, the recognition stays.
    full = books_of(tmp_path, [sale("s1", 1, "K1", "cuts-ir"), pay("p1", 1, "K1", "110.00"),
                               refund("f1", 2, "K1", "110.00")])
    build_in_memory(full)
    (t,) = txns(full, "refund")
    assert postings(t) == {TAX: D("10.00"), DEFERRED: D("95.00"),
                           "Income:Loc11:Packages:InitialRecognition": D("5.00"),
                           CASH: D("-110.00")}
    assert bal(full, "Income:Loc11:Packages:InitialRecognition") == D("0.00")

    books = books_of(tmp_path / "ok", [sale("s1", 1, "K1", "cuts-ir"),
                                       pay("p1", 1, "K1", "110.00"),
                                       refund("f1", 2, "K1", "104.50")])
    build_in_memory(books)
    (t,) = txns(books, "refund")
    assert postings(t) == {TAX: D("9.50"), DEFERRED: D("95.00"), CASH: D("-104.50")}
    assert bal(books, "Income:Loc11:Packages:InitialRecognition") == D("-5.00")


def test_refund_on_an_open_invoice_debits_deposits(tmp_path: Path) -> None:
    # Paid 55.00 of 110.00: tax 5.00, Deposits 50.00. Refund 33.00: tax 3.00, net 30.00, the
    # other 20.00 forfeited.
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "55.00"),
                                refund("f1", 2, "K1", "33.00")])
    build_in_memory(books)
    (t,) = txns(books, "refund")
    assert postings(t) == {TAX: D("3.00"), DEPOSITS: D("50.00"), BREAKAGE: D("-20.00"),
                           CASH: D("-33.00")}
    assert bal(books, DEPOSITS) == bal(books, DEFERRED) == D("0.00")


def test_refund_paid_out_at_another_location(tmp_path: Path) -> None:
    books = books_of(tmp_path, [*PAID, refund("f1", 3, "K1", "110.00", loc="loc-12")])
    build_in_memory(books)
    by_loc = {t.meta["location"]: t for t in txns(books, "refund")}
    assert set(by_loc) == {"loc-11", "loc-12"}
    assert postings(by_loc["loc-11"]) == {TAX: D("10.00"), DEFERRED: D("100.00"),
                                          "Liabilities:Loc11:DueTo:Loc12": D("-110.00")}
    assert postings(by_loc["loc-12"]) == {"Assets:Loc12:DueFrom:Loc11": D("110.00"),
                                          "Assets:Loc12:Cash:Cash": D("-110.00")}
    assert by_loc["loc-11"].links == by_loc["loc-12"].links == {"K1"}
    assert bal(books, "Assets:Loc12:DueFrom:Loc11") + bal(
        books, "Liabilities:Loc11:DueTo:Loc12") == 0


def test_after_a_refund_the_package_is_over(tmp_path: Path) -> None:
    books = books_of(tmp_path, [
        *PAID, refund("f1", 2, "K1", "55.00"),
        redeem("r1", 3, "K1"),
        refund("f2", 3, "K1", "10.00"),
        {"type": "expiry", "id": "e1", "date": d(4), "instance": "K1"},
        pay("p2", 4, "K1", "10.00"),
    ])
    lines = problems_of(books, as_of=datetime.date(2026, 3, 1))
    assert [line.split(": ")[1] for line in lines] == ["event r1", "event f2", "event e1",
                                                       "event p2"]
    assert all("refunded" in line for line in lines[:3])


def test_refunded_package_gets_no_automatic_expiry(tmp_path: Path) -> None:
    books = books_of(tmp_path, [*PAID, refund("f1", 2, "K1", "55.00")])
    build_in_memory(books, as_of=datetime.date(2026, 3, 1))
    assert txns(books, "expiry") == []
    # Refund 55.00: tax 5.00, net 50.00; 50.00 forfeited.
    assert bal(books, BREAKAGE) == D("-50.00")
    assert bal(books, TAX) == D("-5.00")


@pytest.mark.parametrize(("event", "word"), [
    (refund("f1", 2, "K9", "10.00"), "K9"),
    (refund("f1", 2, "K1", "10.00", loc="loc-99"), "loc-99"),
    (refund("f1", 2, "K1", "0.00"), "amount"),
    (refund("f1", 2, "K1", "10.00", method="cheque"), "method"),
])
def test_refund_refusals(tmp_path: Path, event: dict[str, Any], word: str) -> None:
    books = books_of(tmp_path, [*PAID, event])
    lines = problems_of(books)
    assert lines
    assert all(line.startswith(f"{books / 'events' / 'events.jsonl'}:3: event f1: ")
               for line in lines)
    assert any(word in line for line in lines)
