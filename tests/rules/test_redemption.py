"""SPEC 4.3: redemptions recognise the value of the units used (item_price or proportional),
capped, the last unit taking what is left; and every refusal."""

from __future__ import annotations

import datetime
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
    ledger_text,
    pay,
    problems_of,
    refund,
    txns,
    write_books,
)
from spec_examples import P3

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

[items.massage]
name = "Massage"
category = "service"
price = "80.00"

[items.nails]
name = "Nails"
category = "service"

[items.consult]
name = "Consultation"
category = "service"
price = "varies"

[items.oil]
name = "Massage oil"
category = "product"
price = "10.00"

[items.candle]
name = "Candle"
category = "product"
price = "20.00"

[items.yoga]
name = "Yoga class"
category = "class"
price = "30.00"

[items.trim]
name = "Trim"
category = "service"
price = "10.00"

[items.color]
name = "Color"
category = "service"
price = "20.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
validity_days = 10
grace_days = 5
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.cuts-ir]
name = "Three haircuts, 5.00 recognised at payment"
price = "100.00"
initial_recognition = "5.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.any-mix]
name = "A haircut and two of any service"
price = "100.00"
items = [ { item = "haircut", quantity = 1, price = "30.00" },
          { item = "*", quantity = 2, price = "70.00" } ]

[packages.freebie]
name = "Two haircuts and free oil"
price = "100.00"
items = [ { item = "haircut", quantity = 2, price = "100.00" },
          { item = "oil", quantity = 1, price = "0.00" } ]

[packages.spa]
name = "Spa day"
price = "200.00"
initial_recognition = "10%"
items = [ { item = "massage", quantity = 2, price = "120.00" },
          { item = "facial", quantity = 1, price = "60.00" },
          { item = "candle", quantity = 1, price = "0.00" },
          { item = "*", quantity = 1, price = "20.00" },
          { item = "consult", quantity = 1, price = "10.00" },
          { item = "nails", quantity = 1, price = "30.00" } ]

[packages.trio]
name = "Massage, facial, nails"
price = "100.00"
items = [ { item = "massage", quantity = 1, price = "50.00" },
          { item = "facial", quantity = 1, price = "20.00" },
          { item = "nails", quantity = 1, price = "30.00" } ]

[packages.ab]
name = "Three trims and a color"
price = "99.99"
items = [ { item = "trim", quantity = 3, price = "30.00" },
          { item = "color", quantity = 1, price = "20.00" } ]
"""

DEPOSITS = "Liabilities:Loc11:Packages:Deposits"
DEFERRED = "Liabilities:Loc11:Packages:Deferred"
REDEMPTIONS = "Income:Loc11:Packages:Redemptions"


def sale(eid: str, day: int, instance: str, package: str = "cuts-3", loc: str = "loc-11",
         price: str | None = None) -> dict[str, Any]:
    line = {"package": package, "instance": instance}
    if price is not None:
        line["price"] = price
    return {"type": "sale", "id": eid, "date": d(day), "location": loc,
            "invoice": f"INV-{instance}", "customer": "cust-1", "staff": "amy",
            "lines": [line]}


def redeem(eid: str, when: int | str, instance: str, item: str = "haircut",
           loc: str = "loc-11", quantity: int = 1, staff: str | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "redemption", "id": eid,
                             "date": d(when) if isinstance(when, int) else when,
                             "location": loc, "instance": instance, "item": item,
                             "quantity": quantity}
    if staff:
        event["staff"] = staff
    return event


def books_of(tmp_path: Path, events: list[dict[str, Any]], **policy: Any) -> Path:
    return write_books(tmp_path / "books", config_text(CATALOG, **policy), events)


def postings(t: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for p in t.postings:
        out[p.account] = out.get(p.account, D(0)) + p.units.number
    return out


def values(books: Path) -> list[Decimal]:
    """Each redemption's recognised value, in ledger order."""
    return [-sum((p.units.number for p in t.postings if p.account.startswith("Income:")),
                 D("0.00")) for t in txns(books, "redemption")]


