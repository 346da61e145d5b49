"""`revenue`: recognised revenue by location and kind (SPEC 5.6).

One BQL query sums the income accounts over the period; each account's last
segments name its column.
"""

from __future__ import annotations

import datetime

from pkgbooks.money import ZERO
from pkgbooks.reports.base import Books, Report, period

COLUMNS = ["redemptions", "initial_recognition", "breakage", "reconciliation", "products"]
BY_SUFFIX = {
    ":Packages:Redemptions": "redemptions",
    ":Packages:InitialRecognition": "initial_recognition",
    ":Packages:Breakage": "breakage",
    ":Reconciliation": "reconciliation",
    ":Products": "products",
}


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report."""
    return {"revenue": (
        f"SELECT account, sum(number) AS amount WHERE account ~ '^Income:' AND "
        f"{period(start, end)} GROUP BY account ORDER BY account"
    )}


def run(books: Books, start: datetime.date, end: datetime.date) -> Report:
    """Income per location, one column per kind of revenue."""
    rows = books.per_location([*COLUMNS, "total"])
    for account, amount in books.query(queries(start, end)["revenue"]):
        column = next(c for suffix, c in BY_SUFFIX.items() if account.endswith(suffix))
        row = rows[books.location_of(account)]
        row[column] += -amount  # income is a credit balance
        row["total"] += -amount
    totals = {c: sum((r[c] for r in rows.values()), ZERO) for c in [*COLUMNS, "total"]}
    return Report("revenue", start, end, books.config.currency,
                  ["location", *COLUMNS, "total"], list(rows.values()), totals)
