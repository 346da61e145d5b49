"""The reports on the demo books, cross-checked against Beancount's own balances.

Every expected figure here is computed independently of the report code: by
summing the postings of the ledger Beancount loads, by account and date.
"""

from __future__ import annotations

import datetime
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pkgbooks.cli import main
from pkgbooks.errors import Failed
from pkgbooks.reports.books import Books
from pkgbooks.reports.run import run_report

DEMO = Path(__file__).resolve().parents[2] / "ledgers" / "demo"
FIRST, LAST = datetime.date(2026, 1, 1), datetime.date(2026, 5, 31)
LOCATIONS = {"Loc11": "loc-11", "Loc12": "loc-12", "Loc21": "loc-21", "Loc22": "loc-22"}
MONTHS = [(datetime.date(2026, m, 1), datetime.date(2026, m + 1, 1) - datetime.timedelta(days=1))
          for m in range(1, 5)] + [(datetime.date(2026, 5, 1), LAST)]


@pytest.fixture(scope="module")
def books() -> Books:
    return Books.load(DEMO)


@pytest.fixture(scope="module")
def postings() -> list[tuple[datetime.date, str, Decimal, dict[str, Any]]]:
    entries, errors, _ = loader.load_file(str(DEMO / "main.beancount"))
    assert not errors
    return [(e.date, p.account, p.units.number, {**e.meta, **(p.meta or {})})
            for e in entries if isinstance(e, data.Transaction) for p in e.postings]


def balance(postings: list[Any], suffixes: tuple[str, ...], end: datetime.date,
            start: datetime.date | None = None) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for date, account, number, _meta in postings:
        if account.endswith(suffixes) and date <= end and (start is None or date >= start):
            totals[LOCATIONS[account.split(":")[1]]] += number
    return totals


MID = (datetime.date(2026, 2, 14), datetime.date(2026, 4, 3))


@pytest.mark.parametrize(("start", "end"), [*MONTHS, (FIRST, LAST), MID])
def test_liability_closing_is_the_ledger_balance(books: Books, postings: list[Any],
                                                 start: datetime.date, end: datetime.date) -> None:
    for basis, suffixes in (("payment", (":Packages:Deposits", ":Packages:Deferred")),
                            ("sale", (":Packages:Deferred",))):
        report = run_report("liability", books, start, end, basis)
        closing = balance(postings, suffixes, end)
        opening = balance(postings, suffixes, start - datetime.timedelta(days=1))
        for row in report.rows:
            assert row["closing"] == -closing[row["location"]], (basis, row)
            assert row["opening"] == -opening[row["location"]], (basis, row)


def test_revenue_is_the_income_accounts(books: Books, postings: list[Any]) -> None:
    for start, end in MONTHS:
        report = run_report("revenue", books, start, end)
        income = {loc: Decimal(0) for loc in LOCATIONS.values()}
        for date, account, number, _ in postings:
            if account.startswith("Income:") and start <= date <= end:
                income[LOCATIONS[account.split(":")[1]]] -= number
        assert {r["location"]: r["total"] for r in report.rows} == income


@pytest.mark.slow
def test_reports_agree_with_one_another(books: Books) -> None:
    for start, end in MONTHS:
        liability = run_report("liability", books, start, end).totals
        activity = run_report("activity", books, start, end).totals["all"]
        redemptions = run_report("redemptions", books, start, end).totals
        assert activity["remaining"] == liability["closing"]
        assert activity["redeemed"] == liability["redemptions"] == redemptions["value"]
        assert activity["expired"] == liability["expirations"]
        assert activity["refunded"] == liability["refunds"]


def test_reconciliation_matches_the_income_it_books(books: Books, postings: list[Any]) -> None:
    report = run_report("reconciliation", books, FIRST, LAST)
    earned = balance(postings, (":Reconciliation",), LAST)
    income = {loc: -amount for loc, amount in earned.items() if amount and loc}
    by_destination: dict[str, Decimal] = defaultdict(Decimal)
    for row in report.rows:
        by_destination[row["destination"]] += row["amount"]
    # Expenses:S:Reconciliation are debits, so only the income side is counted here.
    assert {k: v for k, v in by_destination.items()} == {
        loc: -sum((n for d, a, n, _ in postings if a == f"Income:{seg}:Reconciliation"),
                  Decimal(0))
        for seg, loc in LOCATIONS.items()
        if any(a == f"Income:{seg}:Reconciliation" for _, a, _, _ in postings)}
    assert income