def test_redemption_recognises_unit_values_and_the_last_takes_the_rest(tmp_path: Path) -> None:
    # 100.00 over 3 units: 33.34, 33.33, 33.33; two at once on the last take 66.66.
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 2, "K1", staff="bo"),
                                redeem("r2", 3, "K1", quantity=2)])
    build_in_memory(books)
    r1, r2 = txns(books, "redemption")
    assert postings(r1) == {DEFERRED: D("33.34"), REDEMPTIONS: D("-33.34")}
    assert postings(r2) == {DEFERRED: D("66.66"), REDEMPTIONS: D("-66.66")}
    assert r1.links == r2.links == {"K1"}
    for key, value in {"event": "r1", "kind": "redemption", "location": "loc-11",
                       "customer": "cust-1", "instance": "K1", "package": "cuts-3",
                       "item": "haircut", "quantity": "1", "staff": "bo"}.items():
        assert r1.meta[key] == value, key
    assert r2.meta["quantity"] == "2" and "staff" not in r2.meta
    assert bal(books, DEFERRED) == D("0.00")
    assert bal(books, REDEMPTIONS) == D("-100.00")


@pytest.mark.parametrize("where", ["loc-12", "loc-21"])
def test_redemption_elsewhere_is_revenue_of_the_source(tmp_path: Path, where: str) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 2, "K1", loc=where)])
    build_in_memory(books)
    (r1,) = [t for t in txns(books) if t.meta["event"] == "r1"]  # no reconciliation set up
    assert postings(r1) == {DEFERRED: D("33.34"), REDEMPTIONS: D("-33.34")}
    assert r1.meta["location"] == where and r1.meta["source"] == "loc-11"
    seg = "Loc12" if where == "loc-12" else "Loc21"
    assert not any(seg in account for account in postings(r1))


def test_open_invoice_redeems_from_deposits_never_beyond_its_payments(tmp_path: Path) -> None:
    # redeem_open_packages: paid 50.00; r1 takes 33.34 from Deposits, leaving 16.66; r2 wants
    # 33.33 and is refused. p2 50.00 closes: 50.00 to Deferred, close moves 16.66; r3 takes
    # the last two units: 66.66.
    books = books_of(tmp_path, [
        sale("s1", 1, "K1"), pay("p1", 1, "K1", "50.00"),
        redeem("r1", 2, "K1"), redeem("r2", 3, "K1"),
    ], redeem_open=True)
    (line,) = problems_of(books)
    assert line.startswith(f"{books / 'events' / 'events.jsonl'}:4: event r2: ")
    assert "33.33" in line and "16.66" in line

    books = books_of(tmp_path / "ok", [
        sale("s1", 1, "K1"), pay("p1", 1, "K1", "50.00"), redeem("r1", 2, "K1"),
        pay("p2", 4, "K1", "50.00"), redeem("r3", 5, "K1", quantity=2),
    ], redeem_open=True)
    build_in_memory(books)
    r1, r3 = txns(books, "redemption")
    assert postings(r1) == {DEPOSITS: D("33.34"), REDEMPTIONS: D("-33.34")}
    assert bal(books, DEPOSITS, datetime.date(2026, 1, 2)) == D("-16.66")
    (close,) = txns(books, "close")
    assert postings(close) == {DEPOSITS: D("16.66"), DEFERRED: D("-16.66")}
    assert postings(r3) == {DEFERRED: D("66.66"), REDEMPTIONS: D("-66.66")}
    assert bal(books, DEPOSITS) == bal(books, DEFERRED) == D("0.00")


def test_open_invoice_refused_when_redeem_open_packages_is_false(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "99.99"),
                                redeem("r1", 2, "K1")])
    (line,) = problems_of(books)
    assert line.startswith(f"{books / 'events' / 'events.jsonl'}:3: event r1: ")
    assert "redeem_open_packages" in line


