"""SPEC 4.1 / 4.2: payments split across invoice lines, tax vs net, initial recognition,
Deposits vs Deferred and closing, payments at another location, and every refusal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from books import (
    assert_ledger,
    bal,
    build_in_memory,
    config_text,
    d,
    expire,
    ledger_text,
    outcome_of,
    problems_of,
    refund,
    refusal_of,
    txns,
    write_books,
)

from pkgbooks.state import SetClosed

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
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.plain]
name = "Plain, no tax"
price = "100.00"
items = [ { item = "haircut", quantity = 4, price = "100.00" } ]

[packages.half]
name = "Half, no tax"
price = "50.00"
items = [ { item = "haircut", quantity = 1, price = "50.00" } ]

[packages.ir-amount]
name = "Initial recognition as an amount"
price = "100.00"
initial_recognition = "5.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.ir-percent]
name = "Initial recognition as a percent"
price = "100.00"
initial_recognition = "5%"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.ir-odd]
name = "Initial recognition 2.5%"
price = "100.00"
initial_recognition = "2.5%"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.taxed-ir]
name = "Tax and initial recognition"
price = "100.00"
tax_rate = "0.10"
initial_recognition = "5%"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""

DEPOSITS = "Liabilities:Loc11:Packages:Deposits"
DEFERRED = "Liabilities:Loc11:Packages:Deferred"
TAX = "Liabilities:Loc11:SalesTax"
IR = "Income:Loc11:Packages:InitialRecognition"
PRODUCTS = "Income:Loc11:Products"
CARD = "Assets:Loc11:Cash:Card"


def pkg(package: str, instance: str, price: str | None = None) -> dict[str, Any]:
    line = {"package": package, "instance": instance}
    if price is not None:
        line["price"] = price
    return line


def product(name: str, amount: str, tax: str) -> dict[str, Any]:
    return {"product": name, "amount": amount, "tax": tax}


def sale(eid: str, day: int, invoice: str, *lines: dict[str, Any],
         loc: str = "loc-11") -> dict[str, Any]:
    return {"type": "sale", "id": eid, "date": d(day), "location": loc, "invoice": invoice,
            "customer": "cust-1", "lines": list(lines)}


def pay(eid: str, day: int, invoice: str, amount: str, loc: str = "loc-11",
        method: str = "card") -> dict[str, Any]:
    return {"type": "payment", "id": eid, "date": d(day), "location": loc, "invoice": invoice,
            "amount": amount, "method": method}


def books_of(tmp_path: Path, events: list[dict[str, Any]], **policy: Any) -> Path:
    return write_books(tmp_path / "books", config_text(CATALOG, **policy), events)


def one(books: Path, event: str, kind: str = "payment", location: str | None = None) -> Any:
    found = [t for t in txns(books, kind) if t.meta["event"] == event
             and (location is None or t.meta["location"] == location)]
    assert len(found) == 1, found
    return found[0]


def postings(t: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for p in t.postings:
        out[p.account] = out.get(p.account, D(0)) + p.units.number
    return out


def test_a_full_payment_closes_the_invoice(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("plain", "K1")),
                                pay("p1", 2, "I1", "100.00", method="cash")])
    build_in_memory(books)
    t = one(books, "p1")
    assert postings(t) == {"Assets:Loc11:Cash:Cash": D("100.00"), DEFERRED: D("-100.00")}
    assert t.links == {"K1"}
    assert t.date.isoformat() == d(2)
    for key, value in {"event": "p1", "kind": "payment", "location": "loc-11",
                       "invoice": "I1", "customer": "cust-1", "instance": "K1",
                       "package": "plain", "method": "cash"}.items():
        assert t.meta[key] == value, key
    assert txns(books, "close") == []  # nothing was in Deposits


@pytest.mark.parametrize(("method", "account"), [("cash", "Assets:Loc11:Cash:Cash"),
                                                  ("card", "Assets:Loc11:Cash:Card"),
                                                  ("other", "Assets:Loc11:Cash:Other")])
def test_money_goes_to_the_cash_account_of_its_method(
    tmp_path: Path, method: str, account: str
) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("plain", "K1")),
                                pay("p1", 2, "I1", "30.00", method=method)])
    build_in_memory(books)
    assert bal(books, account) == D("30.00")
    assert bal(books, DEPOSITS) == D("-30.00")


def test_partial_payments_split_tax_pro_rata_and_the_last_takes_the_tax_left(
    tmp_path: Path,
) -> None:
    # cuts-3: 100.00 + 10.00 tax. 25.00 -> tax 25 x 10/110 = 2.2727 -> 2.27, net 22.73 (x2).
    # The completing 60.00 takes the tax left, 10.00 - 4.54 = 5.46 (pro rata would be 5.45),
    # and its net 54.54 goes to Deferred; the close moves Deposits 45.46 to Deferred.
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("cuts-3", "K1")),
                                pay("p1", 2, "I1", "25.00"), pay("p2", 3, "I1", "25.00"),
                                pay("p3", 4, "I1", "60.00")])
    build_in_memory(books)
    assert postings(one(books, "p1")) == {CARD: D("25.00"), TAX: D("-2.27"),
                                          DEPOSITS: D("-22.73")}
    assert postings(one(books, "p2")) == {CARD: D("25.00"), TAX: D("-2.27"),
                                          DEPOSITS: D("-22.73")}
    assert postings(one(books, "p3")) == {CARD: D("60.00"), TAX: D("-5.46"),
                                          DEFERRED: D("-54.54")}
    close = one(books, "p3", kind="close")
    assert postings(close) == {DEPOSITS: D("45.46"), DEFERRED: D("-45.46")}
    assert close.links == {"K1"} and close.date.isoformat() == d(4)
    assert (close.meta["instance"], close.meta["invoice"], close.meta["package"]) == (
        "K1", "I1", "cuts-3")
    assert bal(books, TAX) == D("-10.00")
    assert bal(books, DEFERRED) == D("-100.00")
    assert bal(books, DEPOSITS) == D("0.00")


def test_products_first_pays_products_in_line_order_then_packages(tmp_path: Path) -> None:
    # Lines: package 110.00 (100 + 10 tax), Shampoo 22.00 (20 + 2), Comb 11.00 (10 + 1).
    # p1 30.00: Shampoo 22.00 (tax 2.00, net 20.00), Comb 8.00 (tax 8 x 1/11 = 0.727 -> 0.73,
    #   net 7.27); nothing to the package.
    # p2 100.00: Comb's last 3.00 (tax left 0.27, net 2.73), package 97.00
    #   (tax 97 x 10/110 = 8.818 -> 8.82, net 88.18 to Deposits).
    # p3 13.00 completes the package: tax left 1.18, net 11.82 to Deferred; close 88.18.
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("cuts-3", "K1"), product("Shampoo", "20.00", "2.00"),
             product("Comb", "10.00", "1.00")),
        pay("p1", 2, "I1", "30.00"), pay("p2", 3, "I1", "100.00"), pay("p3", 4, "I1", "13.00"),
    ])
    build_in_memory(books)
    assert postings(one(books, "p1")) == {CARD: D("30.00"), TAX: D("-2.73"),
                                          PRODUCTS: D("-27.27")}
    assert postings(one(books, "p2")) == {CARD: D("100.00"), TAX: D("-9.09"),
                                          PRODUCTS: D("-2.73"), DEPOSITS: D("-88.18")}
    assert postings(one(books, "p3")) == {CARD: D("13.00"), TAX: D("-1.18"),
                                          DEFERRED: D("-11.82")}
    assert postings(one(books, "p3", kind="close")) == {DEPOSITS: D("88.18"),
                                                         DEFERRED: D("-88.18")}
    assert bal(books, TAX) == D("-13.00")
    assert bal(books, PRODUCTS) == D("-30.00")
    assert bal(books, DEFERRED) == D("-100.00")


def test_products_first_pays_packages_in_line_order(tmp_path: Path) -> None:
    # plain (100.00) then half (50.00): 120.00 pays plain in full and 20.00 of half; both
    # stay in Deposits (the invoice is open), each posting tagged with its instance.
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("plain", "K1"), pkg("half", "K2")),
        pay("p1", 2, "I1", "120.00"), pay("p2", 3, "I1", "30.00"),
    ])
    build_in_memory(books)
    p1 = one(books, "p1")
    assert p1.links == {"K1", "K2"}
    assert sorted((p.account, p.units.number, (p.meta or {}).get("instance"))
                  for p in p1.postings) == [
        (CARD, D("120.00"), None),
        (DEPOSITS, D("-100.00"), "K1"),
        (DEPOSITS, D("-20.00"), "K2"),
    ]
    p2 = one(books, "p2")
    assert postings(p2) == {CARD: D("30.00"), DEFERRED: D("-30.00")}
    closes = {t.meta["instance"]: postings(t) for t in txns(books, "close")}
    assert closes == {"K1": {DEPOSITS: D("100.00"), DEFERRED: D("-100.00")},
                      "K2": {DEPOSITS: D("20.00"), DEFERRED: D("-20.00")}}
    assert bal(books, DEFERRED) == D("-150.00")


def test_proportional_allocation_with_tax_split(tmp_path: Path) -> None:
    # Lines: package 110.00 (tax 10.00), Shampoo 22.00 (tax 2.00); payment_allocation
    # proportional. p1 50.00 over unpaid 110 : 22 -> 4166.67 : 833.33 cents -> 41.67 / 8.33.
    #   package: tax 41.67 x 10/110 = 3.788 -> 3.79, net 37.88 (Deposits);
    #   Shampoo: tax 8.33 x 2/22 = 0.757 -> 0.76, net 7.57.
    # p2 82.00 settles: package 68.33 (tax left 6.21, net 62.12 to Deferred),
    #   Shampoo 13.67 (tax left 1.24, net 12.43); close moves Deposits 37.88.
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("cuts-3", "K1"), product("Shampoo", "20.00", "2.00")),
        pay("p1", 2, "I1", "50.00"), pay("p2", 3, "I1", "82.00"),
    ], payment_allocation="proportional")
    build_in_memory(books)
    assert postings(one(books, "p1")) == {CARD: D("50.00"), TAX: D("-4.55"),
                                          PRODUCTS: D("-7.57"), DEPOSITS: D("-37.88")}
    assert postings(one(books, "p2")) == {CARD: D("82.00"), TAX: D("-7.45"),
                                          PRODUCTS: D("-12.43"), DEFERRED: D("-62.12")}
    assert postings(one(books, "p2", kind="close")) == {DEPOSITS: D("37.88"),
                                                         DEFERRED: D("-37.88")}
    assert bal(books, TAX) == D("-12.00")
    assert bal(books, PRODUCTS) == D("-20.00")
    assert bal(books, DEFERRED) == D("-100.00")


def test_products_first_on_the_same_invoice(tmp_path: Path) -> None:
    # Same invoice, products_first: p1 50.00 = Shampoo 22.00 (2.00 / 20.00) + package 28.00
    # (tax 28 x 10/110 = 2.545 -> 2.55, net 25.45); p2 82.00 completes: tax 7.45, net 74.55.
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("cuts-3", "K1"), product("Shampoo", "20.00", "2.00")),
        pay("p1", 2, "I1", "50.00"), pay("p2", 3, "I1", "82.00"),
    ])
    build_in_memory(books)
    assert postings(one(books, "p1")) == {CARD: D("50.00"), TAX: D("-4.55"),
                                          PRODUCTS: D("-20.00"), DEPOSITS: D("-25.45")}
    assert postings(one(books, "p2")) == {CARD: D("82.00"), TAX: D("-7.45"),
                                          DEFERRED: D("-74.55")}
    assert postings(one(books, "p2", kind="close")) == {DEPOSITS: D("25.45"),
                                                         DEFERRED: D("-25.45")}


def test_initial_recognition_as_an_amount_is_recognised_first(tmp_path: Path) -> None:
    # IR 5.00: p1 3.00 all IR; p2 10.00 = IR 2.00 + Deposits 8.00; p3 87.00 closes to
    # Deferred; close 8.00. Recognised 5.00, deferred 95.00.
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("ir-amount", "K1")),
                                pay("p1", 2, "I1", "3.00"), pay("p2", 3, "I1", "10.00"),
                                pay("p3", 4, "I1", "87.00")])
    build_in_memory(books)
    assert postings(one(books, "p1")) == {CARD: D("3.00"), IR: D("-3.00")}
    assert postings(one(books, "p2")) == {CARD: D("10.00"), IR: D("-2.00"),
                                          DEPOSITS: D("-8.00")}
    assert postings(one(books, "p3")) == {CARD: D("87.00"), DEFERRED: D("-87.00")}
    assert postings(one(books, "p3", kind="close")) == {DEPOSITS: D("8.00"),
                                                         DEFERRED: D("-8.00")}
    assert bal(books, IR) == D("-5.00")
    assert bal(books, DEFERRED) == D("-95.00")


@pytest.mark.parametrize(("package", "price", "ir"), [
    ("ir-percent", None, "5.00"),  # 5% of 100.00
    ("ir-percent", "80.00", "4.00"),  # 5% of the line's price
    ("ir-odd", "99.99", "2.50"),  # 2.5% of 99.99 = 2.49975 -> 2.50
])
def test_initial_recognition_as_a_percent(
    tmp_path: Path, package: str, price: str | None, ir: str
) -> None:
    paid = price or "100.00"
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg(package, "K1", price)),
                                pay("p1", 2, "I1", paid)])
    build_in_memory(books)
    assert postings(one(books, "p1")) == {CARD: D(paid), IR: -D(ir),
                                          DEFERRED: D(ir) - D(paid)}


def test_initial_recognition_comes_from_the_net_not_the_tax(tmp_path: Path) -> None:
    # 100.00 + 10.00 tax, IR 5%: p1 11.00 = tax 1.00 + net 10.00 (IR 5.00, Deposits 5.00).
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("taxed-ir", "K1")),
                                pay("p1", 2, "I1", "11.00"), pay("p2", 3, "I1", "99.00")])
    build_in_memory(books)
    assert postings(one(books, "p1")) == {CARD: D("11.00"), TAX: D("-1.00"), IR: D("-5.00"),
                                          DEPOSITS: D("-5.00")}
    assert postings(one(books, "p2")) == {CARD: D("99.00"), TAX: D("-9.00"),
                                          DEFERRED: D("-90.00")}
    assert bal(books, DEFERRED) == D("-95.00")


def test_payment_at_another_location_is_carried_by_due_to_and_due_from(
    tmp_path: Path,
) -> None:
    # Sold at loc-11, paid 110.00 at loc-12: one transaction per location, linked.
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("cuts-3", "K1")),
                                pay("p1", 2, "I1", "110.00", loc="loc-12")])
    build_in_memory(books)
    here = one(books, "p1", location="loc-12")
    there = one(books, "p1", location="loc-11")
    assert postings(here) == {"Assets:Loc12:Cash:Card": D("110.00"),
                              "Liabilities:Loc12:DueTo:Loc11": D("-110.00")}
    assert postings(there) == {"Assets:Loc11:DueFrom:Loc12": D("110.00"), TAX: D("-10.00"),
                               DEFERRED: D("-100.00")}
    assert here.links == there.links == {"K1"}
    assert here.meta["source"] == "loc-11"
    assert here.meta["instance"] == there.meta["instance"] == "K1"
    assert bal(books, "Assets:Loc11:DueFrom:Loc12") + bal(
        books, "Liabilities:Loc12:DueTo:Loc11") == 0
    # Each transaction touches one location's accounts only.
    for t in (here, there):
        segments = {p.account.split(":")[1] for p in t.postings}
        assert len(segments) == 1, t.postings


def test_payment_beyond_the_invoice_total_is_refused(tmp_path: Path) -> None:
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("cuts-3", "K1")),
        pay("p1", 2, "I1", "110.01"),  # more than the whole total
        pay("p2", 2, "I1", "100.00"),
        pay("p3", 3, "I1", "10.01"),  # more than the 10.00 still owed
        pay("p4", 3, "I1", "10.00"),
        pay("p5", 4, "I1", "0.01"),  # the invoice is paid
    ])
    lines = problems_of(books)
    events = books / "events" / "events.jsonl"
    assert [line.split(": ")[0] for line in lines] == [f"{events}:2", f"{events}:4",
                                                       f"{events}:6"]
    assert "event p1" in lines[0] and "110.01" in lines[0] and "110.00" in lines[0]
    assert "event p3" in lines[1] and "10.01" in lines[1] and "10.00" in lines[1]
    assert "event p5" in lines[2]


def test_refused_payment_writes_nothing_and_checking_goes_on(tmp_path: Path) -> None:
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("plain", "K1")),
        pay("p1", 2, "I9", "10.00"),  # unknown invoice
        pay("p2", 2, "I1", "10.00", loc="loc-99"),  # unknown location
        pay("p3", 3, "I2", "10.00"),  # the sale comes later
        sale("s2", 4, "I2", pkg("plain", "K2")),
    ])
    lines = problems_of(books)
    assert [line.split(": ")[1] for line in lines] == ["event p1", "event p2", "event p3"]
    assert "I9" in lines[0] and "loc-99" in lines[1] and "I2" in lines[2]


def test_payment_on_an_invoice_of_products_only(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "I1", product("Shampoo", "20.00", "2.00")),
                                pay("p1", 2, "I1", "11.00"), pay("p2", 2, "I1", "11.00")])
    build_in_memory(books)
    assert postings(one(books, "p1")) == {CARD: D("11.00"), TAX: D("-1.00"),
                                          PRODUCTS: D("-10.00")}
    assert postings(one(books, "p2")) == {CARD: D("11.00"), TAX: D("-1.00"),
                                          PRODUCTS: D("-10.00")}
    assert one(books, "p1").links == set()


# SPEC 4.9: money received for a package that has ended is booked, never refused.

def late(eid: str, day: int, amount: str) -> dict[str, Any]:
    return pay(eid, day, "I1", amount)


HALF_PAID = [sale("s1", 1, "I1", pkg("cuts-3", "K1")), late("p1", 1, "55.00")]


def test_an_instalment_after_the_expiry_is_an_expired_balance() -> None:
    # cuts-3 110.00 gross: 55.00 paid (tax 5.00, Deposits 50.00), expired on day 2 (the 50.00
    # to Breakage). The second 55.00 completes the line: tax 5.00, net 50.00 to Breakage.
    config = config_text(CATALOG)
    history = [*HALF_PAID, expire("e1", 2, "K1")]
    assert_ledger(ledger_text(config, history, late("p2", 3, "55.00")), """
        2026-01-03 * "Payment on invoice I1 (card)" ^K1
          event: "p2"
          kind: "payment"
          location: "loc-11"
          invoice: "I1"
          customer: "cust-1"
          instance: "K1"
          package: "cuts-3"
          method: "card"
          ended: "expired"
          Assets:Loc11:Cash:Card               55.00 USD
          Liabilities:Loc11:SalesTax           -5.00 USD
          Income:Loc11:Packages:Breakage      -50.00 USD
    """)
    # It pays the invoice in full: the invoice closes (nothing live to move to Deferred).
    outcome = outcome_of(config, history, late("p2", 3, "55.00"))
    assert SetClosed("I1", True) in outcome.changes


def test_under_the_liability_policy_it_is_unclaimed_and_a_refunded_package_says_so() -> None:
    # Refunded for 11.00 on day 2 (tax 1.00, net 10.00 of the 50.00; 40.00 forfeited), then
    # 33.00 paid: tax 33 x 10/110 = 3.00, net 30.00 to Unclaimed.
    config = config_text(CATALOG, expired_balance="liability")
    history = [*HALF_PAID, refund("f1", 2, "K1", "11.00")]
    assert_ledger(ledger_text(config, history, late("p2", 3, "33.00")), """
        2026-01-03 * "Payment on invoice I1 (card)" ^K1
          event: "p2"
          kind: "payment"
          location: "loc-11"
          invoice: "I1"
          customer: "cust-1"
          instance: "K1"
          package: "cuts-3"
          method: "card"
          ended: "refunded"
          Assets:Loc11:Cash:Card                 33.00 USD
          Liabilities:Loc11:SalesTax             -3.00 USD
          Liabilities:Loc11:Packages:Unclaimed  -30.00 USD
    """)


def test_what_is_unpaid_on_an_ended_package_stays_payable_and_no_more() -> None:
    config = config_text(CATALOG)
    history = [*HALF_PAID, expire("e1", 2, "K1")]
    assert refusal_of(config, history, late("p2", 3, "55.01")) == (
        "payment 55.01 exceeds what invoice 'I1' still owes (55.00)")
    paid_up = [*history, late("p2", 3, "55.00")]
    assert refusal_of(config, paid_up, late("p3", 4, "0.01")) == (
        "invoice 'I1' is already fully paid")


def test_a_late_instalment_is_neither_a_sale_nor_an_expiration(tmp_path: Path) -> None:
    books = books_of(tmp_path, [*HALF_PAID, expire("e1", 2, "K1"), late("p2", 3, "55.00")])
    build_in_memory(books)
    assert bal(books, DEPOSITS) == bal(books, DEFERRED) == D("0.00")
    assert bal(books, "Income:Loc11:Packages:Breakage") == D("-100.00")
    assert bal(books, TAX) == D("-10.00")
