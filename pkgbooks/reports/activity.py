"""`activity`: each package instance over the period, with totals (SPEC 5.2).

BQL reads the sales records (price, tax, customer, who sold it) and, through
the liability report's movement query grouped by `any_meta('instance')`,
what was redeemed, expired (including what refunds forfeited) and refunded
(net) per instance; a last query gives each instance's liability at `--to`.
A row is shown for every instance that moved in the period or still holds
a liability at its end.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import Any

from pkgbooks.money import ZERO
from pkgbooks.reports.base import PACKAGE_LIABILITY, Books, Report
from pkgbooks.reports.liability import movements

AMOUNTS = ["purchased", "tax", "redeemed", "expired", "refunded", "remaining"]
COLUMNS = ["instance", "package", "location", "customer", "staff", *AMOUNTS]


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report, by part."""
    return {
        "sales": (
            "SELECT date, meta['instance'] AS instance, meta['package'] AS package, "
            "meta['location'] AS location, meta['customer'] AS customer, meta['staff'] AS staff, "
            "meta['kind'] AS kind, meta['price'] AS price, meta['tax'] AS tax FROM #transactions "
            "WHERE meta['instance'] IS NOT NULL AND (meta['kind'] = 'sale' OR "
            f"meta['target_kind'] = 'sale') AND date <= {end.isoformat()}"
        ),
        "remaining": (
            "SELECT any_meta('instance') AS instance, sum(number) AS amount "
            f"WHERE account ~ '{PACKAGE_LIABILITY}' AND date <= {end.isoformat()} "
            "GROUP BY instance"
        ),
    }


def run(books: Books, start: datetime.date, end: datetime.date) -> Report:
    """One row per package instance that moved in the period or still holds a liability."""
    bql = queries(start, end)
    rows: dict[str, dict[str, Any]] = {}
    for date, instance, package, location, customer, staff, kind, price, tax in books.query(
        bql["sales"]
    ):
        row = rows.setdefault(instance, {
            "instance": instance, "package": package, "location": location,
            "customer": customer, "staff": staff or "", **{a: ZERO for a in AMOUNTS},
        })
        if start <= date <= end:
            sign = -1 if kind == "void" else 1
            row["purchased"] += sign * price
            row["tax"] += sign * tax
    moved = movements(books, PACKAGE_LIABILITY, start, end, key="any_meta('instance')")
    for instance, figures in moved.items():
        row = rows[instance]
        row["redeemed"] += figures["redemptions"]
        row["expired"] += figures["expirations"]
        row["refunded"] += figures["refunds"]
    for instance, amount in books.query(bql["remaining"]):
        if instance in rows:
            rows[instance]["remaining"] = -amount
    shown = [row for row in rows.values() if any(row[a] for a in AMOUNTS)]
    shown.sort(key=lambda row: row["instance"])
    totals: dict[str, Any] = {"all": _sum(shown)}
    for by in ("package", "location", "staff"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in shown:
            groups[row[by]].append(row)
        totals[f"by_{by}"] = {name: _sum(group) for name, group in sorted(groups.items())}
    return Report("activity", start, end, books.config.currency, COLUMNS, shown, totals)


def _sum(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    return {a: sum((row[a] for row in rows), ZERO) for a in AMOUNTS}