def test_redemption_refusals(tmp_path: Path) -> None:
    books = books_of(tmp_path, [
        sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
        redeem("r1", 2, "K1", item="facial"),  # 3 a service the package doesn't hold
        redeem("r2", 2, "K1", item="oil"),  # 4 a product it doesn't hold
        redeem("r3", 2, "K1", quantity=4),  # 5 more units than it has
        redeem("r4", 2, "K1", quantity=2),  # 6 fine: one left
        redeem("r5", 3, "K1", quantity=2),  # 7 more than remain
        redeem("r6", 3, "K1", item="pedicure"),  # 8 not a catalog item
        redeem("r7", 3, "K9"),  # 9 unknown instance
        redeem("r8", 3, "K1", loc="loc-99"),  # 10 unknown location
        redeem("r9", 4, "K1"),  # 11 fine: the last unit
        redeem("r10", 5, "K1"),  # 12 used up
    ])
    lines = problems_of(books)
    events = books / "events" / "events.jsonl"
    got = {line.split(": ")[1]: line for line in lines}
    assert [line.split(": ")[0] for line in lines] == [f"{events}:{n}"
                                                      for n in (3, 4, 5, 7, 8, 9, 10, 12)]
    assert "facial" in got["event r1"]
    assert "oil" in got["event r2"]
    assert "4" in got["event r3"] and "3" in got["event r3"]
    assert "2" in got["event r5"] and "1" in got["event r5"]
    assert "pedicure" in got["event r6"]
    assert "K9" in got["event r7"]
    assert "loc-99" in got["event r8"]
    assert "used up" in got["event r10"]


def test_redemption_after_a_refund_is_refused(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                refund("f1", 2, "K1", "50.00"), redeem("r1", 3, "K1")])
    (line,) = problems_of(books)
    assert line.startswith(f"{books / 'events' / 'events.jsonl'}:4: event r1: ")
    assert "refunded" in line


def test_grace_period_redeems_until_the_day_before_expiry(tmp_path: Path) -> None:
    # Sold 2026-01-01, 10 days + 5 days grace: expires on 2026-01-16.
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 11, "K1"),  # inside the grace period
                                redeem("r2", 15, "K1")])  # the last day
    build_in_memory(books)
    assert values(books) == [D("33.34"), D("33.33")]
    assert txns(books, "expiry") == []


@pytest.mark.parametrize("when", ["2026-01-16", "2026-01-20"])
def test_redemption_on_or_after_the_expiry_date_is_refused(tmp_path: Path, when: str) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", when, "K1")])
    (line,) = problems_of(books)
    assert line.startswith(f"{books / 'events' / 'events.jsonl'}:3: event r1: ")
    assert "expired" in line


def test_any_service_line_serves_services_not_listed(tmp_path: Path) -> None:
    # any-mix: haircut 30.00 (own line), "*" 70.00 over 2 units (35.00 each).
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="any-mix"),
                                pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 2, "K1", item="facial"),
                                redeem("r2", 3, "K1", item="haircut"),
                                redeem("r3", 4, "K1", item="massage")])
    build_in_memory(books)
    assert values(books) == [D("35.00"), D("30.00"), D("35.00")]
    assert bal(books, DEFERRED) == D("0.00")


@pytest.mark.parametrize("item", ["oil", "yoga"])
def test_any_service_line_does_not_serve_products_or_classes(tmp_path: Path, item: str) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="any-mix"),
                                pay("p1", 1, "K1", "100.00"), redeem("r1", 2, "K1", item=item)])
    (line,) = problems_of(books)
    assert "event r1" in line and item in line


def test_a_listed_service_with_no_units_left_is_drawn_from_the_any_service_line(
    tmp_path: Path,
) -> None:
    # SPEC 4.3: a listed service uses its own line first; once that has none left, the
    # "*" line serves it. any-mix: haircut 30.00 (one unit), "*" 70.00 over two (35.00).
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="any-mix"),
                                pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 2, "K1", item="haircut"),
                                redeem("r2", 3, "K1", item="haircut"),
                                redeem("r3", 4, "K1", item="haircut"),
                                redeem("r4", 5, "K1", item="haircut")])
    (line,) = problems_of(books)  # the fourth: neither line has a unit left
    assert line.startswith(f"{books / 'events' / 'events.jsonl'}:6: event r4: ")
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="any-mix"),
                                pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 2, "K1", item="haircut"),
                                redeem("r2", 3, "K1", item="haircut")])
    build_in_memory(books)
    assert values(books) == [D("30.00"), D("35.00")]
    r1, r2 = txns(books, "redemption")
    assert r1.meta["item"] == "haircut" and "line" not in r1.meta
    assert (r2.meta["item"], r2.meta["line"]) == ("haircut", "*")


