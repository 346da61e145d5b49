"""collections (5.7), invoices (5.8), expirations (5.9), and the fuller activity and revenue.

Every expected figure is worked out by hand from the SPEC in the comments
beside it (4.1 payment split, 4.4 expiry, 4.5 refund), not read from a run.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest
from books import bal, build_ok, config_text, d, write_books
from click.testing import CliRunner

from pkgbooks.cli import main

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
tax_rate = "0.10"
validity_days = 30
initial_recognition = "5.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""
END = "2026-01-31"


def sale(instance: str, day: int, loc: str, product: bool = False) -> dict[str, Any]:
    lines: list[dict[str, Any]] = [{"package": "cuts-3", "instance": instance}]
    if product:
        lines.append({"product": "shampoo", "amount": "20.00", "tax": "2.00"})
    return {"type": "sale", "id": f"s-{instance}", "date": d(day), "location": loc,
            "invoice": f"INV-{instance}", "customer": f"cust-{instance}", "staff": "ana",
            "lines": lines}


def pay(eid: str, instance: str, day: int, amount: str, loc: str, method: str) -> dict[str, Any]:
    return {"type": "payment", "id": eid, "date": d(day), "location": loc,
            "invoice": f"INV-{instance}", "amount": amount, "method": method}


def report(books: Path, name: str, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["report", name, str(books), *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def text(books: Path, name: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["report", name, str(books), *args])
    assert result.exit_code == 0, result.output
    return result.output


def refused(books: Path, name: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["report", name, str(books), *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three packages of cuts-3 (100.00 + 10% tax, 5.00 initial recognition, 30 days).

    PK-A at loc-11, on an invoice with a shampoo (20.00 + 2.00 tax): 132.00 in all.
      day 1: 50.00 cash at loc-11. Products first: 22.00 = 20.00 net + 2.00 tax; the
             28.00 left on the package: tax 28 x 10/110 = 2.545 -> 2.55, net 25.45,
             of which 5.00 initial recognition and 20.45 deposits.
      day 2: 82.00 card at loc-21 (another franchise) closes the invoice: tax left
             10.00 - 2.55 = 7.45, net 74.55 (initial recognition done): liability 95.00.
      day 3: refund 33.00 cash at loc-11: tax 33 x 10/110 = 3.00, net 30.00 from the
             liability; the 65.00 left is forfeited to breakage.
    PK-B at loc-12: day 1, 110.00 card at loc-12 (tax 10.00, IR 5.00, deferred 95.00);
      day 5 one haircut (100.00 / 3: the first unit 33.34); expires by itself on
      day 31 (sale + 30 days) with 95.00 - 33.34 = 61.66.
    PK-C at loc-11: day 1, 110.00 cash at loc-11 (tax 10.00, IR 5.00, 95.00); an
      `expiry` event on day 10 ends it early with 95.00.
    """
    path = tmp_path_factory.mktemp("money") / "books"
    write_books(path, config_text(CATALOG), [
        sale("PK-A", 1, "loc-11", product=True), sale("PK-B", 1, "loc-12"),
        sale("PK-C", 1, "loc-11"),
        pay("p-a1", "PK-A", 1, "50.00", "loc-11", "cash"),
        pay("p-b1", "PK-B", 1, "110.00", "loc-12", "card"),
        pay("p-c1", "PK-C", 1, "110.00", "loc-11", "cash"),
        pay("p-a2", "PK-A", 2, "82.00", "loc-21", "card"),
        {"type": "refund", "id": "f-a", "date": d(3), "location": "loc-11",
         "instance": "PK-A", "amount": "33.00", "method": "cash"},
        {"type": "redemption", "id": "r-b", "date": d(5), "location": "loc-12",
         "instance": "PK-B", "item": "haircut", "staff": "bo"},
        {"type": "expiry", "id": "x-c", "date": d(10), "instance": "PK-C"},
    ])
    build_ok(path, datetime.date(2026, 1, 31))
    return path


def money(row: dict[str, Any], *columns: str) -> tuple[str, ...]:
    return tuple(row[c] for c in columns)


