"""`reconciliation`: cross-entity redemptions and what each location owes (SPEC 5.5).

The rows are the destination halves of the `reconciliation` transactions (and
of the voids that reverse them, with negative amounts), read by one BQL
query of their metadata and their `Income:D:Reconciliation` posting.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from pkgbooks.money import ZERO
from pkgbooks.reports.base import Books, Report, period

COLUMNS = ["date", "event", "instance", "source", "destination", "item", "category",
           "unit_price", "quantity", "rate", "amount"]


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report."""
    return {"reconciliation": (
        "SELECT date, entry_meta('event') AS event, entry_meta('target') AS target, "
        "entry_meta('instance') AS instance, entry_meta('source') AS source, "
        "entry_meta('location') AS destination, entry_meta('item') AS item, "
        "entry_meta('category') AS category, entry_meta('price') AS unit_price, "
        "entry_meta('quantity') AS quantity, entry_meta('rate') AS rate, number AS amount "
        "WHERE account ~ '^Income:[^:]+:Reconciliation$' AND "
        f"(entry_meta('kind') = 'reconciliation' OR entry_meta('target_kind') = 'redemption') "
        f"AND {period(start, end)} ORDER BY date"
    )}


def run(books: Books, start: datetime.date, end: datetime.date) -> Report:
    """One row per reconciliation (voids negative), and what each location owes net."""
    rows = []
    owed: dict[tuple[str, str], Decimal] = {}
    for (date, event, _target, instance, source, destination, item, category, unit_price,
         quantity, rate, amount) in books.query(queries(start, end)["reconciliation"]):
        sign = -1 if amount > 0 else 1  # a void debits the income back
        rows.append({
            "date": date.isoformat(), "event": event, "instance": instance, "source": source,
            "destination": destination, "item": item, "category": category,
            "unit_price": unit_price, "quantity": sign * quantity,
            "rate": rate, "amount": -amount,
        })
        owed[(source, destination)] = owed.get((source, destination), ZERO) - amount
    return Report("reconciliation", start, end, books.config.currency, COLUMNS, rows,
                  {"net_due": net_due(owed)})


def net_due(owed: dict[tuple[str, str], Decimal]) -> list[dict[str, object]]:
    """What each location owes another once the two directions are set off."""
    pairs = []
    for a, b in sorted({tuple(sorted(pair)) for pair in owed}):
        net = owed.get((a, b), ZERO) - owed.get((b, a), ZERO)
        source, destination = (a, b) if net >= 0 else (b, a)
        pairs.append({"source": source, "destination": destination, "amount": abs(net)})
    return pairs
