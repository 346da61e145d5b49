"""`redemptions`: units and value redeemed by staff member, location and package (SPEC 5.3).

Two BQL queries: the units from the redemption transactions' `quantity`
metadata (a redemption worth 0.00 has no postings, so this reads the
transactions table), and the value from their liability postings. Voids of
redemptions count negative. `location` is where the units were used.
"""

from __future__ import annotations

import datetime
from typing import Any

from pkgbooks.money import ZERO
from pkgbooks.reports.base import PACKAGE_LIABILITY, Books, Report, period

COLUMNS = ["staff", "location", "package", "units", "value"]
_REDEMPTIONS = "(entry_meta('kind') = 'redemption' OR entry_meta('target_kind') = 'redemption')"


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report, by part."""
    return {
        "units": (
            "SELECT meta['staff'] AS staff, meta['location'] AS location, "
            "meta['package'] AS package, meta['kind'] AS kind, meta['quantity'] AS quantity "
            "FROM #transactions WHERE (meta['kind'] = 'redemption' OR "
            f"meta['target_kind'] = 'redemption') AND {period(start, end)}"
        ),
        "value": (
            "SELECT entry_meta('staff') AS staff, entry_meta('location') AS location, "
            "entry_meta('package') AS package, sum(number) AS value "
            f"WHERE account ~ '{PACKAGE_LIABILITY}' AND {_REDEMPTIONS} AND "
            f"{period(start, end)} GROUP BY staff, location, package"
        ),
    }


def run(books: Books, start: datetime.date, end: datetime.date) -> Report:
    """Units and value redeemed per staff member, location and package."""
    bql = queries(start, end)
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}

    def row(staff: str | None, location: str, package: str) -> dict[str, Any]:
        key = (staff or "", location, package)
        if key not in rows:
            rows[key] = {"staff": staff or "", "location": location, "package": package,
                         "units": 0, "value": ZERO}
        return rows[key]

    for staff, location, package, kind, quantity in books.query(bql["units"]):
        row(staff, location, package)["units"] += quantity * (-1 if kind == "void" else 1)
    for staff, location, package, value in books.query(bql["value"]):
        row(staff, location, package)["value"] += value
    ordered = [rows[key] for key in sorted(rows)]
    totals = {"units": sum(r["units"] for r in ordered),
              "value": sum((r["value"] for r in ordered), ZERO)}
    return Report("redemptions", start, end, books.config.currency, COLUMNS, ordered, totals)
