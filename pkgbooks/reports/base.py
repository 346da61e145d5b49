"""What every report shares: the loaded books, running BQL, the report's shape.

Reports are Beancount queries (beanquery) over the ledger `pkgbooks build`
wrote, never recomputed from the events. A report refuses books whose
ledger is missing or was built from other inputs than the ones on disk.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from beancount.core import data
from beanquery import query

from pkgbooks import accounts
from pkgbooks.accounts import Role, suffix_pattern
from pkgbooks.config import Config, load_config
from pkgbooks.errors import Failed, file_error
from pkgbooks.layout import CONFIG, inputs_digest, load_ledger
from pkgbooks.ledger import AS_OF_DIRECTIVE, INPUTS_DIRECTIVE, MAIN
from pkgbooks.money import ZERO, fmt
from pkgbooks.postings import META_TYPES

# A report column named after typed transaction metadata (`pkgbooks.postings.Meta`)
# comes back from `Books.query` as that type: Beancount keeps metadata as the text
# pkgbooks wrote, and this is the one place that reads it back into numbers.
COLUMN_TYPES: dict[str, type] = {**META_TYPES, "unit_price": Decimal}

PACKAGE_LIABILITY = suffix_pattern(*accounts.PACKAGE_LIABILITY)
DEFERRED = suffix_pattern(Role.DEFERRED)


@dataclass(slots=True)
class Report:
    """One report: rows keyed by column name, amounts as Decimal until written out."""

    name: str
    start: datetime.date
    end: datetime.date
    currency: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # e.g. the basis

    def as_json(self) -> dict[str, Any]:
        """SPEC 5 JSON: amounts as strings with two decimals."""
        return {
            "report": self.name, "from": self.start.isoformat(), "to": self.end.isoformat(),
            "currency": self.currency, **self.extra,
            "rows": [_plain(row) for row in self.rows], "totals": _plain(self.totals),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass(slots=True)
class Books:
    """A books directory's configuration and its ledger, loaded by Beancount."""

    directory: Path
    config: Config
    entries: list[data.Directive]
    options: dict[str, Any]
    as_of: datetime.date | None

    @classmethod
    def load(cls, directory: Path) -> Books:
        """Load a books directory; refuse one with no ledger, a broken one, or a stale one."""
        config = load_config(directory / CONFIG)
        main = directory / MAIN
        if not main.exists():
            raise Failed([file_error(
                str(main), f"no ledger yet: run `pkgbooks build {directory}` first"
            )])
        entries, errors, options = load_ledger(main)
        if errors:
            raise Failed([file_error(
                str(main), f"Beancount reports {len(errors)} error(s): run "
                f"`pkgbooks validate {directory}`"
            )])
        customs = {e.type: e for e in entries if isinstance(e, data.Custom)}
        recorded = customs.get(INPUTS_DIRECTIVE)
        if recorded is None or recorded.values[0].value != inputs_digest(directory):
            raise Failed([file_error(
                str(main), "the ledger is older than pkgbooks.toml or events/: run "
                f"`pkgbooks build {directory}` first"
            )])
        as_of = customs[AS_OF_DIRECTIVE].date if AS_OF_DIRECTIVE in customs else None
        return cls(directory, config, entries, options, as_of)

    def query(self, bql: str) -> list[tuple[Any, ...]]:
        """Run BQL; metadata columns come back typed (see `COLUMN_TYPES`)."""
        columns, rows = query.run_query(self.entries, self.options, bql)
        kinds = [COLUMN_TYPES.get(c.name) for c in columns]
        if not any(kinds):
            return list(rows)
        return [tuple(value if kind is None or value is None else kind(value)
                      for kind, value in zip(kinds, row, strict=True)) for row in rows]

    def location_of(self, account: str) -> str:
        """The location id of an account (`Liabilities:Loc11:...` -> `loc-11`)."""
        parsed = accounts.parse(account)
        if parsed is None:
            raise Failed([file_error(str(self.directory / MAIN),
                                     f"{account}: not an account pkgbooks writes")])
        return self.segments[parsed.segment]

    @property
    def segments(self) -> dict[str, str]:
        """Location id by account segment."""
        return {spec.account: loc for loc, spec in self.config.locations.items()}

    def per_location(self, columns: list[str]) -> dict[str, dict[str, Any]]:
        """One zeroed row per configured location, in configuration order."""
        return {
            loc: {"location": loc, **{c: ZERO for c in columns}}
            for loc in self.config.locations
        }


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
