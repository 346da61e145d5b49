"""`redemptions`: units and value redeemed by staff member, location and package (SPEC 5.3).

Two BQL queries: the units from the redemption transactions' `quantity`
metadata (a redemption worth 0.00 has no postings, so this reads the
transactions table), and the value from their liability postings. Voids of
redemptions count negative. `location` is where the units were used. Rows
are kept apart by the unit the item is counted in (visits, minutes, hours),
which are never added together.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pkgbooks.money import ZERO
from pkgbooks.reports.base import (
    PACKAGE_LIABILITY,
    Ask,
    Report,
    by_entity,
    period,
    unit_of,
    unit_totals,
)

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

COLUMNS = ["staff", "location", "location_name", "package", "unit", "units", "value"]
_REDEMPTIONS = "(entry_meta('kind') = 'redemption' OR entry_meta('target_kind') = 'redemption')"


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report, by part."""
    return {
        "units": (
            "SELECT meta['staff'] AS staff, meta['location'] AS location, "
            "meta['package'] AS package, meta['item'] AS item, meta['kind'] AS kind, "
            "meta['quantity'] AS quantity FROM #transactions WHERE (meta['kind'] = 'redemption' "
            f"OR meta['target_kind'] = 'redemption') AND {period(start, end)}"
        ),
        "value": whole_query(start, end),
    }


def whole_query(start: datetime.date, end: datetime.date) -> str:
    """Value redeemed by staff member, location used, package and item."""
    return (
        "SELECT entry_meta('staff') AS staff, entry_meta('location') AS location, "
        "entry_meta('package') AS package, entry_meta('item') AS item, sum(number) AS value "
        f"WHERE account ~ '{PACKAGE_LIABILITY}' AND {_REDEMPTIONS} AND "
        f"{period(start, end)} GROUP BY staff, location, package, item "
        "ORDER BY staff, location, package, item"
    )


def run(books: Books, ask: Ask) -> Report:
    """Units and value redeemed per staff member, location used, package and unit."""
    bql = queries(ask.first, ask.end)
    rows: dict[tuple[str, str, str, str], dict[str, Any]] = {}

    def row(staff: str | None, location: str, package: str, item: str) -> dict[str, Any]:
        """The row of a staff member, location, package and the item's unit (made once)."""
        unit = unit_of(books, item)
        key = (staff or "", location, package, unit)
        if key not in rows:
            rows[key] = {"staff": staff or "", "location": location,
                         "location_name": books.name_of(location), "package": package,
                         "unit": unit, "units": 0, "value": ZERO}
        return rows[key]

    for staff, location, package, item, kind, quantity in books.query(
        bql["units"], kinds=("redemption",)
    ):
        if ask.keeps(location):
            row(staff, location, package, item)["units"] += (
                int(quantity) * (-1 if kind == "void" else 1))
    for staff, location, package, item, value in books.query(bql["value"], kinds=("redemption",)):
        if ask.keeps(location):
            row(staff, location, package, item)["value"] += Decimal(value)
    ordered = [rows[key] for key in sorted(rows)]
    counts, footer = unit_totals(ordered, "staff", "units", ["value"])
    totals = {"units": counts, "value": sum((r["value"] for r in ordered), ZERO)}
    return Report("redemptions", ask.start, ask.end, books.config.currency, COLUMNS, ordered,
                  totals, footer=footer, by_entity=by_entity(books, ordered, ["value"], ask.end))
