"""SPEC 8 worked examples asserted through `pkgbooks report ... --format json`."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from books import build_ok, config_text, d, write_books
from click.testing import CliRunner
from spec_examples import P1, P3, P4, P5

from pkgbooks.cli import main

# The books run to the end of the year, so that reports may look past the last event.
AS_OF = datetime.date(2026, 12, 31)


def report(books: Path, name: str, start: str, end: str, *extra: str) -> dict[str, Any]:
    """The JSON of `pkgbooks report` (an empty `start`: no --from, for the as-of reports)."""
    period = ["--from", start] if start else []
    result = CliRunner().invoke(
        main, ["report", name, str(books), *period, "--to", end, "--format", "json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def row(data: dict[str, Any], location: str = "loc-11") -> dict[str, Any]:
    return next(r for r in data["rows"] if r["location"] == location)


def sale(day: int, package: str = "P-1", instance: str = "PK-1") -> dict[str, Any]:
    return {"type": "sale", "id": f"s-{instance}", "date": d(day), "location": "loc-11",
            "invoice": f"INV-{instance}", "customer": "cust-1", "staff": "ana",
            "lines": [{"package": package, "instance": instance}]}


def pay(event_id: str, day: int, amount: str, invoice: str = "INV-PK-1") -> dict[str, Any]:
    return {"type": "payment", "id": event_id, "date": d(day), "location": "loc-11",
            "invoice": invoice, "amount": amount, "method": "card"}


def redeem(event_id: str, day: int, item: str, loc: str = "loc-11") -> dict[str, Any]:
    return {"type": "redemption", "id": event_id, "date": d(day), "location": loc,
            "instance": "PK-1", "item": item, "staff": "bo"}


def closing(books: Path, day: int, basis: str) -> str:
    data = report(books, "liability", d(1), d(day), "--basis", basis)
    assert data["basis"] == basis
    return str(row(data)["closing"])


def test_1_partial_payments(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P1, redeem_open=True), [
        sale(1), pay("p-1", 1, "20.00"), pay("p-2", 2, "30.00"), pay("p-3", 3, "50.00"),
    ])
    build_ok(books, AS_OF)
    assert [closing(books, day, "payment") for day in (1, 2, 3)] == ["20.00", "50.00", "100.00"]
    assert [closing(books, day, "sale") for day in (1, 2, 3)] == ["0.00", "0.00", "100.00"]
    data = report(books, "liability", d(2), d(3))
    assert row(data) == {"location": "loc-11", "location_name": "Franchise 1 - Location 1.1",
                         "opening": "20.00", "sales": "80.00",
                         "redemptions": "0.00", "expirations": "0.00", "refunds": "0.00",
                         "closing": "100.00"}
    # One row for every configured location, in configuration order, even all zero.
    assert [r["location"] for r in data["rows"]] == ["loc-11", "loc-12", "loc-21"]
    assert row(data, "loc-21")["closing"] == "0.00"
    assert data["totals"]["closing"] == "100.00"
    assert (data["report"], data["from"], data["to"], data["currency"]) == (
        "liability", d(2), d(3), "USD")


def test_2_sale_basis_late_close(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P1), [
        sale(1), pay("p-1", 1, "30.00"), pay("p-2", 5, "70.00"),
    ])
    build_ok(books, AS_OF)
    assert [closing(books, day, "sale") for day in (1, 2, 3, 4, 5, 6)] == (
        ["0.00"] * 4 + ["100.00"] * 2)
    assert [closing(books, day, "payment") for day in (1, 4, 5)] == ["30.00", "30.00", "100.00"]
    sale_basis = report(books, "liability", d(5), d(5), "--basis", "sale")
    assert row(sale_basis)["sales"] == "100.00"


def test_sale_basis_counts_what_was_redeemed_while_open_on_the_close_date(
    tmp_path: Path,
) -> None:
    # SPEC 5.1: P-3 (100.00, initial recognition 5.00), 30.00 paid on day 1, the facial
    # (15.00) redeemed on day 2 while the invoice is open, 70.00 paid on day 5. Sale basis:
    # nothing until day 5; then sales 95.00 (price less initial recognition) and
    # redemptions 15.00, closing 80.00. The payment basis shows the redemption on day 2.
    books = write_books(tmp_path, config_text(P3, redeem_open=True), [
        sale(1, "P-3"), pay("p-1", 1, "30.00"), redeem("r-1", 2, "facial"),
        pay("p-2", 5, "70.00"),
    ])
    build_ok(books)
    before = row(report(books, "liability", d(1), d(4), "--basis", "sale"))
    assert (before["sales"], before["redemptions"], before["closing"]) == (
        "0.00", "0.00", "0.00")
    close = row(report(books, "liability", d(5), d(5), "--basis", "sale"))
    assert (close["opening"], close["sales"], close["redemptions"], close["closing"]) == (
        "0.00", "95.00", "15.00", "80.00")
    payment = row(report(books, "liability", d(1), d(5)))
    assert (payment["sales"], payment["redemptions"], payment["closing"]) == (
        "95.00", "15.00", "80.00")
    day_2 = row(report(books, "liability", d(2), d(2)))
    assert day_2["redemptions"] == "15.00"




def test_3_opening_balance(tmp_path: Path) -> None:
    books = write_books(tmp_path / "a", config_text(P3, redeem_open=True), [
        sale(1, "P-3"), pay("p-1", 1, "30.00"), redeem("r-1", 2, "facial"),
    ])
    build_ok(books, AS_OF)
    data = report(books, "liability", d(3), d(10))
    assert row(data)["opening"] == "10.00"
    first_days = report(books, "liability", d(1), d(2))
    assert row(first_days)["sales"] == "25.00"  # 30.00 paid less 5.00 initial recognition
    assert row(first_days)["redemptions"] == "15.00"
    books = write_books(tmp_path / "b", config_text(P3, redeem_open=True), [
        sale(1, "P-3"), pay("p-1", 1, "100.00"), redeem("r-1", 2, "facial"),
    ])
    build_ok(books, AS_OF)
    assert row(report(books, "liability", d(3), d(10), "--basis", "sale"))["opening"] == "80.00"




def test_4_reconciliation(tmp_path: Path) -> None:
    events = [sale(1, "P-4"), pay("p-1", 1, "140.00"), redeem("r-1", 10, "massage", "loc-21"),
              redeem("r-2", 10, "oil", "loc-21"), redeem("r-3", 10, "yoga", "loc-21")]
    books = write_books(tmp_path / "a", config_text(P4.format(start="2026-01-05")), events)
    build_ok(books, AS_OF)
    data = report(books, "reconciliation", d(1), d(31))
    assert [(r["item"], r["category"], r["unit_price"], r["quantity"], r["rate"], r["amount"])
            for r in data["rows"]] == [
        ("massage", "service", "70.00", 1, "0.05", "3.50"),
        ("oil", "product", "40.00", 1, "0.30", "12.00"),
        ("yoga", "class", "30.00", 1, "0.20", "6.00"),
    ]
    assert {(r["source"], r["destination"]) for r in data["rows"]} == {("loc-11", "loc-21")}
    assert {(r["customer"], r["staff"]) for r in data["rows"]} == {("cust-1", "bo")}
    assert data["totals"]["net_due"] == [
        {"source": "loc-11", "destination": "loc-21", "amount": "21.50"}]
    assert data["totals"]["amount"] == "21.50"
    # What franchise 1 settles with franchise 2.
    assert data["totals_by_entity"] == [
        {"source": "franchise-1", "destination": "franchise-2", "amount": "21.50"}]
    csv_text = CliRunner().invoke(main, ["report", "reconciliation", str(books), "--from", d(1),
                                         "--to", d(31), "--format", "csv"]).output
    lines = csv_text.splitlines()
    assert lines[0].startswith("date,event,instance,customer,staff,source,destination,item")
    assert lines[4].startswith("total,") and lines[4].endswith(",21.50")
    assert "net due by entity" in lines
    assert lines[-1] == "franchise-1,franchise-2,21.50"
    revenue = report(books, "revenue", d(1), d(31))
    assert row(revenue, "loc-21")["reconciliation"] == "21.50"
    assert row(revenue, "loc-11")["redemptions"] == "140.00"
    # The source pays 21.50 for work done elsewhere: its net is 140.00 - 21.50.
    assert (row(revenue, "loc-11")["reconciliation_expense"], row(revenue, "loc-11")["net"]) == (
        "21.50", "118.50")
    assert row(revenue, "loc-21")["net"] == "21.50"
    assert revenue["totals"]["net"] == "140.00"  # intercompany nets out of the group
    assert revenue["totals_by_entity"]["franchise-2"]["net"] == "21.50"
    only = report(books, "reconciliation", d(1), d(31), "--location", "loc-12")
    assert only["rows"] == [] and only["totals_by_entity"] == []
    books = write_books(tmp_path / "b", config_text(P4.format(start="2026-01-11")), events)
    build_ok(books, AS_OF)
    late = report(books, "reconciliation", d(1), d(31))
    assert late["rows"] == [] and late["totals"]["net_due"] == []




def test_5_grace_period(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P5), [
        sale(1, "cuts-3"), pay("p-1", 1, "100.00"), redeem("r-1", 10, "haircut"),
        redeem("r-2", 20, "haircut"),
        {**redeem("r-3", 1, "haircut"), "date": "2026-04-11"},  # day 100: in the grace period
    ])
    build_ok(books, AS_OF)
    data = report(books, "liability", d(1), "2026-12-31")
    assert row(data)["closing"] == "0.00"
    assert row(data)["redemptions"] == "100.00" and row(data)["expirations"] == "0.00"
    assert row(report(books, "revenue", d(1), "2026-12-31"))["breakage"] == "0.00"


P6 = """
[items.massage]
name = "Massage"
category = "service"
price = "{price}"

