"""Void (SPEC 4.8): reversals dated on the void date, and every refusal."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

from books import bal, build_in_memory, config_text, d, problems_of, txns, write_books

D = Decimal
CONFIG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "90.00"
tax_rate = "0.10"
validity_days = 60
items = [ { item = "haircut", quantity = 3, price = "90.00" } ]
"""


def sale(day: int = 1) -> dict:
    return {"type": "sale", "id": "s-1", "date": d(day), "location": "loc-11",
            "invoice": "INV-1", "customer": "c-1",
            "lines": [{"package": "cuts-3", "instance": "PK-1"}]}


def pay(event_id: str, day: int, amount: str, loc: str = "loc-11") -> dict:
    return {"type": "payment", "id": event_id, "date": d(day), "location": loc,
            "invoice": "INV-1", "amount": amount, "method": "cash"}


def redeem(event_id: str, day: int, loc: str = "loc-11") -> dict:
    return {"type": "redemption", "id": event_id, "date": d(day), "location": loc,
            "instance": "PK-1", "item": "haircut"}


def void(event_id: str, day: int, target: str) -> dict:
    return {"type": "void", "id": event_id, "date": d(day), "target": target,
            "reason": "entered by mistake"}


def liability(books: Path, day: int | None = None) -> Decimal:
    end = datetime.date(2026, 1, day) if day else None
    return -(bal(books, "Liabilities:Loc11:Packages:Deposits", end)
             + bal(books, "Liabilities:Loc11:Packages:Deferred", end))


def test_void_of_a_redemption_gives_the_unit_back(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2), void("v-1", 3, "r-1"),
        redeem("r-2", 4), redeem("r-3", 5), redeem("r-4", 6),
    ])
    build_in_memory(books)
    voids = txns(books, "void")
    assert len(voids) == 1
    assert voids[0].date == datetime.date(2026, 1, 3)
    assert voids[0].meta["target"] == "r-1"
    assert voids[0].links == {"PK-1"}
    assert {p.account: p.units.number for p in voids[0].postings} == {
        "Liabilities:Loc11:Packages:Deferred": D("-30.00"),
        "Income:Loc11:Packages:Redemptions": D("30.00"),
    }
    assert liability(books, 3) == D("90.00")
    # Three more units could be redeemed: the voided one came back.
    assert liability(books) == D("0.00")
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("-90.00")


def test_void_of_the_last_redemption_revives_a_used_up_package(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2), redeem("r-2", 2), redeem("r-3", 2),
        void("v-1", 3, "r-3"), redeem("r-4", 4),
    ])
    build_in_memory(books)
    assert liability(books, 3) == D("30.00")
    assert liability(books) == D("0.00")


def test_void_of_an_earlier_redemption_revives_a_used_up_package(tmp_path: Path) -> None:
    # r-3 used the package up; voiding r-1 (not the one that used it up) gives
    # a unit back all the same, so the package is live again and r-4 redeems it.
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2), redeem("r-2", 2), redeem("r-3", 2),
        void("v-1", 3, "r-1"), redeem("r-4", 4),
    ])
    build_in_memory(books)
    assert liability(books, 3) == D("30.00")
    assert liability(books) == D("0.00")
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("-90.00")


def test_voids_of_two_redemptions_of_a_used_up_package_give_both_units_back(
        tmp_path: Path) -> None:
    # v-1 brings the package back (r-1 did not use it up); v-2 then voids r-3, which
    # did: the package is live already, and gets its second unit back.
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2), redeem("r-2", 2), redeem("r-3", 2),
        void("v-1", 3, "r-1"), void("v-2", 3, "r-3"), redeem("r-4", 4), redeem("r-5", 5),
    ])
    build_in_memory(books)
    assert liability(books, 3) == D("60.00")
    assert liability(books) == D("0.00")
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("-90.00")


def test_voids_in_the_other_order_give_both_units_back_too(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2), redeem("r-2", 2), redeem("r-3", 2),
        void("v-1", 3, "r-3"), void("v-2", 3, "r-1"), redeem("r-4", 4), redeem("r-5", 5),
    ])
    build_in_memory(books)
    assert liability(books, 3) == D("60.00")
    assert liability(books) == D("0.00")


def test_void_of_an_earlier_redemption_of_a_used_up_package_expires_again(
        tmp_path: Path) -> None:
    # Brought back with one unit and never redeemed again, it expires on its own
    # date (sold 1 January, valid 60 days): the unit's 30.00 goes to breakage.
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2), redeem("r-2", 2), redeem("r-3", 2),
        void("v-1", 3, "r-1"),
    ])
    build_in_memory(books, as_of=datetime.date(2026, 3, 31))
    assert liability(books) == D("0.00")
    assert bal(books, "Income:Loc11:Packages:Breakage") == D("-30.00")


