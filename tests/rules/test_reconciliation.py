"""SPEC 4.6: a package sold at S used at D of another entity: S owes D, per unit,
round(source unit price x rate[category], 2); never retroactive; nothing within an entity."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from books import (
    assert_ledger,
    bal,
    build_in_memory,
    config_text,
    d,
    ledger_text,
    pay,
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

[items.facial]
name = "Facial"
category = "service"
price = "60.00"

[items.oil]
name = "Massage oil"
category = "product"
price = "20.00"

[items.yoga]
name = "Yoga class"
category = "class"
price = "10.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.cuts-3.location_prices.loc-21]
haircut = "90.00"

[packages.any-3]
name = "Any three services"
price = "75.00"
items = [ { item = "*", quantity = 3, price = "75.00" } ]

[packages.mix]
name = "Oil and yoga"
price = "75.00"
items = [ { item = "oil", quantity = 3, price = "50.00" },
          { item = "yoga", quantity = 3, price = "25.00" } ]
"""

RECONCILIATION = """
[reconciliation]
start = {start}
rates = {{ service = "0.05", product = "0.30", class = "0.20" }}
"""


def redeem(eid: str, day: int, instance: str, item: str = "haircut", loc: str = "loc-21",
           quantity: int = 1) -> dict[str, Any]:
    return {"type": "redemption", "id": eid, "date": d(day), "location": loc,
            "instance": instance, "item": item, "quantity": quantity}


def books_of(tmp_path: Path, events: list[dict[str, Any]],
             start: str | None = "2026-01-05") -> Path:
    extra = CATALOG + (RECONCILIATION.format(start=start) if start else "")
    return write_books(tmp_path / "books", config_text(extra), events)


def postings(t: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for p in t.postings:
        out[p.account] = out.get(p.account, D(0)) + p.units.number
    return out


def halves(books: Path, event: str) -> dict[str, Any]:
    """The reconciliation transactions of one redemption, by location."""
    found = [t for t in txns(books, "reconciliation") if t.meta["event"] == event]
    by_loc = {t.meta["location"]: t for t in found}
    assert len(by_loc) == len(found)
    return by_loc


def test_rounded_once_per_redemption(tmp_path: Path) -> None:
    # SPEC 4.6: round(quantity x source unit price x rate, 2), once per redemption.
    # Source unit price 100.00 / 3 = 33.33; 2 x 33.33 x 0.05 = 3.333 -> 3.33 (rounding
    # each unit first, 1.6665 -> 1.67, would give 3.34).
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 10, "K1", quantity=2)])
    build_in_memory(books)
    both = halves(books, "r1")
    assert set(both) == {"loc-11", "loc-21"}
    src, dest = both["loc-11"], both["loc-21"]
    assert postings(src) == {"Expenses:Loc11:Reconciliation": D("3.33"),
                             "Liabilities:Loc11:DueTo:Loc21": D("-3.33")}
    assert postings(dest) == {"Assets:Loc21:DueFrom:Loc11": D("3.33"),
                              "Income:Loc21:Reconciliation": D("-3.33")}
    for t in (src, dest):
        assert t.links == {"K1"}
        assert t.date.isoformat() == d(10)
        for key, value in {"event": "r1", "kind": "reconciliation", "instance": "K1",
                           "package": "cuts-3", "item": "haircut", "category": "service",
                           "quantity": "2"}.items():
            assert t.meta[key] == value, key
    # The redemption itself is the source's revenue, untouched by reconciliation.
    (r1,) = txns(books, "redemption")
    assert postings(r1) == {"Liabilities:Loc11:Packages:Deferred": D("66.67"),
                            "Income:Loc11:Packages:Redemptions": D("-66.67")}
    assert bal(books, "Assets:Loc21:DueFrom:Loc11") + bal(
        books, "Liabilities:Loc11:DueTo:Loc21") == 0


def test_any_service_line_unit_price_and_the_service_rate(tmp_path: Path) -> None:
    # "*" 75.00 over 3: 25.00 a unit; a facial is a service: 25.00 x 0.05 = 1.25.
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="any-3"),
                                pay("p1", 1, "K1", "75.00"),
                                redeem("r1", 10, "K1", item="facial")])
    build_in_memory(books)
    both = halves(books, "r1")
    assert postings(both["loc-11"]) == {"Expenses:Loc11:Reconciliation": D("1.25"),
                                        "Liabilities:Loc11:DueTo:Loc21": D("-1.25")}
    assert both["loc-21"].meta["category"] == "service"


