"""SPEC 2a: dated changes to packages, items and a location's entity.

A package keeps the terms in effect on its sale date for its whole life; a
location's entity on an event's date decides reconciliation for that event.
Changes are checked when the file is loaded, like every other key (SPEC 2).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from books import (
    bal,
    build_ok,
    config_text,
    pay,
    problems_of,
    redeem,
    sale,
    txns,
    write_books,
)
from hypothesis import given
from hypothesis import strategies as st

from pkgbooks.config import Versions, load_config
from pkgbooks.errors import Failed

D = Decimal
day = datetime.date

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[items.massage]
name = "Massage"
category = "service"
price = "60.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
validity_days = 90
grace_days = 30
initial_recognition = "5.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.duo]
name = "Haircut and massage"
price = "100.00"
items = [ { item = "haircut", quantity = 1, price = "50.00" },
          { item = "massage", quantity = 1, price = "50.00" } ]
"""

LATE_PRICE = """
[[packages.cuts-3.changes]]
from = 2026-01-10
price = "120.00"
validity_days = 30
items = [ { item = "haircut", quantity = 3, price = "120.00" } ]
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "pkgbooks.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Failed) as caught:
        load_config(path)
    return [str(e) for e in caught.value.errors]


# --- the terms as of a date -------------------------------------------------------------


def test_package_terms_as_of_a_date(tmp_path: Path) -> None:
    path = tmp_path / "pkgbooks.toml"
    path.write_text(config_text(CATALOG + LATE_PRICE + """
[[packages.cuts-3.changes]]
from = 2026-03-01
tax_rate = "0.20"
"""), encoding="utf-8")
    cfg = load_config(path)
    before = cfg.package_on("cuts-3", day(2026, 1, 9))
    assert (before.price, before.validity_days, before.tax_rate) == (D("100.00"), 90, D("0.10"))
    on = cfg.package_on("cuts-3", day(2026, 1, 10))  # `from` is the first day of the new terms
    assert (on.price, on.validity_days, on.tax_rate) == (D("120.00"), 30, D("0.10"))
    assert on.items[0].price == D("120.00")
    assert on.grace_days == 30 and on.initial_recognition == "5.00"  # not changed: kept
    later = cfg.package_on("cuts-3", day(2026, 3, 1))  # each change builds on the one before
    assert (later.price, later.tax_rate) == (D("120.00"), D("0.20"))
    assert cfg.packages["cuts-3"].price == D("100.00")  # the first terms stay as written


def test_item_price_and_location_entity_as_of_a_date(tmp_path: Path) -> None:
    path = tmp_path / "pkgbooks.toml"
    path.write_text(config_text(CATALOG + """
[[items.haircut.changes]]
from = 2026-07-01
price = "45.00"

[[locations.loc-21.changes]]
from = 2026-06-01
entity = "franchise-1"
"""), encoding="utf-8")
    cfg = load_config(path)
    assert cfg.item_on("haircut", day(2026, 6, 30)).list_price == D("40.00")
    assert cfg.item_on("haircut", day(2026, 7, 1)).list_price == D("45.00")
    assert cfg.item_on("massage", day(2026, 7, 1)).list_price == D("60.00")
    assert cfg.entity_on("loc-21", day(2026, 5, 31)) == "franchise-2"
    assert cfg.entity_on("loc-21", day(2026, 6, 1)) == "franchise-1"
    assert cfg.entity_on("loc-11", day(2026, 6, 1)) == "franchise-1"


@given(
    base=st.integers(0, 1000),
    changes=st.lists(st.tuples(st.dates(day(2020, 1, 1), day(2030, 12, 31)),
                               st.integers(0, 1000)), max_size=6),
    when=st.dates(day(2019, 1, 1), day(2031, 12, 31)),
)
def test_the_terms_on_a_date_are_those_of_the_last_change_from_on_or_before_it(
    base: int, changes: list[tuple[datetime.date, int]], when: datetime.date
) -> None:
    """Property: a lookup gives the last change dated on or before the date, else the base."""
    by_date = dict(sorted(changes))
    versions = Versions([datetime.date.min, *by_date], [base, *by_date.values()])
    expected = base
    for since, value in by_date.items():
        if since <= when:
            expected = value
    assert versions.on(when) == expected


# --- checked at load ----------------------------------------------------------------------


def test_changes_out_of_date_order_are_refused(tmp_path: Path) -> None:
    lines = problems(tmp_path, config_text(CATALOG + """