def test_void_of_a_payment_reverses_cash_tax_and_reopens_the_invoice(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "44.00"), pay("p-2", 2, "55.00"), void("v-1", 3, "p-1"),
    ])
    build_in_memory(books)
    assert bal(books, "Assets:Loc11:Cash:Cash") == D("55.00")
    assert bal(books, "Liabilities:Loc11:SalesTax") == D("-5.00")
    # p-2 closed the invoice; voiding p-1 reopens it: what is left is a deposit again.
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("0.00")
    assert bal(books, "Liabilities:Loc11:Packages:Deposits") == D("-50.00")


def test_void_of_a_payment_taken_elsewhere_reverses_both_halves(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "44.00", loc="loc-21"), void("v-1", 2, "p-1"),
    ])
    build_in_memory(books)
    assert len(txns(books, "void")) == 2
    for account in ("Assets:Loc21:Cash:Cash", "Liabilities:Loc21:DueTo:Loc11",
                    "Assets:Loc11:DueFrom:Loc21", "Liabilities:Loc11:SalesTax",
                    "Liabilities:Loc11:Packages:Deposits"):
        assert bal(books, account) == D("0.00"), account


def test_void_of_a_sale_without_payments(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), void("v-1", 2, "s-1"),
        {**redeem("r-1", 3)},
    ])
    assert problems_of(books) == [
        f"{books / 'events' / 'events.jsonl'}:3: event r-1: package instance 'PK-1' is voided"
    ]


def test_void_of_a_refund_restores_the_package(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        sale(), pay("p-1", 1, "99.00"),
        {"type": "refund", "id": "f-1", "date": d(2), "location": "loc-11",
         "instance": "PK-1", "amount": "55.00", "method": "cash"},
        void("v-1", 3, "f-1"), redeem("r-1", 4),
    ])
    build_in_memory(books)
    assert bal(books, "Assets:Loc11:Cash:Cash") == D("99.00")
    assert bal(books, "Income:Loc11:Packages:Breakage") == D("0.00")
    assert bal(books, "Liabilities:Loc11:SalesTax") == D("-9.00")
    assert liability(books) == D("60.00")


def refusals(tmp_path: Path, events: list[dict]) -> list[str]:
    books = write_books(tmp_path, config_text(CONFIG), events)
    return [p.split(": ", 2)[2] for p in problems_of(books)]


def test_refused_void_of_redeemed_money(tmp_path: Path) -> None:
    assert refusals(tmp_path, [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2), void("v-1", 3, "p-1"),
    ]) == ["the money of 'p-1' was already redeemed: package 'PK-1' holds 60.00 of the 90.00 "
           "it brought"]


def test_refused_void_of_a_sale_with_payments(tmp_path: Path) -> None:
    assert refusals(tmp_path, [sale(), pay("p-1", 1, "10.00"), void("v-1", 2, "s-1")]) == [
        "invoice 'INV-1' has payments on it: void them first"]


def test_refused_second_void_and_void_of_a_void(tmp_path: Path) -> None:
    assert refusals(tmp_path, [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2),
        void("v-1", 3, "r-1"), void("v-2", 4, "r-1"), void("v-3", 4, "v-1"),
    ]) == ["event 'r-1' was already voided by 'v-1'",
           "void events cannot be voided (only sale, payment, redemption, refund)"]


def test_refused_void_of_unknown_or_expired(tmp_path: Path) -> None:
    assert refusals(tmp_path, [
        sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2),
        void("v-1", 3, "nope"),
        {"type": "expiry", "id": "e-1", "date": d(4), "instance": "PK-1"},
        void("v-2", 5, "r-1"), void("v-3", 5, "e-1"),
    ]) == ["unknown target event 'nope' (not applied before this void)",
           "package 'PK-1' is expired: 'r-1' can no longer be voided",
           "expiry events cannot be voided (only sale, payment, redemption, refund)"]


def used_up_package() -> list[dict]:
    """PK-1 (valid 60 days from 2026-01-01: its expiry date is 2026-03-02) used up by day 4."""
    return [sale(), pay("p-1", 1, "99.00"), redeem("r-1", 2), redeem("r-2", 3), redeem("r-3", 4)]


def test_a_void_before_a_used_up_package_expires_brings_it_back(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        *used_up_package(),
        {**void("v-1", 1, "r-2"), "date": d(1, month=3)},  # the last day before its expiry
    ])
    build_in_memory(books)
    assert liability(books) == D("30.00")  # one of the three 90.00 units is owed again
    assert [t.meta["target"] for t in txns(books, "void")] == ["r-2"]


def test_a_void_once_a_used_up_package_is_past_its_expiry_is_refused_for_the_date(
    tmp_path: Path,
) -> None:
    books = write_books(tmp_path, config_text(CONFIG), [
        *used_up_package(),
        {**void("v-1", 2, "r-2"), "date": d(2, month=3)},  # on its expiry date
        {**void("v-2", 5, "r-3"), "date": d(5, month=6)},  # months later
    ])
    problems = problems_of(books)
    assert [p.split(": ", 2)[-1] for p in problems] == [
        "package 'PK-1' would be past its expiry date 2026-03-02",
    ] * 2
    assert ["v-1" in problems[0], "v-2" in problems[1]] == [True, True]
