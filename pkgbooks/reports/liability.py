"""`liability`: the package liability roll-forward per location (SPEC 5.1).

Two BQL queries do the work: the liability balances (opening at the end of
the day before `--from`, closing at the end of `--to`) and the period's
movements on the liability accounts grouped by the kind of transaction. The
Python step classifies each kind into a roll-forward column:

| kind (or the kind a void reverses) | column |
|---|---|
| payment, close                      | sales (close only moves into Deferred: sale basis) |
| redemption                          | redemptions |
| expiry                              | expirations |
| refund                              | refunds, less the forfeited part, which is an expiration |

The forfeited part of a refund is what the same transaction credits to
Breakage or Unclaimed, found by a third query over the refund transactions.

On the sale basis (Zenoti's "Sale Date"), sales are the price less initial
recognition of the packages whose invoice closed in the period, and what was
redeemed from them while the invoice was open counts as redeemed on the close
date. The close transaction carries that value as `redeemed` (and a void that
reopens the invoice takes it back), so a fourth query adds it to both sales
and redemptions: the Deferred movements alone would show the sale net of it.
The report checks closing = opening + sales - redemptions - expirations -
refunds for every location and fails loudly if it does not hold.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from pkgbooks.accounts import EXPIRED_BALANCE, suffixes
from pkgbooks.money import ZERO, fmt
from pkgbooks.reports.base import (
    DEFERRED,
    PACKAGE_LIABILITY,
    Ask,
    Report,
    balance_query,
    balances_by_location,
    by_entity,
    column_sums,
    period,
    total_row,
)

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

COLUMNS = ["opening", "sales", "redemptions", "expirations", "refunds", "closing"]
_EXPIRED_BALANCE = suffixes(EXPIRED_BALANCE)
BUCKET = {"payment": "sales", "close": "sales", "redemption": "redemptions",
          "expiry": "expirations", "refund": "refunds"}


def queries(
    accounts: str, start: datetime.date, end: datetime.date, key: str = "account"
) -> dict[str, str]:
    """The BQL of the report (also kept as `query` directives for Fava).

    `key` groups the movements: by account (then location), or e.g. by
    `any_meta('instance')` for the activity report.
    """
    return {
        "opening": balance_query(accounts, start),
        "closing": balance_query(accounts, end + datetime.timedelta(days=1)),
        "movements": (
            f"SELECT {key} AS key, entry_meta('kind') AS kind, "
            "entry_meta('target_kind') AS target, sum(number) AS amount "
            f"WHERE account ~ '{accounts}' AND {period(start, end)} "
            "GROUP BY key, kind, target ORDER BY key, kind, target"
        ),
        "redeemed_while_open": (
            "SELECT meta['location'] AS location, meta['kind'] AS kind, "
            "meta['redeemed'] AS redeemed FROM #transactions WHERE meta['redeemed'] IS NOT NULL "
            f"AND {period(start, end)}"
        ),
        "refunds": (
            f"SELECT id, account, {key} AS key, number WHERE (entry_meta('kind') = 'refund' OR "
            f"entry_meta('target_kind') = 'refund') AND {period(start, end)}"
        ),
    }


def whole_query(accounts: str, start: datetime.date, end: datetime.date) -> str:
    """The roll-forward in one query: per location, the opening balance (no kind) and the
    period's movements by kind of transaction (and the kind a void reverses)."""
    return (
        "SELECT root(account, 2) AS location, entry_meta('kind') AS kind, "
        "entry_meta('target_kind') AS voided, sum(number) AS amount "
        f"FROM OPEN ON {start.isoformat()} CLOSE ON "
        f"{(end + datetime.timedelta(days=1)).isoformat()} WHERE account ~ '{accounts}' "
        "GROUP BY location, kind, voided ORDER BY location, kind, voided"
    )


def movements(
    books: Books, accounts: str, start: datetime.date, end: datetime.date, key: str = "account"
) -> dict[str, dict[str, Decimal]]:
    """The period's sales, redemptions, expirations and refunds (positive) per key."""
    bql = queries(accounts, start, end, key)
    moved: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {c: ZERO for c in ("sales", "redemptions", "expirations", "refunds")}
    )
    for group, kind, target, amount in books.query(bql["movements"]):
        bucket = BUCKET.get(target if kind == "void" else kind)
        if bucket is None:
            raise books.refused(
                f"{group} moves {fmt(amount)} in transactions of kind {kind!r}, which the "
                "roll-forward does not know: the ledger was not written by pkgbooks"
            )
        # Liabilities are credit (negative) balances: sales are credits, the rest debits.
        moved[group][bucket] += -amount if bucket == "sales" else amount
    for group, forfeit in _forfeits(books, bql["refunds"], accounts).items():
        moved[group]["refunds"] -= forfeit
        moved[group]["expirations"] += forfeit
    return moved


def run(books: Books, ask: Ask) -> Report:
    """The roll-forward per location on `ask.basis` (payment or sale); refuse a broken identity."""
    start, end, basis = ask.first, ask.end, ask.basis
    accounts = PACKAGE_LIABILITY if basis == "payment" else DEFERRED
    rows = books.per_location(COLUMNS, ask)
    opening = balances_by_location(books, accounts, start)
    closing = balances_by_location(books, accounts, end + datetime.timedelta(days=1))
    for loc, row in rows.items():
        row["opening"] = -opening.get(loc, ZERO)
        row["closing"] = -closing.get(loc, ZERO)
    for account, moved in movements(books, accounts, start, end).items():
        loc = books.location_of(account)
        if loc not in rows:
            continue
        for column, amount in moved.items():
            rows[loc][column] += amount
    if basis == "sale":
        bql = queries(accounts, start, end)["redeemed_while_open"]
        for location, kind, redeemed in books.query(bql):
            if location not in rows:
                continue
            amount = -redeemed if kind == "void" else redeemed
            rows[location]["sales"] += amount
            rows[location]["redemptions"] += amount
    for loc, row in rows.items():
        expected = (row["opening"] + row["sales"] - row["redemptions"] - row["expirations"]
                    - row["refunds"])
        if expected != row["closing"]:
            raise books.refused(
                f"roll-forward identity broken for {loc} ({basis} basis): opening + sales - "
                f"redemptions - expirations - refunds = {fmt(expected)}, closing is "
                f"{fmt(row['closing'])}"
            )
    shown = list(rows.values())
    totals = column_sums(shown, COLUMNS)
    return Report("liability", ask.start, end, books.config.currency,
                  ["location", "location_name", *COLUMNS], shown, totals, {"basis": basis},
                  footer=[total_row("location", totals)],
                  by_entity=by_entity(books, shown, COLUMNS, ask.end))


def _forfeits(books: Books, bql: str, accounts: str) -> dict[str, Decimal]:
    """Per key, what refunds (less voids of refunds) forfeited from the liability.

    The forfeit is what a refund transaction credits to Breakage or Unclaimed;
    only refunds that took the package off the accounts of this basis count,
    and it is booked under the key of the refund's liability posting.
    """
    liability = re.compile(accounts)
    postings: dict[str, list[tuple[str, str, Decimal]]] = defaultdict(list)
    for entry_id, account, group, number in books.query(bql, kinds=("refund",)):
        postings[entry_id].append((account, group, number))
    forfeits: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for lines in postings.values():
        keys = [group for account, group, _ in lines if liability.search(account)]
        if not keys:
            continue
        for account, _group, number in lines:
            if account.endswith(_EXPIRED_BALANCE):
                forfeits[keys[0]] += -number
    return forfeits
