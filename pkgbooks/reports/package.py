"""`package`: one package instance's whole history, liability and units left (SPEC 6a).

Like the other reports it reads the ledger, never the events: the
transactions linked `^<instance>` (every generated transaction about a
package carries the link, SPEC 4) and, per transaction, what it moved on
the package's liability (`Deposits` + `Deferred` postings of the instance).
It filters the loaded entries by link rather than running BQL because each
history line links to its entry in Fava's journal by the entry's hash, a
column BQL's transactions table does not have (and a redemption worth 0.00
has no postings to find it by).
Units used are the redemptions' `quantity`, less what voids gave back,
counted against the line they were drawn from (`line`, else the item).

`liability_by_month` is the series behind the chart of package liability
per location over time: the liability balance of each location at the end
of every month, from one BQL query of the monthly movements.
"""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

from beancount.core import data
from beancount.core.compare import hash_entry

from pkgbooks.config import ANY_SERVICE
from pkgbooks.errors import Failed, plain_error
from pkgbooks.money import ZERO, fmt
from pkgbooks.reports.base import DEFERRED, PACKAGE_LIABILITY
from pkgbooks.reports.books import Books

_LIABILITY = re.compile(PACKAGE_LIABILITY)
ENDED = {"expiry": "expired", "refund": "refunded"}


def lookup(books: Books, instance: str) -> dict[str, Any]:
    """The instance's history, each entry with what it moved on the liability (JSON shape)."""
    history: list[dict[str, Any]] = []
    facts: dict[str, Any] = {}
    used: dict[str, int] = defaultdict(int)
    status = "running"
    liability = ZERO
    for entry in _linked(books, instance):
        meta = entry.meta
        change = -sum((p.units.number for p in entry.postings
                       if _LIABILITY.search(p.account) and _instance(entry, p) == instance
                       and p.units is not None and p.units.number is not None), ZERO)
        liability += change
        kind, target, quantity = meta.get("kind"), meta.get("target_kind"), meta.get("quantity")
        history.append({
            "id": hash_entry(entry), "date": entry.date.isoformat(), "kind": kind,
            "target_kind": target, "event": meta.get("event"), "narration": entry.narration,
            "location": meta.get("location"), "staff": meta.get("staff"),
            "item": meta.get("item"), "quantity": int(quantity) if quantity else None,
            "liability_change": fmt(change), "liability": fmt(liability),
        })
        if kind == "sale":
            facts = {key: meta.get(key) for key in (
                "package", "location", "customer", "invoice", "staff", "price", "tax")}
            facts["sold"] = entry.date.isoformat()
        undo = kind == "void"
        what = target if undo else kind
        if what == "redemption" and quantity:
            line = str(meta.get("line") or meta.get("item"))
            used[line] += -int(quantity) if undo else int(quantity)
        elif what in ENDED:
            status = "running" if undo else ENDED[what]
    if not history:
        raise Failed([plain_error(f"no package {instance!r} in the books")])
    units = _units(books, facts.get("package"), used)
    if status == "running" and units and all(u["left"] <= 0 for u in units):
        status = "used"
    return {
        "report": "package", "instance": instance, "currency": books.config.currency,
        "as_of": books.as_of.isoformat() if books.as_of else None, **facts,
        "status": status, "liability": fmt(liability), "units": units, "history": history,
    }


def _linked(books: Books, instance: str) -> list[data.Transaction]:
    return [e for e in books.entries
            if isinstance(e, data.Transaction) and instance in (e.links or ())]


def _instance(entry: data.Transaction, posting: data.Posting) -> str | None:
    value = (posting.meta or {}).get("instance") or entry.meta.get("instance")
    return str(value) if value else None


def _units(books: Books, package: str | None, used: dict[str, int]) -> list[dict[str, Any]]:
    """Each line of the package: bought, used, left (a service it lacks draws on `*`)."""
    spec = books.config.packages.get(package) if package else None
    if spec is None:
        return []
    lines = {group.item: group.quantity for group in spec.items}
    drawn: dict[str, int] = defaultdict(int)
    for item, count in used.items():
        drawn[item if item in lines or ANY_SERVICE not in lines else ANY_SERVICE] += count
    unit_of = {name: item.unit for name, item in books.config.items.items()}
    return [
        {"item": item, "unit": unit_of.get(item, "visit"), "quantity": quantity,
         "used": drawn[item], "left": quantity - drawn[item]}
        for item, quantity in lines.items()
    ]


def liability_by_month(books: Books, basis: str = "payment") -> list[dict[str, Any]]:
    """Each location's package liability at the end of every month up to the as-of date."""
    accounts = PACKAGE_LIABILITY if basis == "payment" else DEFERRED
    rows = books.query(
        f"SELECT year(date) AS y, month(date) AS m, account, sum(number) AS amount "
        f"WHERE account ~ '{accounts}' GROUP BY y, m, account ORDER BY y, m"
    )
    if not rows:
        return []
    by_month: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(dict)
    for year, month, account, amount in rows:
        loc = books.location_of(account)
        by_month[(year, month)][loc] = by_month[(year, month)].get(loc, ZERO) - amount
    first = min(by_month)
    last = max(by_month)
    if books.as_of is not None:
        last = max(last, (books.as_of.year, books.as_of.month))
    balance = {loc: ZERO for loc in books.config.locations}
    series = []
    year, month = first
    while (year, month) <= last:
        for loc, amount in by_month.get((year, month), {}).items():
            balance[loc] += amount
        end = _month_end(year, month)
        if books.as_of is not None and end > books.as_of:
            end = books.as_of
        series.append({"date": end.isoformat(), "balances": dict(balance)})
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return series


def _month_end(year: int, month: int) -> datetime.date:
    following = datetime.date(year + 1, 1, 1) if month == 12 else datetime.date(year, month + 1, 1)
    return following - datetime.timedelta(days=1)
