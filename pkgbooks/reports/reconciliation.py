"""`reconciliation`: cross-entity redemptions and what each owes (SPEC 5.5).

The rows are the destination halves of the `reconciliation` transactions (and
of the voids that reverse them, with negative amounts), read by one BQL
query of their metadata and their `Income:D:Reconciliation` posting. The
customer, the staff member and the item performed come from the redemption
the row pays for (a second query over the redemption transactions, joined on
the event id). What each location owes another is set off pair by pair, and
again per pair of entities: what one franchise settles with another.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pkgbooks.money import ZERO
from pkgbooks.reports.base import Ask, Report, column_sums, period, total_row

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

COLUMNS = ["date", "event", "instance", "customer", "staff", "source", "destination", "item",
           "category", "unit_price", "quantity", "rate", "amount"]


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report, by part."""
    return {
        "reconciliation": whole_query(start, end),
        "redemptions": (
            "SELECT meta['event'] AS event, meta['customer'] AS customer, "
            "meta['staff'] AS staff, meta['item'] AS item FROM #transactions "
            f"WHERE meta['kind'] = 'redemption' AND date <= {end.isoformat()}"
        ),
    }


def whole_query(start: datetime.date, end: datetime.date) -> str:
    """Each cross-entity redemption's charge, as booked by the destination."""
    return (
        "SELECT date, entry_meta('event') AS event, entry_meta('target') AS target, "
        "entry_meta('instance') AS instance, entry_meta('source') AS source, "
        "entry_meta('location') AS destination, entry_meta('item') AS item, "
        "entry_meta('category') AS category, entry_meta('price') AS unit_price, "
        "entry_meta('quantity') AS quantity, entry_meta('rate') AS rate, number AS amount "
        "WHERE account ~ '^Income:[^:]+:Reconciliation$' AND "
        "(entry_meta('kind') = 'reconciliation' OR entry_meta('target_kind') = 'redemption') "
        f"AND {period(start, end)} ORDER BY date"
    )


def run(books: Books, ask: Ask) -> Report:
    """One row per reconciliation (voids negative), and what each location and entity owes."""
    bql = queries(ask.first, ask.end)
    redeemed = {event: (customer, staff, item)
                for event, customer, staff, item in books.query(bql["redemptions"],
                                                                kinds=("redemption",))}
    found = books.query(bql["reconciliation"],
                        kinds=("reconciliation", "redemption"))
    if books.span is not None and any((row[2] or row[1]) not in redeemed for row in found):
        # A void of a redemption made before the months loaded: read them too.
        wider = books.with_history()
        if wider is not books:
            return run(wider, ask)
    rows = []
    for (date, event, target, instance, source, destination, item, category, unit_price,
         quantity, rate, amount) in found:
        if not ask.keeps(source, destination):
            continue
        customer, staff, performed = redeemed.get(target or event, (None, None, item))
        sign = -1 if amount > 0 else 1  # a void debits the income back
        rows.append({
            "date": date.isoformat(), "event": event, "instance": instance,
            "customer": customer or "", "staff": staff or "", "source": source,
            "destination": destination, "item": performed or item, "category": category,
            "unit_price": Decimal(unit_price), "quantity": sign * int(quantity),
            "rate": rate, "amount": -amount,
        })
    net = net_due(rows, lambda loc, _on: loc)
    # Each redemption settles between the entities of its day (SPEC 2a).
    by_entity = net_due(rows, lambda loc, on: books.entity_of(loc, datetime.date.fromisoformat(on)))
    sums = column_sums(rows, ["amount"])
    return Report("reconciliation", ask.start, ask.end, books.config.currency, COLUMNS, rows,
                  {"amount": sums["amount"], "net_due": net},
                  footer=[total_row("date", sums)],
                  blocks={"net due": net, "net due by entity": by_entity},
                  by_entity=by_entity)


def net_due(
    rows: list[dict[str, Any]], party: Callable[[str, str], str]
) -> list[dict[str, Any]]:
    """What each party owes another, the two directions set off.

    `party(location, date)` names the party a row's location stands for on the
    row's date: the location itself, or its entity then.
    """
    owed: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        pair = (party(row["source"], row["date"]), party(row["destination"], row["date"]))
        owed[pair] = owed.get(pair, ZERO) + row["amount"]
    pairs = []
    for a, b in sorted({tuple(sorted(pair)) for pair in owed if pair[0] != pair[1]}):
        net = owed.get((a, b), ZERO) - owed.get((b, a), ZERO)
        source, destination = (a, b) if net >= 0 else (b, a)
        pairs.append({"source": source, "destination": destination, "amount": abs(net)})
    return pairs