SPLIT = ("packages", "initial_recognition", "products", "tax", "total")


def test_collections_where_the_money_was_taken(books: Path) -> None:
    data = report(books, "collections", "--from", d(1), "--to", END)
    rows = {(r["location"], r["method"], r["kind"]): r for r in data["rows"]}
    # loc-11 cash: PK-A's 50.00 (20.45 + 5.00 + 20.00 + 4.55) and PK-C's 110.00
    # (95.00 + 5.00 + 10.00 tax).
    assert money(rows[("loc-11", "cash", "payment")], *SPLIT) == (
        "115.45", "10.00", "20.00", "14.55", "160.00")
    assert money(rows[("loc-11", "cash", "refund")], *SPLIT) == (
        "-30.00", "0.00", "0.00", "-3.00", "-33.00")
    assert money(rows[("loc-12", "card", "payment")], *SPLIT) == (
        "95.00", "5.00", "0.00", "10.00", "110.00")
    # Taken at loc-21 for loc-11's package: counted where it was received.
    assert money(rows[("loc-21", "card", "payment")], *SPLIT) == (
        "74.55", "0.00", "0.00", "7.45", "82.00")
    assert rows[("loc-11", "card", "payment")]["total"] == "0.00"
    assert rows[("loc-11", "cash", "payment")]["location_name"] == "Franchise 1 - Location 1.1"
    assert money(data["totals"], *SPLIT) == ("255.00", "15.00", "20.00", "29.00", "319.00")
    assert data["totals_by_entity"]["franchise-1"]["total"] == "237.00"  # 160 - 33 + 110
    assert data["totals_by_entity"]["franchise-2"]["total"] == "82.00"
    # It ties to the cash accounts.
    assert bal(books, "Assets:Loc11:Cash:Cash") == 160 - 33
    assert bal(books, "Assets:Loc21:Cash:Card") == 82
    # Payments first, then refunds, per location in configuration order.
    assert [(r["location"], r["kind"]) for r in data["rows"]][:4] == [
        ("loc-11", "payment"), ("loc-11", "payment"), ("loc-11", "payment"),
        ("loc-11", "refund")]


def test_collections_filtered(books: Path) -> None:
    data = report(books, "collections", "--from", d(1), "--to", END, "--entity", "franchise-2")
    assert {r["location"] for r in data["rows"]} == {"loc-21"}
    assert data["totals"]["total"] == "82.00"
    assert set(data["totals_by_entity"]) == {"franchise-2"}
    day_two = report(books, "collections", "--from", d(2), "--to", d(2))
    assert day_two["totals"]["total"] == "82.00"


def test_expirations_every_expiry_and_forfeit(books: Path) -> None:
    data = report(books, "expirations", "--from", d(1), "--to", END)
    assert [(r["date"], r["instance"], r["location"], r["amount"], r["account"], r["reason"])
            for r in data["rows"]] == [
        (d(3), "PK-A", "loc-11", "65.00", "breakage", "refund"),
        (d(10), "PK-C", "loc-11", "95.00", "breakage", "early"),
        (d(31), "PK-B", "loc-12", "61.66", "breakage", "expired"),
    ]
    assert data["rows"][0]["customer"] == "cust-PK-A"
    assert data["rows"][0]["package"] == "cuts-3"
    assert data["totals"]["amount"] == "221.66"
    assert data["totals"]["unclaimed"] == "0.00"
    # The drill-down behind the roll-forward's expirations.
    liability = report(books, "liability", "--from", d(1), "--to", END)
    assert liability["totals"]["expirations"] == "221.66"
    only_12 = report(books, "expirations", "--from", d(1), "--to", END, "--location", "loc-12")
    assert [r["instance"] for r in only_12["rows"]] == ["PK-B"]
    assert only_12["totals_by_entity"] == {
        "franchise-1": {"amount": "61.66", "breakage": "61.66", "unclaimed": "0.00"}}