def test_a_free_item_is_worth_nothing(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="freebie"),
                                pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 2, "K1", item="oil"),
                                redeem("r2", 3, "K1"), redeem("r3", 4, "K1")])
    build_in_memory(books)
    assert values(books) == [D("0.00"), D("50.00"), D("50.00")]
    assert bal(books, DEFERRED, datetime.date(2026, 1, 2)) == D("-100.00")
    assert bal(books, DEFERRED) == D("0.00")


def test_initial_recognition_shortfall_is_taken_by_the_last_unit(tmp_path: Path) -> None:
    # 5.00 recognised at payment: 95.00 deferred. 33.34 + 33.33, then the last unit 28.33.
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="cuts-ir"),
                                pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 2, "K1"), redeem("r2", 3, "K1"),
                                redeem("r3", 4, "K1")])
    build_in_memory(books)
    assert values(books) == [D("33.34"), D("33.33"), D("28.33")]
    assert bal(books, DEFERRED) == D("0.00")
    assert bal(books, REDEMPTIONS) == D("-95.00")


def test_a_price_on_the_sale_line_scales_the_unit_values(tmp_path: Path) -> None:
    # SPEC 4.3: sold for 50.00 on the line, the item group is worth 100.00 x 50/100 = 50.00:
    # 16.67, 16.67, 16.66. No unit is owed at 0.00; the liability never goes negative.
    books = books_of(tmp_path, [sale("s1", 1, "K1", price="50.00"),
                                pay("p1", 1, "K1", "50.00"),
                                redeem("r1", 2, "K1"), redeem("r2", 3, "K1"),
                                redeem("r3", 4, "K1")])
    build_in_memory(books)
    assert values(books) == [D("16.67"), D("16.67"), D("16.66")]
    assert bal(books, DEFERRED) == D("0.00")
    assert bal(books, REDEMPTIONS) == D("-50.00")


def test_proportional_recognition_by_relative_standalone_selling_price(tmp_path: Path) -> None:
    # spa: price 200.00, IR 10% = 20.00 -> 180.00 allocated by list price x units:
    #   massage 2 x 80 = 160; facial 1 x 60 = 60; candle (free in the package, list 20) = 20;
    #   "*" (no list price: its package price) = 20; consult ("varies": package price) = 10;
    #   nails (no price: package price) = 30. Sum 300.
    # 18000 cents x w / 300: massage 9600 (48.00 a unit), facial 3600, candle 1200,
    #   * 1200, consult 600, nails 1800 -- exact.
    books = books_of(tmp_path, [
        sale("s1", 1, "K1", package="spa"), pay("p1", 1, "K1", "200.00"),
        redeem("r1", 2, "K1", item="massage"),
        redeem("r2", 2, "K1", item="facial"),
        redeem("r3", 2, "K1", item="candle"),
        redeem("r4", 2, "K1", item="haircut"),  # served by "*"
        redeem("r5", 2, "K1", item="consult"),
        redeem("r6", 2, "K1", item="nails"),
        redeem("r7", 3, "K1", item="massage"),  # the last unit
    ], recognition="proportional")
    build_in_memory(books)
    assert bal(books, "Income:Loc11:Packages:InitialRecognition") == D("-20.00")
    assert bal(books, DEFERRED, datetime.date(2026, 1, 1)) == D("-180.00")
    assert values(books) == [D("48.00"), D("36.00"), D("12.00"), D("12.00"), D("6.00"),
                             D("18.00"), D("48.00")]
    assert bal(books, DEFERRED) == D("0.00")


def test_proportional_recognition_largest_remainder(tmp_path: Path) -> None:
    # trio: 100.00, one massage (list 80), one facial (list 60), one nails (no list price:
    # package price 30). Weights 80 : 60 : 30 (170). 10000 cents: 4705.88, 3529.41, 1764.71;
    # floors 9998, two cents to the largest remainders (.88 massage, .71 nails):
    # massage 47.06, facial 35.29, nails 17.65. The massage goes first so it is not the last.
    books = books_of(tmp_path, [
        sale("s1", 1, "K1", package="trio"), pay("p1", 1, "K1", "100.00"),
        redeem("r1", 2, "K1", item="massage"),
        redeem("r2", 2, "K1", item="facial"),
        redeem("r3", 3, "K1", item="nails"),
    ], recognition="proportional")
    build_in_memory(books)
    assert values(books) == [D("47.06"), D("35.29"), D("17.65")]


