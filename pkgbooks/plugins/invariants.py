"""The ledger-level invariants of SPEC 4.7 as a Beancount plugin (SPEC 6a).

Every generated `main.beancount` says `plugin "pkgbooks.plugins.invariants"`,
so `bean-check` and Fava's Errors page catch a hand-made entry that balances
but breaks pkgbooks' rules, the same way `pkgbooks validate` does:

- a package liability account (`Liabilities:L:Packages:Deposits|Deferred|
  Unclaimed`), or one package's liability (its `Deposits` + `Deferred`
  postings, by `instance` metadata), below 0.00 at the end of any day;
- `Assets:A:DueFrom:B` + `Liabilities:B:DueTo:A` not 0.00 at the end of
  any day (the two halves of an event that concerns two locations are
  dated the same day);
- a transaction on a pkgbooks account without `event` and `kind` metadata.

Each error carries the entry that broke the rule (the day's last entry that
moved the account, pair or package), and is reported once when the rule
breaks, not again on every later day while it stays broken.

Like Beancount's own plugins it is a pure function `(entries, options) ->
(entries, errors)`; it adds and changes no entry. An optional configuration
string lists the account segments of the locations whose due-to / due-from
pairs are checked (`plugin "pkgbooks.plugins.invariants" "Loc11,Loc12"`),
for books that hold only some locations (`""`: none); by default every pair is checked.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

from beancount.core import data

from pkgbooks.accounts import HELD_LIABILITY, PACKAGE_LIABILITY, Role, parse

__plugins__ = ("check_invariants",)

ZERO = Decimal(0)


class InvariantError(NamedTuple):
    """A broken pkgbooks invariant, in the shape of Beancount's own errors."""

    source: data.Meta
    message: str
    entry: data.Directive | None


class _Role(NamedTuple):
    """What one account means to the checks (worked out once per account name)."""

    pkgbooks: bool
    liability: bool  # a package liability account
    per_package: bool  # Deposits or Deferred: checked per instance too
    pair: tuple[str, str] | None  # (A, B) of Assets:A:DueFrom:B / Liabilities:B:DueTo:A


def _role(account: str, segments: frozenset[str] | None) -> _Role:
    parsed = parse(account)
    if parsed is None:
        return _Role(pkgbooks=False, liability=False, per_package=False, pair=None)
    pair = None
    if parsed.counterparty is not None:
        # Assets:A:DueFrom:B pairs with Liabilities:B:DueTo:A: key both by (A, B).
        if parsed.role is Role.DUE_FROM:
            pair = (parsed.segment, parsed.counterparty)
        else:
            pair = (parsed.counterparty, parsed.segment)
        if segments is not None and not set(pair) <= segments:
            pair = None
    return _Role(
        pkgbooks=True,
        liability=parsed.role in HELD_LIABILITY,
        per_package=parsed.role in PACKAGE_LIABILITY,
        pair=pair,
    )


def check_invariants(
    entries: list[data.Directive], options_map: dict[str, Any], config: str | None = None
) -> tuple[list[data.Directive], list[InvariantError]]:
    """Check the invariants over the date-ordered entries; return them unchanged, and errors."""
    # An empty list ("") checks no pair: books of one location, or of locations that moved.
    segments = (frozenset(s.strip() for s in config.split(",") if s.strip())
                if config is not None else None)
    roles: dict[str, _Role] = {}
    errors: list[InvariantError] = []
    accounts: dict[str, Decimal] = {}
    packages: dict[str, Decimal] = {}
    pairs: dict[tuple[str, str], Decimal] = {}
    # What moved today, with the last entry that moved it.
    moved_accounts: dict[str, data.Transaction] = {}
    moved_packages: dict[str, data.Transaction] = {}
    moved_pairs: dict[tuple[str, str], data.Transaction] = {}
    broken: set[object] = set()
    day: datetime.date | None = None

    def end_of_day(date: datetime.date) -> None:
        for account, entry in moved_accounts.items():
            _report(account, accounts[account] > 0, entry, (
                f"{account} is below 0.00 at the end of {date}: "
                f"{_fmt(-accounts[account])} (a package liability is never negative)"))
        for instance, entry in moved_packages.items():
            _report(("package", instance), packages[instance] > 0, entry, (
                f"package {instance}'s liability is below 0.00 at the end of {date}: "
                f"{_fmt(-packages[instance])} (a package liability is never negative)"))
        for (a, b), entry in moved_pairs.items():
            _report((a, b), pairs[(a, b)] != 0, entry, (
                f"Assets:{a}:DueFrom:{b} + Liabilities:{b}:DueTo:{a} = {_fmt(pairs[(a, b)])} "
                f"at the end of {date}, not 0.00: the two locations' balances do not eliminate"))
        moved_accounts.clear()
        moved_packages.clear()
        moved_pairs.clear()

    def _report(key: object, bad: bool, entry: data.Transaction, message: str) -> None:
        if bad and key not in broken:
            broken.add(key)
            errors.append(InvariantError(entry.meta, message, entry))
        elif not bad:
            broken.discard(key)

    for entry in _transactions(entries):
        if entry.date != day:
            if day is not None:
                end_of_day(day)
            day = entry.date
        on_pkgbooks = False
        for posting in entry.postings:
            account = posting.account
            role = roles.get(account)
            if role is None:
                role = roles[account] = _role(account, segments)
            if not role.pkgbooks:
                continue
            on_pkgbooks = True
            units = posting.units
            number = units.number if units is not None else None
            if number is None:
                continue
            if role.liability:
                accounts[account] = accounts.get(account, ZERO) + number
                moved_accounts[account] = entry
                if role.per_package:
                    instance = (posting.meta or {}).get("instance") or entry.meta.get("instance")
                    if instance:
                        key = str(instance)
                        packages[key] = packages.get(key, ZERO) + number
                        moved_packages[key] = entry
            elif role.pair is not None:
                pairs[role.pair] = pairs.get(role.pair, ZERO) + number
                moved_pairs[role.pair] = entry
        if on_pkgbooks:
            missing = [key for key in ("event", "kind") if not entry.meta.get(key)]
            if missing:
                errors.append(InvariantError(entry.meta, (
                    f"transaction on {entry.date} ({entry.narration!r}) moves pkgbooks accounts "
                    f"without {' and '.join(repr(k) for k in missing)} metadata: every entry on "
                    "these books comes from an event (add the event to events/ and rebuild)"),
                    entry))
    if day is not None:
        end_of_day(day)
    return entries, errors


def _transactions(entries: Iterable[data.Directive]) -> Iterable[data.Transaction]:
    return (e for e in entries if isinstance(e, data.Transaction))


def _fmt(amount: Decimal) -> str:
    return f"{amount:.2f}"
