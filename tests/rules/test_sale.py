"""SPEC 3.2 / 4: the sale rule: an invoice of packages and products, its terms in the ledger,
unit values fixed at sale (with location prices), and every refusal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from books import bal, balances, build_in_memory, config_text, d, problems_of, txns, write_books

D = Decimal

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[items.facial]
name = "Facial"
category = "service"
price = "60.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.odd]
name = "Odd tax"
price = "99.99"
tax_rate = "0.075"
items = [ { item = "haircut", quantity = 1, price = "99.99" } ]

[packages.duo]
name = "Two haircuts and a facial"
price = "100.00"
items = [ { item = "haircut", quantity = 2, price = "60.00" },
          { item = "facial", quantity = 1, price = "40.00" } ]

[packages.duo.location_prices.loc-21]
haircut = "70.00"
facial = "30.00"

[packages.gift]
name = "Free haircut"
price = "0.00"
items = [ { item = "haircut", quantity = 1, price = "0.00" } ]
"""


def pkg(package: str, instance: str, price: str | None = None) -> dict[str, Any]:
    line = {"package": package, "instance": instance}
    if price is not None:
        line["price"] = price
    return line


def product(name: str, amount: str, tax: str = "0.00") -> dict[str, Any]:
    return {"product": name, "amount": amount, "tax": tax}


def sale(eid: str, day: int, invoice: str, *lines: dict[str, Any], loc: str = "loc-11",
         staff: str | None = "amy") -> dict[str, Any]:
    event: dict[str, Any] = {"type": "sale", "id": eid, "date": d(day), "location": loc,
                             "invoice": invoice, "customer": "cust-1", "lines": list(lines)}
    if staff is not None:
        event["staff"] = staff
    return event


def pay(eid: str, day: int, invoice: str, amount: str, loc: str = "loc-11") -> dict[str, Any]:
    return {"type": "payment", "id": eid, "date": d(day), "location": loc, "invoice": invoice,
            "amount": amount, "method": "card"}


def redeem(eid: str, day: int, instance: str, item: str, loc: str = "loc-11") -> dict[str, Any]:
    return {"type": "redemption", "id": eid, "date": d(day), "location": loc,
            "instance": instance, "item": item}


def books_of(tmp_path: Path, events: list[dict[str, Any]], **policy: Any) -> Path:
    return write_books(tmp_path / "books", config_text(CATALOG, **policy), events)


def redemption_values(books: Path) -> list[Decimal]:
    return [-sum(p.units.number for p in t.postings if p.account.startswith("Income:"))
            for t in txns(books, "redemption")]


def test_a_sale_records_each_line_and_moves_no_money(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("cuts-3", "K1"),
                                     product("Shampoo", "20.00", "2.00"), pkg("cuts-3", "K2"))])
    build_in_memory(books)
    k1, shampoo, k2 = txns(books, "sale")
    for t in (k1, shampoo, k2):
        assert t.postings == []
        assert t.meta["event"] == "s1" and t.meta["kind"] == "sale"
        assert t.meta["location"] == "loc-11" and t.meta["invoice"] == "I1"
        assert t.meta["customer"] == "cust-1" and t.meta["staff"] == "amy"
        assert t.date.isoformat() == d(1)
    assert k1.links == {"K1"} and k2.links == {"K2"}
    assert (k1.meta["instance"], k1.meta["package"], k1.meta["price"], k1.meta["tax"]) == (
        "K1", "cuts-3", "100.00", "10.00")
    assert (k2.meta["instance"], k2.meta["package"]) == ("K2", "cuts-3")
    assert shampoo.meta["product"] == "Shampoo"
    assert (shampoo.meta["price"], shampoo.meta["tax"]) == ("20.00", "2.00")
    assert "instance" not in shampoo.meta
    assert all(v == 0 for v in balances(books).values())


def test_sale_without_staff_has_no_staff(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("cuts-3", "K1"), staff=None)])
    build_in_memory(books)
    (t,) = txns(books, "sale")
    assert "staff" not in t.meta


def test_tax_is_price_times_rate_rounded_half_up(tmp_path: Path) -> None:
    # 99.99 x 0.075 = 7.49925 -> 7.50; the invoice total is 107.49.
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("odd", "K1")),
                                pay("p1", 2, "I1", "107.49")])
    build_in_memory(books)
    (t,) = txns(books, "sale")
    assert (t.meta["price"], t.meta["tax"]) == ("99.99", "7.50")
    assert bal(books, "Liabilities:Loc11:SalesTax") == D("-7.50")
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("-99.99")


def test_the_invoice_total_is_net_plus_tax_of_all_lines(tmp_path: Path) -> None:
    # 110.00 + 22.00: a payment of 132.01 is refused, 132.00 closes the invoice.
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("cuts-3", "K1"),
                                     product("Shampoo", "20.00", "2.00")),
                                pay("p1", 2, "I1", "132.01")])
    (line,) = problems_of(books)
    assert "p1" in line and "132.01" in line and "132.00" in line


def test_line_price_overrides_the_catalog_price_and_its_tax(tmp_path: Path) -> None:
    # 80.00 on the line: tax 8.00; paid 88.00 in full.
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("cuts-3", "K1", price="80.00")),
                                pay("p1", 2, "I1", "88.00")])
    build_in_memory(books)
    (t,) = txns(books, "sale")
    assert (t.meta["price"], t.meta["tax"]) == ("80.00", "8.00")
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("-80.00")
    assert bal(books, "Liabilities:Loc11:SalesTax") == D("-8.00")


