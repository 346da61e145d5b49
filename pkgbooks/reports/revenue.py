"""`revenue`: recognised revenue by location and kind (SPEC 5.6).

One BQL query sums the income accounts, and the reconciliation expense, over
the period; each account's role names its column. `net` is `total` less
`reconciliation_expense`: what one location earns from another's package is
intercompany, never a sale of the group.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from pkgbooks import accounts
from pkgbooks.accounts import Role
from pkgbooks.reports.base import (
    Ask,
    Report,
    by_entity,
    column_sums,
    period,
    total_row,
)

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

BY_ROLE = {
    Role.REDEMPTIONS: "redemptions",
    Role.INITIAL_RECOGNITION: "initial_recognition",
    Role.BREAKAGE: "breakage",
    Role.RECONCILIATION_INCOME: "reconciliation",
    Role.PRODUCTS: "products",
}
INCOME = list(BY_ROLE.values())
COLUMNS = [*INCOME, "total", "reconciliation_expense", "net"]


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report."""
    return {"revenue": whole_query(start, end)}


def whole_query(start: datetime.date, end: datetime.date) -> str:
    """Income by account, and the reconciliation expense, over the period (credits negative)."""
    return (
        "SELECT account, sum(number) AS amount WHERE (account ~ '^Income:' OR "
        f"account ~ '{accounts.pattern(Role.RECONCILIATION_EXPENSE)}') AND "
        f"{period(start, end)} GROUP BY account ORDER BY account"
    )


def run(books: Books, ask: Ask) -> Report:
    """Income per location, one column per kind of revenue, less the reconciliation expense."""
    rows = books.per_location(COLUMNS, ask)
    for account, amount in books.query(queries(ask.first, ask.end)["revenue"]):
        parsed = accounts.parse(account)
        if parsed is None or parsed.role not in (*BY_ROLE, Role.RECONCILIATION_EXPENSE):
            raise books.refused(f"{account}: not an income account pkgbooks writes")
        row = rows.get(books.location_of(account))
        if row is None:
            continue
        if parsed.role == Role.RECONCILIATION_EXPENSE:
            row["reconciliation_expense"] += amount
            row["net"] -= amount
            continue
        row[BY_ROLE[parsed.role]] += -amount  # income is a credit balance
        row["total"] += -amount
        row["net"] += -amount
    shown = list(rows.values())
    totals = column_sums(shown, COLUMNS)
    return Report("revenue", ask.start, ask.end, books.config.currency,
                  ["location", "location_name", *COLUMNS], shown, totals,
                  footer=[total_row("location", totals)],
                  by_entity=by_entity(books, shown, COLUMNS, ask.end))
