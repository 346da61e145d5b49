"""Cross-report ties over random histories (SPEC 5): each report agrees with the others
and with the ledger's own postings, for the whole history and for a random period.

- collections = the movement of each location's cash accounts (5.7);
- expirations (their total, per location) = the roll-forward's expirations (5.9);
- activity totals = the roll-forward, payment basis, and every row adds up (5.2);
- revenue net = income - reconciliation expense, from the postings (5.6).

The histories are the random multi-location ones of tests/test_properties.py.
Each example builds real books, so it runs a tenth of PKGBOOKS_PROPERTY_EXAMPLES (10 by
default).
"""

from __future__ import annotations

import datetime
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from beancount.core import data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import SEGMENT_TO_LOC, START, History, histories, plan

from pkgbooks.build import build
from pkgbooks.reports.books import Books
from pkgbooks.reports.run import run_report

EXAMPLES = max(1, int(os.environ.get("PKGBOOKS_PROPERTY_EXAMPLES", "100")) // 10)


def movement(books: Books, start: datetime.date, end: datetime.date,
             wanted: Callable[[str], bool]) -> dict[str, Decimal]:
    """Per location, the sum of the postings on the `wanted` accounts, in the period."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in books.entries:
        if isinstance(entry, data.Transaction) and start <= entry.date <= end:
            for posting in entry.postings:
                if wanted(posting.account):
                    totals[SEGMENT_TO_LOC[posting.account.split(":")[1]]] += (
                        posting.units.number)
    return totals


def per_location(rows: list[dict[str, object]], column: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        value = row[column]
        assert isinstance(value, Decimal)
        totals[str(row["location"])] += value
    return totals


def nonzero(figures: dict[str, Decimal]) -> dict[str, Decimal]:
    return {k: v for k, v in figures.items() if v}


def check_period(books: Books, start: datetime.date, end: datetime.date) -> None:
    liability = run_report("liability", books, start, end)
    rolled = {row["location"]: row for row in liability.rows}

    collections = run_report("collections", books, start, end)
    cash = movement(books, start, end,
                    lambda a: a.endswith((":Cash:Cash", ":Cash:Card", ":Cash:Other")))
    assert nonzero(per_location(collections.rows, "total")) == nonzero(cash)
    for row in collections.rows:
        assert row["total"] == (row["packages"] + row["initial_recognition"] + row["products"]
                                + row["tax"])

    expirations = run_report("expirations", books, start, end)
    assert expirations.totals["amount"] == liability.totals["expirations"]
    assert nonzero(per_location(expirations.rows, "amount")) == nonzero(
        {loc: row["expirations"] for loc, row in rolled.items()})

    activity = run_report("activity", books, start, end)
    pairs = [("opening", "opening"), ("sales", "sales"), ("redeemed", "redemptions"),
             ("expired", "expirations"), ("refunded", "refunds"), ("remaining", "closing")]
    for ours, theirs in pairs:
        assert activity.totals["all"][ours] == liability.totals[theirs], ours
        by_location = activity.totals["by_location"]
        for loc, row in rolled.items():
            assert by_location.get(loc, {}).get(ours, Decimal(0)) == row[theirs], (loc, ours)
    for row in activity.rows:  # the report checks each row adds up; here once more
        assert row["remaining"] == (row["opening"] + row["sales"] - row["redeemed"]
                                    - row["expired"] - row["refunded"])

    revenue = run_report("revenue", books, start, end)
    income = movement(books, start, end, lambda a: a.startswith("Income:"))
    paid_out = movement(books, start, end, lambda a: a.startswith("Expenses:")
                        and a.endswith(":Reconciliation"))
    for row in revenue.rows:
        loc = row["location"]
        assert row["total"] == -income.get(loc, Decimal(0))
        assert row["reconciliation_expense"] == paid_out.get(loc, Decimal(0))
        assert row["net"] == -income.get(loc, Decimal(0)) - paid_out.get(loc, Decimal(0))


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(histories(), st.data())
def test_reports_tie_to_one_another_and_to_the_ledger(history: History,
                                                      draw: st.DataObject) -> None:
    p = plan(history)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "books"
        history.write(directory, p.keep)
        result = build(directory, history.as_of)
        assert not result.problems, "\n".join(map(str, result.problems))
        if result.as_of is None:
            return
        books = Books.load(directory)
        assert books.as_of is not None
        end = books.as_of
        check_period(books, min(START, end), end)
        start = draw.draw(st.dates(min(START, end), end), label="start")
        check_period(books, start, end)
