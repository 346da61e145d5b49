"""`expirations`: every expiry and forfeit in the period (SPEC 5.9).

The drill-down behind the roll-forward's expirations (5.1): one BQL query
reads the expiry and refund transactions (and the voids of refunds) with
their credit to `Breakage` or `Unclaimed`. `reason` is `expired` for an
expiry the build generated (event `expiry:<instance>`), `early` for an
`expiry` event, `refund` for what a refund forfeited; `account` says where
the balance went. A second query gives each location's `Unclaimed` balance
at `--to`: the unclaimed-property balance to report to the state.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from pkgbooks import accounts
from pkgbooks.accounts import EXPIRED_BALANCE, Role, suffix_pattern
from pkgbooks.money import ZERO
from pkgbooks.reports.base import (
    Ask,
    Report,
    balances_by_location,
    by_entity,
    column_sums,
    period,
    total_row,
)

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

COLUMNS = ["date", "instance", "package", "location", "location_name", "customer", "amount",
           "account", "reason"]
ENDED = suffix_pattern(*EXPIRED_BALANCE)
UNCLAIMED = suffix_pattern(Role.UNCLAIMED)


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report."""
    return {"expirations": whole_query(start, end)}


def whole_query(start: datetime.date, end: datetime.date) -> str:
    """Each expiry and refund with what it sent to Breakage or Unclaimed (credits negative)."""
    return (
        "SELECT date, entry_meta('event') AS event, entry_meta('kind') AS kind, "
        "entry_meta('instance') AS instance, entry_meta('package') AS package, "
        "entry_meta('customer') AS customer, account, number AS amount "
        f"WHERE account ~ '{ENDED}' AND (entry_meta('kind') IN ('expiry', 'refund') OR "
        f"entry_meta('target_kind') = 'refund') AND {period(start, end)} "
        "ORDER BY date, event"
    )


def run(books: Books, ask: Ask) -> Report:
    """One row per expiry or forfeit in the period, and the unclaimed property per location."""
    rows: list[dict[str, Any]] = []
    for date, event, kind, instance, package, customer, account, amount in books.query(
        queries(ask.first, ask.end)["expirations"], kinds=("expiry", "refund")
    ):
        loc = books.location_of(account)
        if not ask.keeps(loc):
            continue
        reason = "refund" if kind != "expiry" else (
            "expired" if event.startswith("expiry:") else "early")
        rows.append({
            "date": date.isoformat(), "instance": instance, "package": package,
            "location": loc, "location_name": books.name_of(loc), "customer": customer,
            "amount": -amount,
            "account": "unclaimed" if _role(account) == Role.UNCLAIMED else "breakage",
            "reason": reason,
        })
    totals: dict[str, Any] = {
        "amount": column_sums(rows, ["amount"])["amount"],
        "breakage": sum((r["amount"] for r in rows if r["account"] == "breakage"), ZERO),
        "unclaimed": sum((r["amount"] for r in rows if r["account"] == "unclaimed"), ZERO),
    }
    balances = balances_by_location(books, UNCLAIMED, ask.end + datetime.timedelta(days=1))
    totals["unclaimed_by_location"] = {
        loc: {"location_name": books.name_of(loc),
              "period": sum((r["amount"] for r in rows
                             if r["location"] == loc and r["account"] == "unclaimed"), ZERO),
              "balance": -balances.get(loc, ZERO)}
        for loc in ask.locations
    }
    unclaimed = [{"location": loc, **figures}
                 for loc, figures in totals["unclaimed_by_location"].items()]
    for row in rows:
        row["breakage"] = row["amount"] if row["account"] == "breakage" else ZERO
        row["unclaimed"] = row["amount"] if row["account"] == "unclaimed" else ZERO
    entity_totals = by_entity(books, rows, ["amount", "breakage", "unclaimed"], ask.end)
    for row in rows:
        del row["breakage"], row["unclaimed"]
    return Report("expirations", ask.start, ask.end, books.config.currency, COLUMNS, rows,
                  totals, footer=[total_row("date", {"amount": totals["amount"]})],
                  blocks={"unclaimed property by location": unclaimed},
                  by_entity=entity_totals)


def _role(account: str) -> Role | None:
    parsed = accounts.parse(account)
    return parsed.role if parsed is not None else None