def test_activity_rows_add_up(books: Path) -> None:
    data = report(books, "activity", "--from", d(2), "--to", END)
    rows = {r["instance"]: r for r in data["rows"]}
    columns = ("purchased", "opening", "sales", "redeemed", "expired", "refunded", "remaining")
    # PK-A: 20.45 deposited on day 1 (opening), 74.55 on day 2, 30.00 refunded, 65.00 forfeited.
    assert money(rows["PK-A"], *columns) == (
        "0.00", "20.45", "74.55", "0.00", "65.00", "30.00", "0.00")
    # PK-B: 95.00 from day 1, one haircut 33.34, the rest (61.66) expired on day 31.
    assert money(rows["PK-B"], *columns) == (
        "0.00", "95.00", "0.00", "33.34", "61.66", "0.00", "0.00")
    assert rows["PK-B"]["location_name"] == "Franchise 1 - Location 1.2"
    whole = report(books, "activity", "--from", d(1), "--to", END)
    pk_a = next(r for r in whole["rows"] if r["instance"] == "PK-A")
    assert money(pk_a, "purchased", "tax", "opening", "sales") == (
        "100.00", "10.00", "0.00", "95.00")
    table = text(books, "activity", "--from", d(1), "--to", END).splitlines()
    assert table[-1].startswith("total")


def test_revenue_by_kind(books: Path) -> None:
    data = report(books, "revenue", "--from", d(1), "--to", END)
    rows = {r["location"]: r for r in data["rows"]}
    # loc-11: initial recognition 5.00 + 5.00, breakage 65.00 + 95.00, the shampoo 20.00.
    assert money(rows["loc-11"], "redemptions", "initial_recognition", "breakage", "products",
                 "total", "reconciliation_expense", "net") == (
        "0.00", "10.00", "160.00", "20.00", "190.00", "0.00", "190.00")
    # loc-12: one haircut 33.34, initial recognition 5.00, breakage 61.66.
    assert money(rows["loc-12"], "redemptions", "initial_recognition", "breakage",
                 "total") == ("33.34", "5.00", "61.66", "100.00")
    assert data["totals_by_entity"]["franchise-1"]["net"] == "290.00"