[packages.massage-5]
name = "Five massages"
price = "350.00"
items = [ {{ item = "massage", quantity = 5, price = "350.00" }} ]

[packages.any-5]
name = "Any five services"
price = "300.00"
items = [ {{ item = "*", quantity = 5, price = "300.00" }} ]
"""


def test_6_outstanding_value(tmp_path: Path) -> None:
    def customers(price: str, package: str) -> list[dict[str, Any]]:
        books = write_books(tmp_path / f"{price}-{package}", config_text(P6.format(price=price)), [
            sale(1, package), pay("p-1", 1, "350.00" if package == "massage-5" else "300.00"),
            redeem("r-1", 2, "massage"), redeem("r-2", 3, "massage"),
        ])
        build_ok(books, AS_OF)
        return list(report(books, "customers", "", d(31))["rows"])

    [massages] = customers("80.00", "massage-5")
    assert (massages["used"], massages["available"], massages["outstanding_value"]) == (
        2, 3, "240.00")
    assert massages["package_liability"] == "210.00"
    [varies] = customers("varies", "massage-5")
    assert varies["available"] == 3 and varies["outstanding_value"] == "-"
    [anything] = customers("80.00", "any-5")
    assert (anything["item"], anything["available"], anything["outstanding_value"]) == (
        "*", 3, "-")


MIXED_UNITS = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[items.massage-time]
name = "Massage time"
category = "service"
price = "1.50"
unit = "minutes"

[packages.mix]
name = "Three haircuts and an hour of massage"
price = "190.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" },
          { item = "massage-time", quantity = 60, price = "90.00" } ]
"""