def test_customer_liability_is_the_instance_balance(books: Books, postings: list[Any]) -> None:
    report = run_report("customers", books, None, LAST)
    per_instance: dict[str, Decimal] = defaultdict(Decimal)
    for _date, account, number, meta in postings:
        if account.endswith((":Packages:Deposits", ":Packages:Deferred")):
            per_instance[meta["instance"]] -= number
    assert report.rows
    for row in report.rows:
        assert row["package_liability"] == per_instance[row["instance"]]


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(st.dates(FIRST, LAST), st.dates(FIRST, LAST), st.sampled_from(["payment", "sale"]))
def test_roll_forward_identity_for_any_period(start: datetime.date, end: datetime.date,
                                              basis: str) -> None:
    start, end = min(start, end), max(start, end)
    report = run_report("liability", BOOKS, start, end, basis)  # raises if it does not hold
    if start > FIRST:
        before = run_report("liability", BOOKS, FIRST, start - datetime.timedelta(days=1), basis)
        openings = [previous["closing"] for previous in before.rows]
    else:
        openings = [Decimal("0.00")] * len(report.rows)
    for row, opening in zip(report.rows, openings, strict=True):
        assert row["opening"] == opening
        assert row["closing"] == (row["opening"] + row["sales"] - row["redemptions"]
                                  - row["expirations"] - row["refunds"])


BOOKS = Books.load(DEMO)


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


def test_formats() -> None:
    period = ["--from", "2026-03-01", "--to", "2026-03-31"]
    table = invoke("report", "liability", str(DEMO), *period)
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[2].split()[:2] == ["location", "location"]  # id, then "location name"
    assert lines[2].split()[3:] == ["opening", "sales", "redemptions", "expirations",
                                    "refunds", "closing"]
    assert lines[-1].startswith("total")
    csv_out = invoke("report", "revenue", str(DEMO), *period, "--format", "csv").output
    assert csv_out.splitlines()[0] == (
        "location,location_name,redemptions,initial_recognition,breakage,reconciliation,"
        "products,total,reconciliation_expense,net")
    # A row per location, then the totals row.
    assert len(csv_out.splitlines()) == 1 + len(LOCATIONS) + 1
    assert csv_out.splitlines()[-1].startswith("total,")
    parsed = json.loads(invoke("report", "activity", str(DEMO), *period, "--format",
                               "json").output)
    assert set(parsed) >= {"report", "from", "to", "as_of", "currency", "rows", "totals",
                           "totals_by_entity"}
    assert set(parsed["totals"]) == {"all", "by_package", "by_location", "by_staff"}


def test_stale_or_missing_ledger_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "demo"
    shutil.copytree(DEMO, copy)
    with (copy / "events" / "2026-05.jsonl").open("a", encoding="utf-8") as handle:
        handle.write('{"type": "expiry", "id": "late", "date": "2026-05-31", '
                     '"instance": "PK-00001"}\n')
    result = invoke("report", "liability", str(copy), "--from", "2026-05-01", "--to",
                    "2026-05-31")
    assert result.exit_code == 1
    assert "older than pkgbooks.toml or events/" in result.output
    assert "pkgbooks build" in result.output
    assert "Traceback" not in result.output
    shutil.rmtree(copy / "ledger")
    (copy / "main.beancount").unlink()
    with pytest.raises(Failed, match="no ledger yet"):
        Books.load(copy)


def test_demo_command_prints_the_summaries(tmp_path: Path) -> None:
    copy = tmp_path / "demo"
    shutil.copytree(DEMO, copy)
    result = invoke("demo", "--dir", str(copy))
    assert result.exit_code == 0, result.output
    assert "liability 2026-01-01 .. 2026-05-31" in result.output
    assert "reconciliation 2026-01-01 .. 2026-05-31" in result.output
    assert "net due:" in result.output