@pytest.fixture(scope="module")
def open_invoices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Books as of 2026-01-15.

    INV-PK-E (loc-11, day 1): cuts-3 110.00 + shampoo 22.00 = 132.00; 40.00 paid: 92.00 due.
    INV-PK-G (loc-21, day 2): 110.00 paid in full: not open.
    INV-PK-H (loc-11, day 3): 50.00 paid (at loc-21), then expired early on day 4: the
      package ended, the invoice still owes 60.00. Its deposits: 50.00 less tax
      50 x 10/110 = 4.55 less 5.00 initial recognition = 40.45, forfeited.
    INV-PK-F (loc-12, day 5): 110.00, nothing paid.
    """
    path = tmp_path_factory.mktemp("invoices") / "books"
    write_books(path, config_text(CATALOG, redeem_open=True), [
        sale("PK-E", 1, "loc-11", product=True), sale("PK-G", 2, "loc-21"),
        sale("PK-H", 3, "loc-11"), sale("PK-F", 5, "loc-12"),
        pay("p-e", "PK-E", 1, "40.00", "loc-11", "cash"),
        pay("p-g", "PK-G", 2, "110.00", "loc-21", "card"),
        pay("p-h", "PK-H", 3, "50.00", "loc-21", "other"),
        {"type": "expiry", "id": "x-h", "date": d(4), "instance": "PK-H"},
    ])
    build_ok(path, datetime.date(2026, 1, 15))
    return path


def test_invoices_open_as_of(open_invoices: Path) -> None:
    data = report(open_invoices, "invoices", "--to", d(15))
    assert data["from"] is None and data["to"] == d(15) and data["as_of"] == d(15)
    assert [money(r, "invoice", "location", "date", "total", "paid", "due") + (r["age_days"],)
            for r in data["rows"]] == [
        ("INV-PK-E", "loc-11", d(1), "132.00", "40.00", "92.00", 14),
        ("INV-PK-H", "loc-11", d(3), "110.00", "50.00", "60.00", 12),
        ("INV-PK-F", "loc-12", d(5), "110.00", "0.00", "110.00", 10),
    ]
    assert data["rows"][0]["customer"] == "cust-PK-E"
    assert money(data["totals"], "total", "paid", "due") == ("352.00", "90.00", "262.00")
    assert list(data["totals_by_entity"]) == ["franchise-1"]
    # As of day 2 only PK-E's invoice was open (PK-G's was paid that day).
    early = report(open_invoices, "invoices", "--to", d(2))
    assert [(r["invoice"], r["due"], r["age_days"]) for r in early["rows"]] == [
        ("INV-PK-E", "92.00", 1)]
    only = report(open_invoices, "invoices", "--to", d(15), "--location", "loc-12")
    assert [r["invoice"] for r in only["rows"]] == ["INV-PK-F"]
    assert report(open_invoices, "invoices", "--to", d(15), "--entity", "franchise-2")[
        "rows"] == []
    expired = report(open_invoices, "expirations", "--from", d(1), "--to", d(15))
    assert [(r["instance"], r["amount"], r["reason"]) for r in expired["rows"]] == [
        ("PK-H", "40.45", "early")]


def test_reports_refuse_what_means_nothing(open_invoices: Path) -> None:
    out = refused(open_invoices, "liability", "--from", d(1), "--to", d(16))
    assert "books run to 2026-01-15" in out and "--as-of 2026-01-16" in out
    assert "--from means nothing" in refused(open_invoices, "invoices", "--from", d(1),
                                             "--to", d(15))
    assert "--from means nothing" in refused(open_invoices, "customers", "--from", d(1),
                                             "--to", d(15))
    assert "--basis means nothing" in refused(open_invoices, "revenue", "--from", d(1),
                                              "--to", d(15), "--basis", "sale")
    assert "--basis means nothing" in refused(open_invoices, "reconciliation", "--from", d(1),
                                              "--to", d(15), "--basis", "payment")
    assert "needs --from" in refused(open_invoices, "collections", "--to", d(15))
    assert "unknown location 'loc-99'" in refused(open_invoices, "revenue", "--from", d(1),
                                                  "--to", d(15), "--location", "loc-99")
    assert "unknown entity 'franchise-9'" in refused(open_invoices, "revenue", "--from", d(1),
                                                     "--to", d(15), "--entity", "franchise-9")
    assert report(open_invoices, "customers", "--to", d(15))["from"] is None
    # --basis is still the liability report's own.
    assert report(open_invoices, "liability", "--from", d(1), "--to", d(15),
                  "--basis", "sale")["basis"] == "sale"


def test_unclaimed_property_per_location(tmp_path: Path) -> None:
    """Policy liability: PK-U (loc-21) expires by itself on day 31 with its 95.00."""
    path = write_books(tmp_path, config_text(CATALOG, expired_balance="liability"), [
        sale("PK-U", 1, "loc-21"), pay("p-u", "PK-U", 1, "110.00", "loc-21", "card"),
    ])
    build_ok(path, datetime.date(2026, 2, 28))
    data = report(path, "expirations", "--from", d(1), "--to", d(28, 2))
    assert [(r["instance"], r["amount"], r["account"], r["reason"]) for r in data["rows"]] == [
        ("PK-U", "95.00", "unclaimed", "expired")]
    assert data["totals"]["unclaimed_by_location"]["loc-21"] == {
        "location_name": "Franchise 2 - Location 2.1", "period": "95.00", "balance": "95.00"}
    assert data["totals"]["unclaimed_by_location"]["loc-11"]["balance"] == "0.00"
    february = report(path, "expirations", "--from", d(1, 2), "--to", d(28, 2))
    assert february["rows"] == []
    assert february["totals"]["unclaimed_by_location"]["loc-21"]["period"] == "0.00"
    assert february["totals"]["unclaimed_by_location"]["loc-21"]["balance"] == "95.00"
    table = text(path, "expirations", "--from", d(1), "--to", d(28, 2))
    assert "unclaimed property by location:" in table
