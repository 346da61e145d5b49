"""`revenue`: recognised revenue by location and kind (SPEC 5.6).

One BQL query sums the income accounts, and the reconciliation expense, over
the period; each account's last segments name its column. `net` is `total`
less `reconciliation_expense`: what one location earns from another's
package is intercompany, never a sale of the group.
"""

from __future__ import annotations

import datetime

from pkgbooks.reports.base import (
    Ask,
    Books,
    Report,
    ReportError,
    by_entity,
    column_sums,
    period,
    total_row,
)

INCOME = ["redemptions", "initial_recognition", "breakage", "reconciliation", "products"]
COLUMNS = [*INCOME, "total", "reconciliation_expense", "net"]
BY_SUFFIX = {
    ":Packages:Redemptions": "redemptions",
    ":Packages:InitialRecognition": "initial_recognition",
    ":Packages:Breakage": "breakage",
    ":Reconciliation": "reconciliation",
    ":Products": "products",
}
EXPENSE = "^Expenses:[^:]+:Reconciliation$"


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    return {"revenue": whole_query(start, end)}


def whole_query(start: datetime.date, end: datetime.date) -> str:
    """Income by account, and the reconciliation expense, over the period (credits negative)."""
    return (
        f"SELECT account, sum(number) AS amount WHERE (account ~ '^Income:' OR "
        f"account ~ '{EXPENSE}') AND {period(start, end)} GROUP BY account ORDER BY account"
    )


def run(books: Books, ask: Ask) -> Report:
    rows = books.per_location(COLUMNS, ask)
    for account, amount in books.query(queries(ask.first, ask.end)["revenue"]):
        row = rows.get(books.location_of(account))
        if row is None:
            continue
        if account.startswith("Expenses:"):
            row["reconciliation_expense"] += amount
            row["net"] -= amount
            continue
        column = next((c for suffix, c in BY_SUFFIX.items() if account.endswith(suffix)), None)
        if column is None:
            raise ReportError(f"{account}: an income account pkgbooks does not write")
        row[column] += -amount  # income is a credit balance
        row["total"] += -amount
        row["net"] += -amount
    shown = list(rows.values())
    totals = column_sums(shown, COLUMNS)
    return Report("revenue", ask.start, ask.end, books.config.currency,
                  ["location", "location_name", *COLUMNS], shown, totals,
                  footer=[total_row("location", totals)],
                  by_entity=by_entity(books, shown, COLUMNS))
