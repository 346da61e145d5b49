"""The ledger's movements as summary journals in GL accounts (SPEC 6).

For each `--group` period inside `--from`..`--to` and each location, the net
movement of each of the location's accounts (the postings of the ledger
as Beancount loads it), mapped to GL accounts: one line per GL account with the
sum of the accounts mapped to it; accounts and lines that net to 0.00 are
left out. Every transaction touches one location (SPEC 4), so every journal
balances to the cent; `journals()` checks it anyway.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from beancount.core import data

from pkgbooks import accounts, progress
from pkgbooks.config import Config
from pkgbooks.errors import Failed, config_error, file_error
from pkgbooks.ledger import MAIN
from pkgbooks.money import ZERO, fmt
from pkgbooks.reports.books import Books

NUMBER_LENGTH = 21  # QuickBooks' DocNumber, IIF DOCNUM


class GLAccount(NamedTuple):
    """A general-ledger account of the target: its name or code, and its id if known."""

    name: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    """One journal line: a GL account, its net amount (debit positive), what it sums."""

    account: GLAccount
    amount: Decimal
    sources: tuple[str, ...]  # the pkgbooks accounts summed into this line

    @property
    def description(self) -> str:
        return ", ".join(self.sources)


@dataclass(frozen=True, slots=True)
class Journal:
    """One location's summary journal for one period (both ends included)."""

    location: str
    location_name: str
    start: datetime.date
    end: datetime.date
    number: str
    lines: tuple[Line, ...]

    @property
    def date(self) -> datetime.date:
        """Dated the last day of its period that lies inside `--to`."""
        return self.end

    @property
    def narration(self) -> str:
        return (f"pkgbooks: {self.location_name} ({self.location}), "
                f"{self.start.isoformat()} to {self.end.isoformat()}")


def periods(
    start: datetime.date, end: datetime.date, group: str
) -> list[tuple[datetime.date, datetime.date]]:
    """The `--group` periods inside `start`..`end`, cut at both ends."""
    found = []
    day = start
    while day <= end:
        if group == "day":
            last = day
        else:
            following = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
            last = following - datetime.timedelta(days=1)
        last = min(last, end)
        found.append((day, last))
        day = last + datetime.timedelta(days=1)
    return found


def journal_number(segment: str, start: datetime.date, end: datetime.date) -> str:
    """A journal's number, at most 21 characters, from its location and exact date range.

    `Loc11-260101-260131`: the location's account segment (unique in the
    books) when it has at most 7 characters, else 7 characters of a digest of
    it; then the first and last dates. The same journal always gets the same
    number, so the target recognises a second import as a duplicate.
    """
    tag = segment
    if len(tag) > 7:
        digest = hashlib.sha256(segment.encode()).digest()
        tag = base64.b32encode(digest).decode()[:7]
    return f"{tag}-{start:%y%m%d}-{end:%y%m%d}"


class AccountMap:
    """A target's account map with SPEC 6's precedence.

    The most specific key wins: the full account, then its role with the
    counterparty (`Liabilities:DueTo:Loc21`), then the role alone.
    """

    def __init__(self, mapping: Mapping[str, GLAccount]) -> None:
        self._mapping = dict(mapping)

    def resolve(self, account: str) -> GLAccount | None:
        found = self._mapping.get(account)
        if found is not None:
            return found
        parsed = accounts.parse(account)
        if parsed is None:
            return None
        found = self._mapping.get(parsed.role_key)
        if found is None and parsed.counterparty is not None:
            found = self._mapping.get(parsed.role)
        return found


Movements = dict[tuple[datetime.date, str], dict[str, Decimal]]


def movements(
    books: Books, start: datetime.date, end: datetime.date, group: str,
    entity: str | None = None,
) -> Movements:
    """Net movement per (period start, location id) and account, from the ledger.

    With `entity`, only the transactions of locations that belonged to it on
    the transaction's date (SPEC 2a, 6b: a location that changed entity
    posts to the old company before the change and to the new one after).

    The postings of the entries Beancount loaded, summed in one pass: the same
    figures as the BQL `SELECT account, sum(number) ... GROUP BY account` per
    period, at a small part of its cost on large books (where the query
    engine's per-row evaluation took longer than all the rest of the export).
    """
    starts = {}
    for first, last in periods(start, end, group):
        day = first
        while day <= last:
            starts[day] = first
            day += datetime.timedelta(days=1)
    segments = books.segments
    moved: Movements = defaultdict(lambda: defaultdict(lambda: ZERO))
    belongs: dict[tuple[str, datetime.date], bool] = {}
    for entry in progress.counting(books.entries, "ledger entries"):
        if not isinstance(entry, data.Transaction) or entry.date not in starts:
            continue
        first = starts[entry.date]
        for posting in entry.postings:
            parsed = accounts.parse(posting.account)
            if parsed is None or parsed.segment not in segments:
                raise Failed([file_error(
                    str(books.directory / MAIN),
                    f"{posting.account}: not an account of a configured location")])
            loc = segments[parsed.segment]
            if entity is not None:
                key = (loc, entry.date)
                if key not in belongs:
                    belongs[key] = books.config.entity_on(loc, entry.date) == entity
                if not belongs[key]:
                    continue
            assert posting.units is not None and posting.units.number is not None
            moved[first, loc][posting.account] += posting.units.number
    return moved


def journals(
    config: Config,
    moved: Movements,
    locations: Iterable[str],
    account_map: AccountMap,
    source: tuple[str, str],
    span: tuple[datetime.date, datetime.date],
    group: str,
) -> list[Journal]:
    """The journals of `locations` (configuration order), period by period.

    Raises Failed naming every account with a movement but no mapping, at
    `source`: (the configuration file, the account map's key).
    """
    unmapped: set[str] = set()
    found = []
    chosen = list(locations)
    for first, last in periods(*span, group):
        for loc in chosen:
            nets = moved.get((first, loc))
            if not nets:
                continue
            lines: dict[GLAccount, tuple[Decimal, list[str]]] = {}
            for account in sorted(nets):
                amount = nets[account]
                if not amount:
                    continue
                gl = account_map.resolve(account)
                if gl is None:
                    unmapped.add(account)
                    continue
                total, sources = lines.get(gl, (ZERO, []))
                lines[gl] = (total + amount, [*sources, account])
            kept = tuple(Line(gl, total, tuple(sources))
                         for gl, (total, sources) in lines.items() if total)
            if not kept:
                continue
            balance = sum((line.amount for line in kept), ZERO)
            if balance and not unmapped:
                raise AssertionError(f"journal of {loc} {first}..{last} is off by {fmt(balance)}")
            location = config.locations[loc]
            found.append(Journal(loc, location.name, first, last,
                                 journal_number(location.account, first, last), kept))
    if unmapped:
        raise Failed([config_error(*source, "no mapping for " + ", ".join(sorted(unmapped)))])
    return found