def test_units_are_never_added_across_visits_and_minutes(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(MIXED_UNITS), [
        sale(1, "mix"), pay("p-1", 1, "190.00"), redeem("r-1", 2, "haircut"),
        {**redeem("r-2", 3, "massage-time"), "quantity": 30},
    ])
    build_ok(books, AS_OF)
    data = report(books, "redemptions", d(1), d(31))
    # One haircut: 100.00 / 3, the first unit 33.34; 30 minutes at 90.00 / 60 = 45.00.
    assert sorted((r["unit"], r["units"], r["value"]) for r in data["rows"]) == [
        ("minutes", 30, "45.00"), ("visit", 1, "33.34")]
    assert data["totals"]["units"] == {"minutes": 30, "visit": 1}
    assert data["totals"]["value"] == "78.34"
    table = CliRunner().invoke(main, ["report", "redemptions", str(books), "--from", d(1),
                                      "--to", d(31)]).output.splitlines()
    assert [line.split()[:2] for line in table[-3:]] == [
        ["total", "minutes"], ["total", "visit"], ["total", "78.34"]]
    customers = report(books, "customers", "", d(31))
    assert [(r["item"], r["unit"], r["used"], r["available"], r["outstanding_value"])
            for r in customers["rows"]] == [
        ("haircut", "visit", 1, 2, "80.00"), ("massage-time", "minutes", 30, 30, "-")]
    assert customers["totals"]["available"] == {"minutes": 30, "visit": 2}
    # 190.00 less 78.34 redeemed, counted once for the instance.
    assert customers["totals"]["package_liability"] == "111.66"
    assert customers["rows"][0]["location"] == "loc-11"


def test_filters_and_entity_subtotals(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P1), [
        sale(1), pay("p-1", 1, "60.00"),
        {**sale(2, instance="PK-2"), "location": "loc-21"},
        {**pay("p-2", 2, "100.00", "INV-PK-2"), "location": "loc-21"},
    ])
    build_ok(books, AS_OF)
    data = report(books, "liability", d(1), d(31))
    assert data["as_of"] == AS_OF.isoformat()
    assert data["totals_by_entity"] == {
        "franchise-1": {"opening": "0.00", "sales": "60.00", "redemptions": "0.00",
                        "expirations": "0.00", "refunds": "0.00", "closing": "60.00"},
        "franchise-2": {"opening": "0.00", "sales": "100.00", "redemptions": "0.00",
                        "expirations": "0.00", "refunds": "0.00", "closing": "100.00"},
    }
    one = report(books, "liability", d(1), d(31), "--location", "loc-12", "--location", "loc-11")
    assert [r["location"] for r in one["rows"]] == ["loc-11", "loc-12"]  # configuration order
    assert one["totals"]["closing"] == "60.00"
    franchise = report(books, "liability", d(1), d(31), "--entity", "franchise-2")
    assert [r["location"] for r in franchise["rows"]] == ["loc-21"]
    assert list(franchise["totals_by_entity"]) == ["franchise-2"]
    both = report(books, "liability", d(1), d(31), "--entity", "franchise-1",
                  "--location", "loc-21")
    assert both["rows"] == [] and both["totals"]["closing"] == "0.00"
    activity = report(books, "activity", d(1), d(31), "--entity", "franchise-2")
    assert [r["instance"] for r in activity["rows"]] == ["PK-2"]
    csv_lines = CliRunner().invoke(main, ["report", "liability", str(books), "--from", d(1),
                                          "--to", d(31), "--format", "csv"]).output.splitlines()
    assert csv_lines[-1] == "total,,0.00,160.00,0.00,0.00,0.00,160.00"
