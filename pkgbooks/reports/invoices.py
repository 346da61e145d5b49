"""`invoices`: open invoices as of `--to`, with what is due and its age (SPEC 5.8).

Two BQL queries: the sales records (one per invoice line: its price and
tax, less the lines of voided sales) give each invoice's total, and the
cash postings of its payments (less voided payments) what was paid. An
invoice is open while paid < total; an invoice whose packages have ended
(expired, refunded, used up) still shows what is unpaid on it, because it
stays payable (SPEC 4.9). `age_days` counts from the sale to `--to`.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pkgbooks import accounts
from pkgbooks.accounts import CASH_BY_METHOD
from pkgbooks.money import ZERO
from pkgbooks.reports.base import Ask, Report, by_entity, column_sums, total_row

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

AMOUNTS = ["total", "paid", "due"]
CASH = "|".join(accounts.pattern(role) for role in CASH_BY_METHOD.values())
COLUMNS = ["invoice", "location", "location_name", "customer", "date", *AMOUNTS, "age_days"]


def queries(end: datetime.date) -> dict[str, str]:
    """The BQL of the report, by part, as of `end`."""
    return {
        "lines": (
            "SELECT date, meta['invoice'] AS invoice, meta['location'] AS location, "
            "meta['customer'] AS customer, meta['kind'] AS kind, meta['price'] AS price, "
            "meta['tax'] AS tax FROM #transactions WHERE meta['invoice'] IS NOT NULL AND "
            "(meta['kind'] = 'sale' OR meta['target_kind'] = 'sale') AND "
            f"date <= {end.isoformat()} ORDER BY date"
        ),
        "paid": whole_query(end),
    }


def whole_query(end: datetime.date) -> str:
    """What each invoice has been paid as of `--to` (the cash its payments brought in)."""
    return (
        "SELECT entry_meta('invoice') AS invoice, sum(number) AS paid "
        f"WHERE account ~ '{CASH}' AND (entry_meta('kind') = 'payment' OR "
        f"entry_meta('target_kind') = 'payment') AND date <= {end.isoformat()} "
        "GROUP BY invoice ORDER BY invoice"
    )


def run(books: Books, ask: Ask) -> Report:
    """Every invoice not fully paid by `--to`, oldest first."""
    bql = queries(ask.end)
    invoices: dict[str, dict[str, Any]] = {}
    for date, invoice, location, customer, kind, price, tax in books.query(
        bql["lines"], kinds=("sale",)
    ):
        row = invoices.setdefault(invoice, {
            "invoice": invoice, "location": location, "location_name": books.name_of(location),
            "customer": customer, "date": date.isoformat(),
            "total": ZERO, "paid": ZERO, "due": ZERO,
            "age_days": (ask.end - date).days,
        })
        row["total"] += (Decimal(price) + Decimal(tax)) * (-1 if kind == "void" else 1)
    for invoice, paid in books.query(bql["paid"], kinds=("payment",)):
        if invoice in invoices:
            invoices[invoice]["paid"] += paid
    shown = []
    for row in invoices.values():
        row["due"] = row["total"] - row["paid"]
        if row["due"] > 0 and ask.keeps(row["location"]):
            shown.append(row)
    shown.sort(key=lambda row: (row["date"], row["invoice"]))
    totals = column_sums(shown, AMOUNTS)
    return Report("invoices", None, ask.end, books.config.currency, COLUMNS, shown, totals,
                  footer=[total_row("invoice", {**totals, "age_days": ""})],
                  by_entity=by_entity(books, shown, AMOUNTS, ask.end))
