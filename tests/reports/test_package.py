"""The package look-up and the liability series behind the Fava page, on the demo books."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from pkgbooks.errors import Failed
from pkgbooks.reports.books import Books
from pkgbooks.reports.package import liability_by_month, lookup
from pkgbooks.reports.run import run_report

DEMO = Path(__file__).resolve().parents[2] / "ledgers" / "demo"


@pytest.fixture(scope="module")
def books() -> Books:
    return Books.load(DEMO)


def test_a_voided_redemption_gives_its_unit_back(books: Books) -> None:
    # PK-00145 (any-service-5): r-000222 was voided ("customer did not show up").
    answer = lookup(books, "PK-00145")
    kinds = [(h["event"], h["kind"], h["target_kind"]) for h in answer["history"]]
    assert ("v-000006", "void", "redemption") in kinds
    redeemed = sum(h["quantity"] for h in answer["history"] if h["kind"] == "redemption")
    voided = sum(h["quantity"] for h in answer["history"] if h["kind"] == "void")
    assert answer["units"][0]["used"] == redeemed - voided


def test_the_running_liability_adds_up_to_the_end(books: Books) -> None:
    for instance in ("PK-00001", "PK-00022", "PK-00145"):
        answer = lookup(books, instance)
        changes = sum(Decimal(h["liability_change"]) for h in answer["history"])
        assert f"{changes:.2f}" == answer["liability"] == answer["history"][-1]["liability"]


def test_unknown_instance(books: Books) -> None:
    with pytest.raises(Failed, match="no package 'PK-99999'"):
        lookup(books, "PK-99999")


@pytest.mark.parametrize("basis", ["payment", "sale"])
def test_month_end_series_is_the_liability_reports_closing(books: Books, basis: str) -> None:
    series = liability_by_month(books, basis)
    assert [p["date"] for p in series] == [
        "2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31"]
    first = books.config.locations
    for point in series:
        end = datetime.date.fromisoformat(point["date"])
        report = run_report("liability", books, end.replace(day=1), end, basis)
        assert point["balances"] == {row["location"]: row["closing"] for row in report.rows}
        assert list(point["balances"]) == list(first)
