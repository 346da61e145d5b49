"""`collections`: money received, where it was received, by method (SPEC 5.7).

Zenoti's "Collections by Item": one BQL query reads every posting of the
payment and refund transactions (and of the voids that reverse them) over
the period. Per event, the cash posting says where the money was taken and
how (`Assets:L:Cash:Card`: location L, method card) and how much; the
postings at the source say what it paid for: `SalesTax` is tax,
`InitialRecognition` the initial recognition, `Products` products, and the
rest (deposits, deferred revenue, a balance that had already ended) the
packages. A refund, paid out, is a negative row of the same shape. So the
rows of a location add up to the movement of its cash accounts.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pkgbooks import accounts
from pkgbooks.accounts import CASH_BY_METHOD, Role
from pkgbooks.money import ZERO
from pkgbooks.reports.base import (
    Ask,
    Report,
    by_entity,
    column_sums,
    period,
    total_row,
)

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

METHODS = tuple(CASH_BY_METHOD)
_METHOD_OF = {role: method for method, role in CASH_BY_METHOD.items()}
KINDS = ("payment", "refund")
AMOUNTS = ["packages", "initial_recognition", "products", "tax", "total"]
COLUMNS = ["location", "location_name", "method", "kind", *AMOUNTS]
SPLIT = {Role.SALES_TAX: "tax", Role.INITIAL_RECOGNITION: "initial_recognition",
         Role.PRODUCTS: "products"}
_MONEY = ("(entry_meta('kind') IN ('payment', 'refund') OR "
          "entry_meta('target_kind') IN ('payment', 'refund'))")


def queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """The BQL of the report."""
    return {"postings": (
        "SELECT entry_meta('event') AS event, entry_meta('kind') AS kind, "
        "entry_meta('target_kind') AS voided, account, number "
        f"WHERE {_MONEY} AND {period(start, end)}"
    )}


def whole_query(start: datetime.date, end: datetime.date) -> str:
    """Money received and paid out over the period, by account: cash, and what it paid."""
    return (
        "SELECT entry_meta('kind') AS kind, entry_meta('target_kind') AS voided, account, "
        f"sum(number) AS amount WHERE {_MONEY} AND {period(start, end)} AND NOT "
        "account ~ ':(DueTo|DueFrom):' GROUP BY kind, voided, account "
        "ORDER BY kind, voided, account"
    )


def run(books: Books, ask: Ask) -> Report:
    """Money received and paid out per location where it was taken, method and kind."""
    events: dict[str, list[tuple[str, str, Decimal]]] = defaultdict(list)
    for event, kind, voided, account, number in books.query(
        queries(ask.first, ask.end)["postings"], kinds=("payment", "refund")
    ):
        events[event].append((voided or kind, account, number))
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for loc in ask.locations:
        for method in METHODS:
            rows[(loc, method, "payment")] = _row(books, loc, method, "payment")
    for postings in events.values():
        parsed = [(kind, accounts.parse(account), number) for kind, account, number in postings]
        cash = [(name, number) for _, name, number in parsed
                if name is not None and name.role in _METHOD_OF]
        if not cash:
            continue
        [(account, total)] = cash
        loc, method = books.segments[account.segment], _METHOD_OF[account.role]
        if not ask.keeps(loc):
            continue
        kind = postings[0][0]
        row = rows.setdefault((loc, method, kind), _row(books, loc, method, kind))
        split = {c: ZERO for c in SPLIT.values()}
        for _, name, number in parsed:
            if name is not None and name.role in SPLIT:
                split[SPLIT[name.role]] -= number  # credits: what the money paid for
        row["total"] += total
        for column, amount in split.items():
            row[column] += amount
        row["packages"] += total - sum(split.values(), ZERO)
    order = {(loc, method, kind): (ask.locations.index(loc), KINDS.index(kind),
                                   METHODS.index(method))
             for loc, method, kind in rows}
    shown = [rows[key] for key in sorted(rows, key=order.__getitem__)]
    totals = column_sums(shown, AMOUNTS)
    return Report("collections", ask.start, ask.end, books.config.currency, COLUMNS, shown,
                  totals, footer=[total_row("location", totals)],
                  by_entity=by_entity(books, shown, AMOUNTS, ask.end))


def _row(books: Books, loc: str, method: str, kind: str) -> dict[str, Any]:
    return {"location": loc, "location_name": books.name_of(loc), "method": method,
            "kind": kind, **{a: ZERO for a in AMOUNTS}}
