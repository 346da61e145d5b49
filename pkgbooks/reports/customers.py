"""`customers`: each customer's packages, item by item, as of `--to` (SPEC 5.4).

BQL reads the sales (customer, package), the units redeemed per instance and
item, the packages that ended (expired, refunded, voided) and each instance's
liability. The Python step lays the package's contents from `pkgbooks.toml`
next to what was used. A row is shown for every package still running at
`--to` (sold, not ended) with units left; `outstanding_value` is available x
the item's list price, or "-" when it has none that means anything (SPEC 5.4).
Units are counted per unit (visits, minutes, hours), never added together;
the entity subtotals add each instance's liability once.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pkgbooks.config import ANY_SERVICE, Config, Package
from pkgbooks.money import ZERO
from pkgbooks.reports.base import (
    PACKAGE_LIABILITY,
    Ask,
    Report,
    by_entity,
    unit_of,
    unit_totals,
)

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

COLUMNS = ["customer", "instance", "package", "location", "location_name", "item", "unit",
           "used", "available", "outstanding_value", "package_liability"]


def queries(end: datetime.date) -> dict[str, str]:
    """The BQL of the report, by part, as of `end`."""
    until = f"date <= {end.isoformat()}"
    return {
        "sales": (
            "SELECT date, meta['customer'] AS customer, meta['instance'] AS instance, "
            "meta['package'] AS package, meta['location'] AS location, meta['kind'] AS kind "
            "FROM #transactions "
            "WHERE meta['instance'] IS NOT NULL AND (meta['kind'] = 'sale' OR "
            f"meta['target_kind'] = 'sale') AND {until}"
        ),
        "used": (
            "SELECT meta['instance'] AS instance, meta['item'] AS item, meta['line'] AS line, "
            "meta['kind'] AS kind, "
            "meta['quantity'] AS quantity FROM #transactions WHERE (meta['kind'] = 'redemption' "
            f"OR meta['target_kind'] = 'redemption') AND {until}"
        ),
        "ended": (
            "SELECT meta['instance'] AS instance, meta['kind'] AS kind FROM #transactions "
            "WHERE (meta['kind'] IN ('expiry', 'refund') OR meta['target_kind'] = 'refund') "
            f"AND {until}"
        ),
        "liability": (
            "SELECT any_meta('instance') AS instance, sum(number) AS amount "
            f"WHERE account ~ '{PACKAGE_LIABILITY}' AND {until} GROUP BY instance"
        ),
    }


def whole_query(end: datetime.date) -> str:
    """Each customer's packages with a liability at `--to`."""
    return (
        "SELECT any_meta('customer') AS customer, any_meta('instance') AS instance, "
        "any_meta('package') AS package, sum(number) AS liability "
        f"WHERE account ~ '{PACKAGE_LIABILITY}' AND date <= {end.isoformat()} "
        "GROUP BY customer, instance, package HAVING sum(number) != 0 "
        "ORDER BY customer, instance"
    )


def run(books: Books, ask: Ask) -> Report:
    """One row per item of every package still running at `--to` with units left."""
    bql = queries(ask.end)
    sold: dict[str, tuple[str, str, str, datetime.date]] = {}
    for date, customer, instance, package, location, kind in books.query(
        bql["sales"], kinds=("sale",)
    ):
        if kind == "void":
            sold.pop(instance, None)
        else:
            sold[instance] = (customer, package, location, date)
    ends: dict[str, int] = defaultdict(int)
    for instance, kind in books.query(bql["ended"], kinds=("expiry", "refund")):
        ends[instance] += -1 if kind == "void" else 1  # a voided refund un-ends it
    used: dict[tuple[str, str], int] = defaultdict(int)
    for instance, item, line, kind, quantity in books.query(bql["used"], kinds=("redemption",)):
        # Units count against the package line they were drawn from (`*`, 4.3).
        used[(instance, line or item)] += quantity * (-1 if kind == "void" else 1)
    liability = {i: -amount for i, amount in books.query(bql["liability"]) if i}
    rows = []
    for instance, (customer, package, location, sale_date) in sorted(
        sold.items(), key=lambda kv: (kv[1][0], kv[0])
    ):
        if package not in books.config.packages or ends[instance] > 0 or not ask.keeps(location):
            continue
        # A package keeps the terms of its sale date for its whole life (SPEC 2a).
        spec = books.config.package_on(package, sale_date)
        items = [(g.item, g.quantity) for g in spec.items]
        if all(quantity - used[(instance, item)] <= 0 for item, quantity in items):
            continue
        for item, quantity in items:
            available = quantity - used[(instance, item)]
            rows.append({
                "customer": customer, "instance": instance, "package": package,
                "location": location, "location_name": books.name_of(location),
                "item": item, "unit": unit_of(books, item),
                "used": used[(instance, item)], "available": available,
                "outstanding_value": outstanding_value(books.config, spec, item, available,
                                                       ask.end),
                "package_liability": liability.get(instance, ZERO),
            })
    by_instance = {r["instance"]: r for r in rows}
    counts, footer = unit_totals(rows, "customer", "available", [])
    package_liability = sum((r["package_liability"] for r in by_instance.values()), ZERO)
    outstanding = sum((r["outstanding_value"] for r in rows
                       if isinstance(r["outstanding_value"], Decimal)), ZERO)
    for line in footer:
        line.update(used="", outstanding_value="", package_liability="")
    footer[-1].update(outstanding_value=outstanding, package_liability=package_liability)
    totals = {"available": counts, "outstanding_value": outstanding,
              "package_liability": package_liability}
    return Report("customers", None, ask.end, books.config.currency, COLUMNS, rows, totals,
                  footer=footer,
                  by_entity=by_entity(books, list(by_instance.values()), ["package_liability"],
                                      ask.end))


def outstanding_value(
    config: Config, package: Package, item: str, available: int, on: datetime.date
) -> Any:
    """available x the item's list price on `on` (`--to`).

    "-" for `*`, varying, absent or free prices and time units.
    """
    if item not in config.items:
        return "-"
    spec = config.item_on(item, on)
    group_price = next(g.price for g in package.items if g.item == item)
    if item == ANY_SERVICE or spec.unit != "visit" or group_price == 0:
        return "-"
    price = spec.list_price
    if price is None or price == 0:
        return "-"
    return Decimal(available) * price
