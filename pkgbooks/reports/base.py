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
from pkgbooks.errors import Failed, file_error, plain_error
from pkgbooks.layout import CONFIG, inputs_digest, load_ledger
from pkgbooks.ledger import AS_OF_DIRECTIVE, INPUTS_DIRECTIVE, MAIN
from pkgbooks.money import ZERO, fmt
from pkgbooks.postings import META_TYPES
from pkgbooks.reports.cache import Cache
from pkgbooks.reports.loading import LedgerFiles, Span, load_span, read_files

# A report column named after typed transaction metadata (`pkgbooks.postings.Meta`)
# comes back from `Books.query` as that type: Beancount keeps metadata as the text
# pkgbooks wrote, and this is the one place that reads it back into numbers.
COLUMN_TYPES: dict[str, type] = {**META_TYPES, "unit_price": Decimal}

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


@dataclass(slots=True)
class Books:
    """A books directory's configuration and its ledger, loaded by Beancount."""

    directory: Path
    config: Config
    entries: list[data.Directive]
    options: dict[str, Any]
    as_of: datetime.date | None
    span: Span | None = None  # the months loaded (None: the whole ledger)
    _of_kinds: dict[tuple[str, ...], list[data.Directive]] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path, span: Span | None = None,
             files: LedgerFiles | None = None) -> Books:
        """Load a books directory; refuse one with no ledger, a broken one, or a stale one.

        With a `span`, only its months are loaded when the month files are as
        the build wrote them (`pkgbooks.reports.loading`); `files` are the
        ledger's files if the caller has read them already.
        """
        config = load_config(directory / CONFIG)
        main = directory / MAIN
        if not main.exists():
            raise Failed([file_error(
                str(main), f"no ledger yet: run `pkgbooks build {directory}` first"
            )])
        loaded = None
        if span is not None:
            files = files or read_files(main)
            loaded = (load_span(files, span, Cache.default(), config) if files is not None
                      else None)
        if loaded is None:
            span = None
            loaded = load_ledger(main)
        entries, errors, options = loaded
        if errors:
            raise Failed([file_error(
                str(main), f"Beancount reports {len(errors)} error(s): run "
                f"`pkgbooks validate {directory}`"
            )])
        as_of = refuse_stale(directory, entries)
        return cls(directory, config, entries, options, as_of, span)

    def with_history(self) -> Books:
        """The same books with every month from the first through the span's last loaded."""
        if self.span is None or self.span.first is None:
            return self
        return Books.load(self.directory, Span(None, self.span.last))

    def query(self, bql: str, kinds: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        """Run BQL; metadata columns come back typed (see `COLUMN_TYPES`).

        `kinds`: the query keeps only transactions of these kinds and the voids
        of them (its WHERE says so); it then runs over those transactions alone,
        which gives the same rows without BQL evaluating every other entry.
        """
        entries = self.entries
        if kinds:
            if kinds not in self._of_kinds:
                wanted = set(kinds)
                self._of_kinds[kinds] = [
                    e for e in entries if isinstance(e, data.Transaction)
                    and (e.meta.get("kind") in wanted or e.meta.get("target_kind") in wanted)
                ]
            entries = self._of_kinds[kinds]
        columns, rows = query.run_query(entries, self.options, bql)
        types = [COLUMN_TYPES.get(c.name) for c in columns]
        if not any(types):
            return list(rows)
        return [tuple(value if kind is None or value is None else kind(value)
                      for kind, value in zip(types, row, strict=True)) for row in rows]

    def refused(self, message: str) -> Failed:
        """The report cannot accept this ledger: an error naming the ledger file."""
        return Failed([file_error(str(self.directory / MAIN), message)])

    def location_of(self, account: str) -> str:
        """The location id of an account (`Liabilities:Loc11:...` -> `loc-11`)."""
        parsed = accounts.parse(account)
        if parsed is None:
            raise self.refused(f"{account}: not an account pkgbooks writes")
        return self.segments[parsed.segment]

    @property
    def segments(self) -> dict[str, str]:
        """Location id by account segment."""
        return {spec.account: loc for loc, spec in self.config.locations.items()}

    def per_location(self, columns: list[str], ask: Ask) -> dict[str, dict[str, Any]]:
        """One zeroed row per selected location, in configuration order, with its name."""
        return {
            loc: {"location": loc, "location_name": self.name_of(loc),
                  **{c: ZERO for c in columns}}
            for loc in ask.locations
        }

    def name_of(self, location: str) -> str:
        """A location's name, as `pkgbooks.toml` gives it."""
        return self.config.locations[location].name

    def entity_of(self, location: str, on: datetime.date) -> str:
        """The entity (franchise) a location belongs to on a date (SPEC 2a)."""
        return self.config.entity_on(location, on)

    def ask(
        self, start: datetime.date | None, end: datetime.date, basis: str = "payment",
        locations: tuple[str, ...] = (), entity: str | None = None,
    ) -> Ask:
        """The report's scope; Failed for an unknown location or entity."""
        configured = list(self.config.locations)
        unknown = [loc for loc in locations if loc not in configured]
        if unknown:
            raise option_error(
                f"unknown location {', '.join(map(repr, unknown))} (configured: "
                f"{', '.join(configured)})"
            )
        entities = self.config.entities()
        if entity is not None and entity not in entities:
            raise option_error(
                f"unknown entity {entity!r} (configured: {', '.join(sorted(entities))})"
            )
        chosen = [loc for loc in configured
                  if (not locations or loc in locations)
                  and (entity is None or self.entity_of(loc, end) == entity)]
        return Ask(start, end, tuple(chosen), basis, bool(locations) or entity is not None)


def refuse_stale(directory: Path, entries: list[data.Directive]) -> datetime.date | None:
    """The books' as-of date; Failed if the ledger was built from other inputs than today's."""
    customs = {e.type: e for e in entries if isinstance(e, data.Custom)}
    recorded = customs.get(INPUTS_DIRECTIVE)
    if recorded is None or recorded.values[0].value != inputs_digest(directory):
        raise Failed([file_error(
            str(directory / MAIN), "the ledger is older than pkgbooks.toml or events/: run "
            f"`pkgbooks build {directory}` first"
        )])
    return customs[AS_OF_DIRECTIVE].date if AS_OF_DIRECTIVE in customs else None


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
