"""`customers`: each customer's packages, item by item, as of `--to` (SPEC 5.4).

BQL reads the sales (customer, package), the units redeemed per instance and
item, the packages that ended (expired, refunded, voided) and each instance's
liability. The Python step lays the package's contents from `pkgbooks.toml`
next to what was used. A row is shown for every package still running at
`--to` (sold, not ended) with units left; `outstanding_value` is available x
the item's list price, or "-" when it has none that means anything (SPEC 5.4).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import Any

from pkgbooks.config import ANY_SERVICE, Config
from pkgbooks.money import ZERO
from pkgbooks.reports.base import PACKAGE_LIABILITY, Books, Report

COLUMNS = ["customer", "instance", "package", "item", "used", "available",
           "outstanding_value", "package_liability"]


def queries(end: datetime.date) -> dict[str, str]:
    """The BQL of the report, by part, as of `end`."""
    until = f"date <= {end.isoformat()}"
    return {
        "sales": (
            "SELECT meta['customer'] AS customer, meta['instance'] AS instance, "
            "meta['package'] AS package, meta['kind'] AS kind FROM #transactions "
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


def run(books: Books, start: datetime.date, end: datetime.date) -> Report:
    """One row per item of every package still running at `end` with units left."""
    bql = queries(end)
    sold: dict[str, tuple[str, str]] = {}
    for customer, instance, package, kind in books.query(bql["sales"]):
        if kind == "void":
            sold.pop(instance, None)
        else:
            sold[instance] = (customer, package)
    ends: dict[str, int] = defaultdict(int)
    for instance, kind in books.query(bql["ended"]):
        ends[instance] += -1 if kind == "void" else 1  # a voided refund un-ends it
    used: dict[tuple[str, str], int] = defaultdict(int)
    for instance, item, line, kind, quantity in books.query(bql["used"]):
        # Units count against the package line they were drawn from (`*`, 4.3).
        used[(instance, line or item)] += quantity * (-1 if kind == "void" else 1)
    liability = {i: -amount for i, amount in books.query(bql["liability"]) if i}
    rows = []
    for instance, (customer, package) in sorted(sold.items(), key=lambda kv: (kv[1][0], kv[0])):
        spec = books.config.packages.get(package)
        if spec is None or ends[instance] > 0:
            continue
        items = [(g.item, g.quantity) for g in spec.items]
        if all(quantity - used[(instance, item)] <= 0 for item, quantity in items):
            continue
        for item, quantity in items:
            available = quantity - used[(instance, item)]
            rows.append({
                "customer": customer, "instance": instance, "package": package, "item": item,
                "used": used[(instance, item)], "available": available,
                "outstanding_value": outstanding_value(books.config, package, item, available),
                "package_liability": liability.get(instance, ZERO),
            })
    totals = {"available": sum(r["available"] for r in rows),
              "package_liability": sum(
                  {r["instance"]: r["package_liability"] for r in rows}.values(), ZERO)}
    return Report("customers", start, end, books.config.currency, COLUMNS, rows, totals)


def outstanding_value(config: Config, package: str, item: str, available: int) -> Any:
    """available x list price; "-" for `*`, varying, absent or free prices and time units."""
    spec = config.items.get(item)
    group_price = next(g.price for g in config.packages[package].items if g.item == item)
    if item == ANY_SERVICE or spec is None or spec.unit != "visit" or group_price == 0:
        return "-"
    price = spec.list_price
    if price is None or price == 0:
        return "-"
    return Decimal(available) * price
