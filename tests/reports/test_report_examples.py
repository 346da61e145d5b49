"""SPEC 8 worked examples asserted through `pkgbooks report ... --format json`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from books import build_ok, config_text, d, write_books
from click.testing import CliRunner
from spec_examples import P1, P3, P4, P5

from pkgbooks.cli import main


def report(books: Path, name: str, start: str, end: str, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(
        main, ["report", name, str(books), "--from", start, "--to", end, "--format", "json",
               *extra])
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
    build_ok(books)
    assert [closing(books, day, "payment") for day in (1, 2, 3)] == ["20.00", "50.00", "100.00"]
    assert [closing(books, day, "sale") for day in (1, 2, 3)] == ["0.00", "0.00", "100.00"]
    data = report(books, "liability", d(2), d(3))
    assert row(data) == {"location": "loc-11", "opening": "20.00", "sales": "80.00",
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
    build_ok(books)
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
    build_ok(books)
    data = report(books, "liability", d(3), d(10))
    assert row(data)["opening"] == "10.00"
    first_days = report(books, "liability", d(1), d(2))
    assert row(first_days)["sales"] == "25.00"  # 30.00 paid less 5.00 initial recognition
    assert row(first_days)["redemptions"] == "15.00"
    books = write_books(tmp_path / "b", config_text(P3, redeem_open=True), [
        sale(1, "P-3"), pay("p-1", 1, "100.00"), redeem("r-1", 2, "facial"),
    ])
    build_ok(books)
    assert row(report(books, "liability", d(3), d(10), "--basis", "sale"))["opening"] == "80.00"




def test_4_reconciliation(tmp_path: Path) -> None:
    events = [sale(1, "P-4"), pay("p-1", 1, "140.00"), redeem("r-1", 10, "massage", "loc-21"),
              redeem("r-2", 10, "oil", "loc-21"), redeem("r-3", 10, "yoga", "loc-21")]
    books = write_books(tmp_path / "a", config_text(P4.format(start="2026-01-05")), events)
    build_ok(books)
    data = report(books, "reconciliation", d(1), d(31))
    assert [(r["item"], r["category"], r["unit_price"], r["quantity"], r["rate"], r["amount"])
            for r in data["rows"]] == [
        ("massage", "service", "70.00", 1, "0.05", "3.50"),
        ("oil", "product", "40.00", 1, "0.30", "12.00"),
        ("yoga", "class", "30.00", 1, "0.20", "6.00"),
    ]
    assert {(r["source"], r["destination"]) for r in data["rows"]} == {("loc-11", "loc-21")}
    assert data["totals"]["net_due"] == [
        {"source": "loc-11", "destination": "loc-21", "amount": "21.50"}]
    revenue = report(books, "revenue", d(1), d(31))
    assert row(revenue, "loc-21")["reconciliation"] == "21.50"
    assert row(revenue, "loc-11")["redemptions"] == "140.00"
    books = write_books(tmp_path / "b", config_text(P4.format(start="2026-01-11")), events)
    build_ok(books)
    late = report(books, "reconciliation", d(1), d(31))
    assert late["rows"] == [] and late["totals"]["net_due"] == []




def test_5_grace_period(tmp_path: Path) -> None:
    books = write_books(tmp_path, config_text(P5), [
        sale(1, "cuts-3"), pay("p-1", 1, "100.00"), redeem("r-1", 10, "haircut"),
        redeem("r-2", 20, "haircut"),
        {**redeem("r-3", 1, "haircut"), "date": "2026-04-11"},  # day 100: in the grace period
    ])
    build_ok(books)
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
        build_ok(books)
        return list(report(books, "customers", d(1), d(31))["rows"])

    [massages] = customers("80.00", "massage-5")
    assert (massages["used"], massages["available"], massages["outstanding_value"]) == (
        2, 3, "240.00")
    assert massages["package_liability"] == "210.00"
    [varies] = customers("varies", "massage-5")
    assert varies["available"] == 3 and varies["outstanding_value"] == "-"
    [anything] = customers("80.00", "any-5")
    assert (anything["item"], anything["available"], anything["outstanding_value"]) == (
        "*", 3, "-")
