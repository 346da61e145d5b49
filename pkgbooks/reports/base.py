"""What every report shares: the report's shape, what it is asked, its BQL helpers.

Reports are Beancount queries (beanquery) over the ledger `pkgbooks build`
wrote, never recomputed from the events; `pkgbooks.reports.books` loads that
ledger and runs the queries. This module needs neither Beancount nor
beanquery, so that each report's BQL text (its `queries()` and
`whole_query()`) can be had without them: a build writes the reports'
`query` directives (`pkgbooks.reports.directives`) and imports neither.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pkgbooks import accounts
from pkgbooks.accounts import Role, suffix_pattern
from pkgbooks.errors import Failed, plain_error
from pkgbooks.money import ZERO, fmt

if TYPE_CHECKING:
    from pkgbooks.reports.books import Books

PACKAGE_LIABILITY = suffix_pattern(*accounts.PACKAGE_LIABILITY)
DEFERRED = suffix_pattern(Role.DEFERRED)


@dataclass(frozen=True, slots=True)
class Ask:
    """What a report is asked for: its period, basis and the locations it covers.

    `start` is None for the as-of reports (customers, invoices); `locations`
    holds the selected location ids in configuration order (every location
    when no `--location` or `--entity` was given).
    """

    start: datetime.date | None
    end: datetime.date
    locations: tuple[str, ...]
    basis: str = "payment"
    filtered: bool = False

    @property
    def first(self) -> datetime.date:
        """The first day of the period (the as-of reports look at the whole history)."""
        return self.start or datetime.date.min

    def keeps(self, *locations: str | None) -> bool:
        """Whether a row about these locations (any of them) is in the report."""
        return any(loc in self.locations for loc in locations if loc)


@dataclass(slots=True)
class Report:
    """One report: rows keyed by column name, amounts as Decimal until written out.

    `totals` is the JSON totals object; `footer` the totals row(s) that end
    the table and the CSV (one per unit where unit counts differ, SPEC 5);
    `blocks` further small tables written after them (e.g. what each
    location owes another); `by_entity` the franchise subtotals of a
    per-location report (None where the report is not per location).
    """

    name: str
    start: datetime.date | None
    end: datetime.date
    currency: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # e.g. the basis
    as_of: datetime.date | None = None
    footer: list[dict[str, Any]] = field(default_factory=list)
    blocks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_entity: Any = None

    def as_json(self) -> dict[str, Any]:
        """SPEC 5 JSON: amounts as strings with two decimals."""
        document: dict[str, Any] = {
            "report": self.name, "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat(), "as_of": self.as_of.isoformat() if self.as_of else None,
            "currency": self.currency, **self.extra,
            "rows": [_plain(row) for row in self.rows], "totals": _plain(self.totals),
        }
        if self.by_entity is not None:
            document["totals_by_entity"] = _plain(self.by_entity)
        return document


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def balance_query(accounts: str, before: datetime.date) -> str:
    """BQL: each matching account's balance at the end of the day before `before`."""
    return (
        f"SELECT account, sum(number) AS amount WHERE account ~ '{accounts}' "
        f"AND date < {before.isoformat()} GROUP BY account ORDER BY account"
    )


def balances_by_location(books: Books, accounts: str, before: datetime.date) -> dict[str, Decimal]:
    """Balance of the matching accounts per location at the end of the day before `before`."""
    rows = books.query(balance_query(accounts, before))
    totals: dict[str, Decimal] = {}
    for account, amount in rows:
        loc = books.location_of(account)
        totals[loc] = totals.get(loc, ZERO) + amount
    return totals


def period(start: datetime.date, end: datetime.date) -> str:
    """A BQL condition for dates within the report's period (both ends included)."""
    return f"date >= {start.isoformat()} AND date <= {end.isoformat()}"


def column_sums(rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Decimal]:
    """The sum of each money column over the rows."""
    return {c: sum((row[c] for row in rows), ZERO) for c in columns}


def by_entity(
    books: Books, rows: list[dict[str, Any]], columns: list[str], on: datetime.date,
    key: str = "location",
) -> dict[str, dict[str, Decimal]]:
    """Franchise subtotals: the money columns summed over each entity's locations.

    A location that changed franchise (SPEC 2a) counts with the one it belongs
    to on `on`, the report's `--to`: the entity whose books hold it then.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for loc in books.config.locations:
        groups.setdefault(books.entity_of(loc, on), [])
    for row in rows:
        groups[books.entity_of(row[key], on)].append(row)
    return {entity: column_sums(group, columns) for entity, group in groups.items() if group}


def total_row(first: str, sums: dict[str, Any], label: str = "total") -> dict[str, Any]:
    """A totals row for the table and the CSV: the label in the first column."""
    return {**sums, first: label}


def unit_of(books: Books, item: str | None) -> str:
    """The unit an item is counted in (`visit` for `*` and items no longer in the catalog)."""
    spec = books.config.items.get(item or "")
    return spec.unit if spec is not None else "visit"


def unit_totals(
    rows: list[dict[str, Any]], first: str, count: str, money: list[str]
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Unit counts per unit, and the totals rows: counts are never added across units.

    With one unit, a single `total` row; with several, a `total <unit>` row per
    unit (its count and its money), then a `total` row of money only.
    """
    units = sorted({row["unit"] for row in rows})
    counts = {u: sum(row[count] for row in rows if row["unit"] == u) for u in units}
    everything = column_sums(rows, money)
    if len(units) <= 1:
        return counts, [total_row(first, {**everything, count: sum(counts.values()),
                                          "unit": units[0] if units else ""})]
    footer = [
        total_row(first, {**column_sums([r for r in rows if r["unit"] == u], money),
                          count: counts[u], "unit": u}, f"total {u}")
        for u in units
    ]
    return counts, [*footer, total_row(first, everything)]


def option_error(message: str) -> Failed:
    """What was asked of a report cannot be answered (an option on the command line)."""
    return Failed([plain_error(message)])