[[packages.cuts-3.changes]]
from = 2026-07-01
price = "120.00"

[[packages.cuts-3.changes]]
from = 2026-06-01
price = "110.00"
"""))
    assert len(lines) == 1
    assert lines[0].endswith(
        "pkgbooks.toml: packages.cuts-3.changes: changes must be listed in date order, one "
        "per date: 2026-06-01 comes after 2026-07-01")


def test_a_change_must_set_something_and_only_known_keys(tmp_path: Path) -> None:
    lines = problems(tmp_path, config_text(CATALOG + """
[[packages.cuts-3.changes]]
from = 2026-07-01

[[items.haircut.changes]]
from = 2026-07-01
category = "product"

[[locations.loc-21.changes]]
entity = "franchise-1"
"""))
    text = "\n".join(lines)
    assert "packages.cuts-3.changes: the change from 2026-07-01 sets nothing" in text
    assert "items.haircut.changes[0].category: 'product': unknown key" in text
    assert "locations.loc-21.changes[0].from: missing" in text
    assert "Extra inputs" not in text and "Field required" not in text


def test_references_in_a_change_are_checked(tmp_path: Path) -> None:
    lines = problems(tmp_path, config_text(CATALOG + """
[packages.cuts-3.location_prices.loc-21]
haircut = "90.00"

[[packages.cuts-3.changes]]
from = 2026-07-01
items = [ { item = "massage", quantity = 2, price = "120.00" },
          { item = "pedicure", quantity = 1, price = "30.00" } ]

[[packages.duo.changes]]
from = 2026-07-01
location_prices = { loc-99 = { haircut = "45.00" } }
"""))
    text = "\n".join(lines)
    assert "packages.cuts-3.changes[0].items[1].item: 'pedicure': unknown item" in text
    # The location price kept from before names an item the new contents no longer have.
    assert ("packages.cuts-3.location_prices.loc-21.haircut: 'haircut': not an item of this "
            "package from 2026-07-01") in text
    assert "packages.duo.changes[0].location_prices.loc-99: 'loc-99': unknown location" in text
    assert len(lines) == 3


def test_a_bad_value_in_a_change_is_named_by_its_key(tmp_path: Path) -> None:
    lines = problems(tmp_path, config_text(CATALOG + """