def test_product_and_class_rates(tmp_path: Path) -> None:
    # oil 50.00 / 3 = 16.67 x 0.30 = 5.001 -> 5.00; yoga 25.00 / 3 = 8.33 x 0.20 = 1.666 -> 1.67.
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="mix"),
                                pay("p1", 1, "K1", "75.00"),
                                redeem("r1", 10, "K1", item="oil"),
                                redeem("r2", 10, "K1", item="yoga")])
    build_in_memory(books)
    assert postings(halves(books, "r1")["loc-21"]) == {
        "Assets:Loc21:DueFrom:Loc11": D("5.00"), "Income:Loc21:Reconciliation": D("-5.00")}
    assert postings(halves(books, "r2")["loc-21"]) == {
        "Assets:Loc21:DueFrom:Loc11": D("1.67"), "Income:Loc21:Reconciliation": D("-1.67")}
    assert halves(books, "r1")["loc-11"].meta["category"] == "product"
    assert halves(books, "r2")["loc-11"].meta["category"] == "class"
    assert bal(books, "Assets:Loc21:DueFrom:Loc11") == D("6.67")
    assert bal(books, "Liabilities:Loc11:DueTo:Loc21") == D("-6.67")


def test_source_unit_price_is_the_source_location_price(tmp_path: Path) -> None:
    # Sold at loc-21 (haircut group 90.00: 30.00 a unit), used at loc-11: loc-21 owes loc-11
    # 30.00 x 0.05 = 1.50.
    books = books_of(tmp_path, [sale("s1", 1, "K1", loc="loc-21"),
                                pay("p1", 1, "K1", "100.00", loc="loc-21"),
                                redeem("r1", 10, "K1", loc="loc-11")])
    build_in_memory(books)
    both = halves(books, "r1")
    assert postings(both["loc-21"]) == {"Expenses:Loc21:Reconciliation": D("1.50"),
                                        "Liabilities:Loc21:DueTo:Loc11": D("-1.50")}
    assert postings(both["loc-11"]) == {"Assets:Loc11:DueFrom:Loc21": D("1.50"),
                                        "Income:Loc11:Reconciliation": D("-1.50")}


def test_reconciliation_starts_on_its_start_date_and_is_not_retroactive(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 4, "K1"),  # the day before start: nothing
                                redeem("r2", 5, "K1")])  # on the start date
    build_in_memory(books)
    assert halves(books, "r1") == {}
    assert set(halves(books, "r2")) == {"loc-11", "loc-21"}
    assert bal(books, "Assets:Loc21:DueFrom:Loc11") == D("1.67")


def test_same_entity_or_same_location_gives_nothing(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 10, "K1", loc="loc-12"),  # franchise-1 too
                                redeem("r2", 10, "K1", loc="loc-11")])
    build_in_memory(books)
    assert txns(books, "reconciliation") == []


def test_no_reconciliation_section_gives_nothing(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 10, "K1")], start=None)
    build_in_memory(books)
    assert txns(books, "reconciliation") == []
    assert bal(books, "Assets:Loc21:DueFrom:Loc11") == D("0.00")


def test_each_half_touches_one_location(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 10, "K1", quantity=3)])
    build_in_memory(books)
    for t in txns(books, "reconciliation"):
        segments = {p.account.split(":")[1] for p in t.postings}
        assert segments == {"Loc11" if t.meta["location"] == "loc-11" else "Loc21"}
    # Rounded once for the redemption (SPEC 4.6): 3 x 33.33 x 0.05 = 4.9995 -> 5.00.
    assert bal(books, "Expenses:Loc11:Reconciliation") == D("5.00")


MINUTES = """
[items.massage-time]
name = "Massage time"
category = "service"
price = "1.50"
unit = "minutes"

[packages.time-120]
name = "Two hours of massage"
price = "180.00"
items = [ { item = "massage-time", quantity = 120, price = "180.00" } ]

[reconciliation]
start = 2026-01-01
rates = { service = "0.05" }
"""


def test_minutes_are_rounded_once_for_the_whole_redemption() -> None:
    # SPEC 4.6: 75 minutes at 1.50 and 5%: 75 x 1.50 x 0.05 = 5.625 -> 5.63 (not 75 x 0.08).
    config = config_text(MINUTES)
    history = [sale("s1", 1, "K1", package="time-120"), pay("p1", 1, "K1", "180.00")]
    event = {"type": "redemption", "id": "r1", "date": d(2), "location": "loc-21",
             "instance": "K1", "item": "massage-time", "quantity": 75}
    text = ledger_text(config, history, event)
    assert text.count("Expenses:Loc11:Reconciliation") == 1
    assert_ledger(text.split("\n\n")[1], """
        2026-01-02 * "Reconciliation: loc-11 owes loc-21 for 75 massage-time of K1 at loc-21" ^K1
          event: "r1"
          kind: "reconciliation"
          location: "loc-11"
          source: "loc-11"
          instance: "K1"
          package: "time-120"
          item: "massage-time"
          category: "service"
          quantity: "75"
          price: "1.50"
          rate: "0.05"
          Expenses:Loc11:Reconciliation     5.63 USD
          Liabilities:Loc11:DueTo:Loc21    -5.63 USD
    """)
