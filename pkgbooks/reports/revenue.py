"""`revenue`: recognised revenue by location and kind (SPEC 5.6).

One BQL query sums the income accounts over the period; each account's role
names its column.
"""

from __future__ import annotations

import datetime

from pkgbooks import accounts
from pkgbooks.accounts import Role
from pkgbooks.errors import Failed, file_error
from pkgbooks.ledger import MAIN
from pkgbooks.money import ZERO
from pkgbooks.reports.base import Books, Report, period

COLUMNS = ["redemptions", "initial_recognition", "breakage", "reconciliation", "products"]
BY_ROLE = {
    Role.REDEMPTIONS: "redemptions",
    Role.INITIAL_RECOGNITION: "initial_recognition",
    Role.BREAKAGE: "breakage",
    Role.RECONCILIATION_INCOME: "reconciliation",
    Role.PRODUCTS: "products",
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
        parsed = accounts.parse(account)
        if parsed is None or parsed.role not in BY_ROLE:
            raise Failed([file_error(str(books.directory / MAIN),
                                     f"{account}: not an income account pkgbooks writes")])
        column = BY_ROLE[parsed.role]
        row = rows[books.location_of(account)]
        row[column] += -amount  # income is a credit balance
        row["total"] += -amount
    totals = {c: sum((r[c] for r in rows.values()), ZERO) for c in [*COLUMNS, "total"]}
    return Report("revenue", start, end, books.config.currency,
                  ["location", *COLUMNS, "total"], list(rows.values()), totals)