def test_location_prices_fix_unit_values_at_the_source(tmp_path: Path) -> None:
    # duo sold at loc-21: haircut group 70.00 (35.00 a unit), facial 30.00.
    # duo sold at loc-11: catalog prices, haircut group 60.00 (30.00 a unit), facial 40.00.
    # The facial is redeemed first so it is not the package's last unit.
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("duo", "K21"), loc="loc-21"), pay("p1", 1, "I1", "100.00",
                                                                 loc="loc-21"),
        sale("s2", 1, "I2", pkg("duo", "K11")), pay("p2", 1, "I2", "100.00"),
        redeem("r1", 2, "K21", "facial", loc="loc-21"),
        redeem("r2", 2, "K21", "haircut", loc="loc-21"),
        redeem("r3", 3, "K11", "facial"),
        redeem("r4", 3, "K11", "haircut"),
    ])
    build_in_memory(books)
    assert redemption_values(books) == [D("30.00"), D("35.00"), D("40.00"), D("30.00")]
    assert bal(books, "Income:Loc21:Packages:Redemptions") == D("-65.00")
    assert bal(books, "Liabilities:Loc21:Packages:Deferred") == D("-35.00")
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("-70.00")
    assert bal(books, "Liabilities:Loc11:Packages:Deferred") == D("-30.00")


def test_location_prices_apply_where_the_package_was_sold_not_where_used(
    tmp_path: Path,
) -> None:
    # Sold at loc-11 (catalog prices), used at loc-21: the facial is worth 40.00, not 30.00.
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("duo", "K1")), pay("p1", 1, "I1", "100.00"),
        redeem("r1", 2, "K1", "facial", loc="loc-21"),
    ])
    build_in_memory(books)
    assert redemption_values(books) == [D("40.00")]
    assert bal(books, "Income:Loc11:Packages:Redemptions") == D("-40.00")
    assert bal(books, "Income:Loc21:Packages:Redemptions") == D("0.00")


def test_a_free_package_is_closed_at_once(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("gift", "K1")),
                                redeem("r1", 2, "K1", "haircut")])
    build_in_memory(books)
    assert len(txns(books, "redemption")) == 1
    assert all(v == 0 for v in balances(books).values())


def test_unknown_package_and_location_are_refused(tmp_path: Path) -> None:
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("cuts-99", "K1")),
        sale("s2", 1, "I2", pkg("cuts-3", "K2"), loc="loc-99"),
    ])
    lines = problems_of(books)
    events = books / "events" / "events.jsonl"
    assert len(lines) == 2
    assert lines[0].startswith(f"{events}:1: event s1: ") and "cuts-99" in lines[0]
    assert lines[1].startswith(f"{events}:2: event s2: ") and "loc-99" in lines[1]


def test_duplicate_instance_is_refused_and_the_refused_sale_leaves_nothing(
    tmp_path: Path,
) -> None:
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", pkg("cuts-3", "K1")),
        sale("s2", 2, "I2", pkg("cuts-3", "K2"), pkg("cuts-3", "K1")),  # K1 sold already
        sale("s3", 2, "I3", pkg("cuts-3", "K3"), pkg("cuts-3", "K3")),  # K3 twice in one sale
        pay("p2", 3, "I2", "10.00"),  # I2 was refused as a whole: no such invoice
        redeem("r2", 3, "K2", "haircut"),  # nor its first package
    ])
    lines = problems_of(books)
    events = books / "events" / "events.jsonl"
    assert [line.split(": ")[0:2] for line in lines] == [
        [f"{events}:2", "event s2"], [f"{events}:3", "event s3"],
        [f"{events}:4", "event p2"], [f"{events}:5", "event r2"]]
    assert "K1" in lines[0] and "K3" in lines[1]
    assert "I2" in lines[2] and "K2" in lines[3]


def test_duplicate_invoice_is_refused(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("cuts-3", "K1")),
                                sale("s2", 2, "I1", pkg("cuts-3", "K2"))])
    (line,) = problems_of(books)
    assert line.startswith(f"{books / 'events' / 'events.jsonl'}:2: event s2: ")
    assert "I1" in line


def test_instance_must_be_usable_as_a_link(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "I1", pkg("cuts-3", "K 1"))])
    lines = problems_of(books)
    assert lines
    assert all(line.startswith(f"{books / 'events' / 'events.jsonl'}:1: event s1: ")
               for line in lines)
    assert any("instance" in line for line in lines)


def test_sale_of_a_package_and_product_lines_need_their_fields(tmp_path: Path) -> None:
    books = books_of(tmp_path, [
        sale("s1", 1, "I1", {"product": "Shampoo"}),
        sale("s2", 1, "I2", {"package": "cuts-3"}),
        sale("s3", 1, "I3", {"product": "Shampoo", "amount": "5.001"}),
        sale("s4", 1, "I4"),  # no lines at all
    ])
    lines = problems_of(books)
    assert {line.split(": ")[1] for line in lines} == {"event s1", "event s2", "event s3",
                                                       "event s4"}
