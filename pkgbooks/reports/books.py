"""The books a report reads: Beancount's entries of the ledger, and BQL run over them.

`Books.load` refuses a books directory with no ledger, a broken one, or one
built from other inputs than those on disk; `Books.query` runs a report's BQL
with beanquery. Only the commands that report (and Fava) import this module:
Beancount and beanquery are a large part of what starting Python costs.
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
from pkgbooks.config import Config, load_config
from pkgbooks.errors import Failed, file_error
from pkgbooks.layout import CONFIG, inputs_digest, load_ledger
from pkgbooks.ledger import AS_OF_DIRECTIVE, INPUTS_DIRECTIVE, MAIN
from pkgbooks.money import ZERO
from pkgbooks.postings import META_TYPES
from pkgbooks.reports.base import Ask, option_error
from pkgbooks.reports.cache import Cache
from pkgbooks.reports.loading import LedgerFiles, Span, load_span, read_files

# A report column named after typed transaction metadata (`pkgbooks.postings.Meta`)
# comes back from `Books.query` as that type: Beancount keeps metadata as the text
# pkgbooks wrote, and this is the one place that reads it back into numbers.
COLUMN_TYPES: dict[str, type] = {**META_TYPES, "unit_price": Decimal}


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