[[packages.cuts-3.changes]]
from = 2026-07-01
tax_rate = "1.5"
validity_days = -1
"""))
    text = "\n".join(lines)
    assert "packages.cuts-3.changes[0].tax_rate: '1.5': rate must be between 0 and 1" in text
    assert "packages.cuts-3.changes[0].validity_days: -1: must be at least 0" in text


def test_locked_through_must_be_a_date(tmp_path: Path) -> None:
    lines = problems(tmp_path, 'locked_through = "March"\n' + config_text(CATALOG))
    assert lines == [f"{tmp_path / 'pkgbooks.toml'}: locked_through: 'March': "
                     "must be a date YYYY-MM-DD"]


# --- worked examples: the rules read the terms of the date ----------------------------


def test_late_price_change_applies_to_sales_from_its_date_only(tmp_path: Path) -> None:
    """cuts-3 is 100.00 + 10% tax until 2026-01-09 and 120.00 from 2026-01-10.

    K1 (sold 01-05) keeps 100.00 for its whole life, even when redeemed after the
    change: gross 110.00, a haircut worth 100/3 -> 33.34 (the first unit takes the
    extra cent). K2 (sold 01-10) costs 120.00 + 12.00 tax = 132.00, deferred
    132 - 12 - 5 = 115.00, a haircut worth 40.00, and expires after 30 + 30 days.
    """
    books = write_books(tmp_path / "b", config_text(CATALOG + LATE_PRICE), [
        sale("s1", 5, "K1"), pay("p1", 5, "K1", "110.00"),
        sale("s2", 10, "K2"), pay("p2", 10, "K2", "132.00"),
        redeem("r1", 20, "K1"), redeem("r2", 20, "K2"),
    ])
    build_ok(books, day(2026, 3, 11))
    records = {t.meta["instance"]: t.meta for t in txns(books, "sale")}
    assert (records["K1"]["price"], records["K1"]["tax"]) == ("100.00", "10.00")
    assert (records["K2"]["price"], records["K2"]["tax"]) == ("120.00", "12.00")
    assert bal(books, "Liabilities:Loc11:SalesTax") == D("-22.00")
    assert bal(books, "Income:Loc11:Packages:InitialRecognition") == D("-10.00")
    values = {t.meta["instance"]: t.postings[0].units.number for t in txns(books, "redemption")}
    assert values == {"K1": D("33.34"), "K2": D("40.00")}
    # K2's validity is 30 days from 01-10 plus 30 of grace: it expires on 2026-03-11.
    (expiry,) = txns(books, "expiry")
    assert (expiry.meta["instance"], expiry.date) == ("K2", day(2026, 3, 11))
    assert bal(books, "Income:Loc11:Packages:Breakage") == D("-75.00")  # 115.00 - 40.00


def test_a_later_payment_on_an_earlier_sale_keeps_its_price(tmp_path: Path) -> None:
    """K1 sold at 100.00 + tax before the change: 132.00 is more than its 110.00 total."""
    books = write_books(tmp_path / "b", config_text(CATALOG + LATE_PRICE), [
        sale("s1", 5, "K1"), pay("p1", 12, "K1", "132.00"),
    ])
    (line,) = problems_of(books)
    assert "p1" in line and "110.00" in line


def test_item_list_price_change_applies_to_proportional_allocation_at_sale(
    tmp_path: Path,
) -> None:
    """duo: 100.00 over a haircut and a massage in proportion to their list prices.

    Sold 01-05 (haircut 40, massage 60): the haircut is worth 100 x 40/100 = 40.00.
    Sold 01-10, after the haircut's list price became 90: 100 x 90/150 = 60.00.
    """
    books = write_books(tmp_path / "b", config_text(CATALOG + """
[[items.haircut.changes]]
from = 2026-01-10
price = "90.00"
""", recognition="proportional"), [
        sale("s1", 5, "K1", "duo"), pay("p1", 5, "K1", "100.00"),
        sale("s2", 10, "K2", "duo"), pay("p2", 10, "K2", "100.00"),
        redeem("r1", 20, "K1"), redeem("r2", 20, "K2"),
    ])
    build_ok(books)
    values = {t.meta["instance"]: t.postings[0].units.number for t in txns(books, "redemption")}
    assert values == {"K1": D("40.00"), "K2": D("60.00")}


RECONCILED = """
[reconciliation]
start = 2026-01-01
rates = { service = "0.05", product = "0.30", class = "0.20" }

[[locations.loc-21.changes]]
from = 2026-02-01
entity = "franchise-1"
"""


def test_a_location_changing_franchise_changes_reconciliation_from_that_date(
    tmp_path: Path,
) -> None:
    """K1 (cuts-3 at loc-11, franchise-1; unit price 100/3 = 33.33) is used at loc-21.

    On 01-20 loc-21 is franchise-2's: loc-11 owes it round(33.33 x 0.05) = 1.67.
    From 02-01 loc-21 belongs to franchise-1: a haircut there on 02-05 is within
    one entity and owes nothing.
    """
    def at_21(eid: str, when: str) -> dict[str, object]:
        return {**redeem(eid, 1, "K1"), "date": when, "location": "loc-21"}

    books = write_books(tmp_path / "b", config_text(CATALOG + RECONCILED), [
        sale("s1", 5, "K1"), pay("p1", 5, "K1", "110.00"),
        at_21("r1", "2026-01-20"), at_21("r2", "2026-02-05"),
    ])
    build_ok(books)
    recs = txns(books, "reconciliation")
    assert {t.meta["event"] for t in recs} == {"r1"}
    assert bal(books, "Assets:Loc21:DueFrom:Loc11") == D("1.67")
    assert bal(books, "Liabilities:Loc11:DueTo:Loc21") == D("-1.67")
    assert bal(books, "Expenses:Loc11:Reconciliation") == D("1.67")