def test_item_price_recognition_ignores_list_prices(tmp_path: Path) -> None:
    # The spa package under item_price: a unit is its group price / quantity: massage
    # 120 / 2 = 60.00, facial 60.00, candle 0.00, "*" 20.00, consult 10.00, nails 30.00.
    # 180.00 is deferred: after 60 + 60 + 0 + 20 + 10 = 150.00, nails takes 30.00 and the
    # last massage finds 0.00 left (the cap).
    books = books_of(tmp_path, [
        sale("s1", 1, "K1", package="spa"), pay("p1", 1, "K1", "200.00"),
        redeem("r1", 2, "K1", item="massage"),
        redeem("r2", 2, "K1", item="facial"),
        redeem("r3", 2, "K1", item="candle"),
        redeem("r4", 2, "K1", item="haircut"),
        redeem("r5", 2, "K1", item="consult"),
        redeem("r6", 2, "K1", item="nails"),
        redeem("r7", 3, "K1", item="massage"),
    ])
    build_in_memory(books)
    assert values(books) == [D("60.00"), D("60.00"), D("0.00"), D("20.00"), D("10.00"),
                             D("30.00"), D("0.00")]
    assert bal(books, DEFERRED) == D("0.00")


def test_proportional_allocation_is_over_units(tmp_path: Path) -> None:
    # 9999 cents over unit weights 10, 10, 10, 20 (sum 50): 1999.8 x 3 and 3999.6;
    # floors 9996, three cents left to the three largest remainders (.8): 2000 x 3, 3999.
    books = books_of(tmp_path, [
        sale("s1", 1, "K1", package="ab"), pay("p1", 1, "K1", "99.99"),
        redeem("r1", 2, "K1", item="trim"), redeem("r2", 2, "K1", item="trim"),
        redeem("r3", 2, "K1", item="trim"), redeem("r4", 3, "K1", item="color"),
    ], recognition="proportional")
    build_in_memory(books)
    assert values(books) == [D("20.00"), D("20.00"), D("20.00"), D("39.99")]


def test_a_discount_scales_every_item_group_by_largest_remainder() -> None:
    # SPEC 4.3 (item_price): P-3 (facial 15.00 + haircut 85.00 for 100.00, initial recognition
    # 5.00) sold at 80.00: facial 15 x 80/100 = 12.00, haircut 85 x 80/100 = 68.00 (sum 80.00).
    config = config_text(P3)
    sold = {"type": "sale", "id": "s1", "date": d(1), "location": "loc-11", "invoice": "I1",
            "customer": "cust-1", "lines": [{"package": "P-3", "instance": "K1",
                                             "price": "80.00"}]}
    history = [sold, {"type": "payment", "id": "p1", "date": d(1), "location": "loc-11",
                      "invoice": "I1", "amount": "80.00", "method": "card"}]
    facial = {"type": "redemption", "id": "r1", "date": d(2), "location": "loc-11",
              "instance": "K1", "item": "facial"}
    assert_ledger(ledger_text(config, history, facial), """
        2026-01-02 * "Redemption of 1 facial from K1 at loc-11" ^K1
          event: "r1"
          kind: "redemption"
          location: "loc-11"
          customer: "cust-1"
          instance: "K1"
          package: "P-3"
          item: "facial"
          quantity: "1"
          Liabilities:Loc11:Packages:Deferred   12.00 USD
          Income:Loc11:Packages:Redemptions    -12.00 USD
    """)


def test_an_unlisted_service_keeps_the_item_performed_and_the_line_drawn_from() -> None:
    config = config_text(CATALOG)
    history = [sale("s1", 1, "K1", package="any-mix"), pay("p1", 1, "K1", "100.00")]
    text = ledger_text(config, history, redeem("r1", 2, "K1", item="massage"))
    assert '  item: "massage"\n  line: "*"\n' in text
