"""Reports under dated changes (SPEC 2a): a package's terms of its sale date, the list
price and the franchise of the report's dates."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from books import build_ok, config_text, pay, redeem, sale, write_books
from click.testing import CliRunner

from pkgbooks.cli import main

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[[items.haircut.changes]]
from = 2026-02-01
price = "50.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[[packages.cuts-3.changes]]
from = 2026-02-01
price = "120.00"
items = [ { item = "haircut", quantity = 4, price = "120.00" } ]

[reconciliation]
start = 2026-01-01
rates = { service = "0.05", product = "0.30", class = "0.20" }

[[locations.loc-12.changes]]
from = 2026-02-01
entity = "franchise-2"
"""


def report(books: Path, name: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["report", name, str(books), *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def books_of(tmp_path: Path) -> Path:
    """K1 sold on 01-05 (three haircuts for 100.00), K2 on 02-10 (four for 120.00), both
    at loc-11 (franchise-1) and paid in full; K1 used once at loc-11 on 01-06 and once at
    loc-12 on 02-05, when loc-12 already belongs to franchise-2."""
    at_12 = {**redeem("r2", 5, "K1"), "date": "2026-02-05", "location": "loc-12"}
    k2_sale = {**sale("s2", 10, "K2"), "date": "2026-02-10"}
    k2_pay = {**pay("p2", 10, "K2", "120.00"), "date": "2026-02-10"}
    last = {**redeem("r3", 1, "K2"), "date": "2026-02-28"}
    books = write_books(tmp_path / "b", config_text(CATALOG), [
        sale("s1", 5, "K1"), pay("p1", 5, "K1", "100.00"), redeem("r1", 6, "K1"),
        at_12, k2_sale, k2_pay, last,
    ])
    build_ok(books)
    return books


def test_customers_show_the_terms_of_the_sale_date_and_the_list_price_at_to(
    tmp_path: Path,
) -> None:
    """K1 keeps three haircuts (2 used, 1 left); K2 has four (1 used, 3 left).

    Outstanding value at the list price of 02-28, 50.00: K1 1 x 50 = 50.00,
    K2 3 x 50 = 150.00. 100.00 over three units by largest remainder is 33.34, 33.33,
    33.33 (the tie's cent to the first unit), so K1 has 100 - 33.34 - 33.33 = 33.33
    left; K2 120 - 30 = 90.00.
    """
    doc = report(books_of(tmp_path), "customers", "--to", "2026-02-28")
    rows = {r["instance"]: r for r in doc["rows"]}
    assert (rows["K1"]["used"], rows["K1"]["available"]) == (2, 1)
    assert (rows["K2"]["used"], rows["K2"]["available"]) == (1, 3)
    assert rows["K1"]["outstanding_value"] == "50.00"
    assert rows["K2"]["outstanding_value"] == "150.00"
    assert rows["K1"]["package_liability"] == "33.33"
    assert rows["K2"]["package_liability"] == "90.00"


def test_customers_before_the_list_price_change_use_the_price_then(tmp_path: Path) -> None:
    """On 01-31 K1 has 2 haircuts left at the list price of then, 40.00: 80.00."""
    doc = report(books_of(tmp_path), "customers", "--to", "2026-01-31")
    (row,) = doc["rows"]
    assert (row["instance"], row["available"], row["outstanding_value"]) == ("K1", 2, "80.00")


def test_reconciliation_between_entities_is_that_of_the_redemption_date(tmp_path: Path) -> None:
    """On 02-05 loc-12 is franchise-2's: franchise-1 owes it round(33.33 x 0.05) = 1.67."""
    doc = report(books_of(tmp_path), "reconciliation", "--from", "2026-01-01",
                 "--to", "2026-02-28")
    assert [r["event"] for r in doc["rows"]] == ["r2"]
    assert doc["totals_by_entity"] == [
        {"source": "franchise-1", "destination": "franchise-2", "amount": "1.67"}]


def test_entity_filter_and_subtotals_follow_the_franchise_at_to(tmp_path: Path) -> None:
    """At 02-28 franchise-2 holds loc-12 and loc-21; at 01-31 only loc-21."""
    books = books_of(tmp_path)
    feb = report(books, "liability", "--from", "2026-02-01", "--to", "2026-02-28",
                 "--entity", "franchise-2")
    assert [r["location"] for r in feb["rows"]] == ["loc-12", "loc-21"]
    jan = report(books, "liability", "--from", "2026-01-01", "--to", "2026-01-31",
                 "--entity", "franchise-2")
    assert [r["location"] for r in jan["rows"]] == ["loc-21"]
    whole = report(books, "liability", "--from", "2026-02-01", "--to", "2026-02-28")
    assert set(whole["totals_by_entity"]) == {"franchise-1", "franchise-2"}
