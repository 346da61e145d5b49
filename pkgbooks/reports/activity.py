"""`activity`: each package instance over the period, with totals (SPEC 5.2).

BQL reads the sales records (price, tax, customer, who sold it) and, through
the liability report's movement query grouped by `any_meta('instance')`,
what was paid (sales, payment basis), redeemed, expired (including what
refunds forfeited) and refunded (net) per instance; two more give each
instance's liability at the start (`opening`) and its change over the period,
whose sum is the liability at `--to` (`remaining`), so that every row adds up
(checked): remaining = opening + sales - redeemed - expired - refunded. A row
is shown for every instance that held a liability or moved in the period.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pkgbooks.money import ZERO, fmt
from pkgbooks.reports.base import (
    PACKAGE_LIABILITY,
    Ask,
    Report,
    by_entity,
    column_sums,
    period,
    total_row,
)
from pkgbooks.reports.liability import movements

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

AMOUNTS = ["purchased", "tax", "opening", "sales", "redeemed", "expired", "refunded",
           "remaining"]
COLUMNS = ["instance", "package", "location", "location_name", "customer", "staff", *AMOUNTS]


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
        "opening": _balances(f"date < {start.isoformat()}"),
        "changed": _balances(period(start, end)),
    }


def whole_query(start: datetime.date, end: datetime.date) -> str:
    """Every instance's liability movements over the period, by kind (opening: kind empty)."""
    return (
        "SELECT any_meta('instance') AS instance, any_meta('package') AS package, "
        "entry_meta('kind') AS kind, entry_meta('target_kind') AS voided, "
        f"sum(number) AS amount FROM OPEN ON {start.isoformat()} CLOSE ON "
        f"{(end + datetime.timedelta(days=1)).isoformat()} WHERE account ~ "
        f"'{PACKAGE_LIABILITY}' GROUP BY instance, package, kind, voided "
        "ORDER BY instance, kind, voided"
    )


def _balances(when: str) -> str:
    return (
        "SELECT any_meta('instance') AS instance, sum(number) AS amount "
        f"WHERE account ~ '{PACKAGE_LIABILITY}' AND {when} GROUP BY instance"
    )


def run(books: Books, ask: Ask) -> Report:
    """One row per package instance that held a liability or moved in the period; each adds up."""
    start, end = ask.first, ask.end
    bql = queries(start, end)
    rows: dict[str, dict[str, Any]] = {}
    for date, instance, package, location, customer, staff, kind, price, tax in books.query(
        bql["sales"], kinds=("sale",)
    ):
        row = rows.setdefault(instance, {
            "instance": instance, "package": package, "location": location,
            "location_name": books.name_of(location), "customer": customer,
            "staff": staff or "", **{a: ZERO for a in AMOUNTS},
        })
        if start <= date <= end:
            sign = -1 if kind == "void" else 1
            row["purchased"] += sign * Decimal(price)
            row["tax"] += sign * Decimal(tax)
    moved = movements(books, PACKAGE_LIABILITY, start, end, key="any_meta('instance')")
    for instance, figures in moved.items():
        row = rows[instance]
        row["sales"] += figures["sales"]
        row["redeemed"] += figures["redemptions"]
        row["expired"] += figures["expirations"]
        row["refunded"] += figures["refunds"]
    # The liability at --to is the opening plus the period's change: one scan of the
    # history before --from, not two (the identity check below still compares it
    # with the movements classified by kind).
    opening = dict(books.query(bql["opening"]))
    changed = dict(books.query(bql["changed"]))
    for instance, row in rows.items():
        if instance in opening:
            row["opening"] = -opening[instance]
        if instance in opening or instance in changed:
            row["remaining"] = -(opening.get(instance, ZERO) + changed.get(instance, ZERO))
    shown = [row for row in rows.values()
             if ask.keeps(row["location"]) and any(row[a] for a in AMOUNTS)]
    shown.sort(key=lambda row: row["instance"])
    for row in shown:
        _check(books, row)
    totals: dict[str, Any] = {"all": column_sums(shown, AMOUNTS)}
    for by in ("package", "location", "staff"):
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in shown:
            groups[row[by]].append(row)
        totals[f"by_{by}"] = {
            name: column_sums(group, AMOUNTS) for name, group in sorted(groups.items())
        }
    return Report("activity", ask.start, end, books.config.currency, COLUMNS, shown, totals,
                  footer=[total_row("instance", totals["all"])],
                  by_entity=by_entity(books, shown, AMOUNTS, ask.end))


def _check(books: Books, row: dict[str, Any]) -> None:
    """remaining = opening + sales - redeemed - expired - refunded, or the ledger is not ours."""
    expected = (row["opening"] + row["sales"] - row["redeemed"] - row["expired"]
                - row["refunded"])
    if expected != row["remaining"]:
        raise books.refused(
            f"{row['instance']}: opening + sales - redeemed - expired - refunded = "
            f"{fmt(expected)}, but its liability is {fmt(row['remaining'])}"
        )
