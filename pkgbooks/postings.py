"""The one place where transactions are built (SPEC 4).

A `Txn` holds explicit, quantised amounts on every posting (Beancount never
fills a blank one in), the SPEC 4 metadata and the `^instance` links.
`txn()` refuses to build a transaction that does not balance to the cent, so
an arithmetic slip in a rule is an internal error, never a ledger that is off.
`Accounts` hands the rules their account names (spelt by `pkgbooks.accounts`),
so the rules speak of "the deposits of location S" and never spell an account.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import NamedTuple

from pkgbooks.accounts import BETWEEN_LOCATIONS, CASH_BY_METHOD, ROLES, Role
from pkgbooks.accounts import name as account_name
from pkgbooks.money import CENT

# Metadata keys in the order they are written.
META_ORDER = (
    "event", "kind", "location", "source", "invoice", "customer", "instance", "package",
    "item", "category", "quantity", "staff", "method", "price", "rate", "tax", "product",
    "target", "target_kind", "reason",
)

_META_RANK = {key: rank for rank, key in enumerate(META_ORDER)}


class UnbalancedTransaction(AssertionError):
    """A rule produced a transaction that does not balance: a bug, never bad input."""


class Posting(NamedTuple):
    account: str
    amount: Decimal
    instance: str | None = None  # posting-level `instance` when a txn spans several


class Txn(NamedTuple):
    date: datetime.date
    narration: str
    meta: tuple[tuple[str, str], ...]
    links: tuple[str, ...]
    postings: tuple[Posting, ...]

    @property
    def event(self) -> str:
        return self.meta[0][1]

    @property
    def kind(self) -> str:
        return self.meta[1][1]


def txn(
    date: datetime.date,
    narration: str,
    *,
    event: str,
    kind: str,
    postings: list[Posting],
    links: tuple[str, ...] = (),
    copied: Mapping[str, str] | None = None,
    **meta: str | None,
) -> Txn:
    """Build a transaction; refuse one that does not balance to the cent.

    Postings to the same account (and instance) are merged into one, in the
    order of first appearance; zero postings are dropped. `copied` is
    metadata taken over from another transaction (a void's target); the
    keyword arguments win over it.
    """
    if copied:
        meta = {**copied, **meta}
    merged: dict[tuple[str, str | None], Decimal] = {}
    total = Decimal(0)
    for posting in postings:
        amount = posting.amount
        if amount.quantize(CENT) != amount:
            raise UnbalancedTransaction(
                f"{event}: {posting.account} amount {amount} is not in cents"
            )
        key = (posting.account, posting.instance)
        merged[key] = merged[key] + amount if key in merged else amount
        total += amount
    if len(merged) == len(postings) and all(p.amount for p in postings):
        kept = tuple(postings)  # nothing to merge or drop: the common case
    else:
        kept = tuple(Posting(acct, amount, inst)
                     for (acct, inst), amount in merged.items() if amount)
    if total != 0:
        lines = ", ".join(f"{p.account} {p.amount}" for p in kept)
        raise UnbalancedTransaction(f"{event} ({kind}) is off by {total}: {lines}")
    try:
        keys = sorted(meta, key=_META_RANK.__getitem__)
    except KeyError as exc:
        raise ValueError(f"unknown metadata key {exc}") from None
    ordered = (("event", event), ("kind", kind), *[
        (key, value) for key in keys if (value := meta[key]) is not None
    ])
    return Txn(date, narration, ordered, tuple(dict.fromkeys(links)), kept)


class Accounts:
    """Account names of one business, by location id (SPEC 4 table; spelt by `accounts`).

    Each location's own accounts are made once, up front: the rules ask for
    thousands a second. DueTo / DueFrom accounts are made for a pair of
    locations the first time the pair is used, so memory grows with the
    pairs in use, not with the square of the number of locations.
    """

    def __init__(self, segments: dict[str, str]) -> None:
        self._segments = segments
        self._names: dict[tuple[str, Role], str] = {
            (loc, role): account_name(seg, role)
            for loc, seg in segments.items()
            for role in ROLES
            if role not in BETWEEN_LOCATIONS
        }
        self._between: dict[tuple[str, Role, str], str] = {}

    def _pair(self, loc: str, role: Role, other: str) -> str:
        key = (loc, role, other)
        found = self._between.get(key)
        if found is None:
            found = account_name(self._segments[loc], role, self._segments[other])
            self._between[key] = found
        return found

    def cash(self, loc: str, method: str) -> str:
        return self._names[loc, CASH_BY_METHOD[method]]

    def deposits(self, loc: str) -> str:
        return self._names[loc, Role.DEPOSITS]

    def deferred(self, loc: str) -> str:
        return self._names[loc, Role.DEFERRED]

    def unclaimed(self, loc: str) -> str:
        return self._names[loc, Role.UNCLAIMED]

    def sales_tax(self, loc: str) -> str:
        return self._names[loc, Role.SALES_TAX]

    def redemptions(self, loc: str) -> str:
        return self._names[loc, Role.REDEMPTIONS]

    def initial_recognition(self, loc: str) -> str:
        return self._names[loc, Role.INITIAL_RECOGNITION]

    def breakage(self, loc: str) -> str:
        return self._names[loc, Role.BREAKAGE]

    def products(self, loc: str) -> str:
        return self._names[loc, Role.PRODUCTS]

    def reconciliation_expense(self, loc: str) -> str:
        return self._names[loc, Role.RECONCILIATION_EXPENSE]

    def reconciliation_income(self, loc: str) -> str:
        return self._names[loc, Role.RECONCILIATION_INCOME]

    def refunds_expense(self, loc: str) -> str:
        """A goodwill refund beyond the package's liability and recognition (SPEC 4.5)."""
        return self._names[loc, Role.REFUNDS]

    def due_to(self, loc: str, other: str) -> str:
        return self._pair(loc, Role.DUE_TO, other)

    def due_from(self, loc: str, other: str) -> str:
        return self._pair(loc, Role.DUE_FROM, other)

    def package_liability(self, loc: str, open_invoice: bool) -> str:
        """Deposits while the invoice is open, Deferred once it is closed."""
        return self._names[loc, Role.DEPOSITS if open_invoice else Role.DEFERRED]

    def expired_balance(self, loc: str, policy: str) -> str:
        """Where an expired or forfeited balance goes, by `expired_balance` policy."""
        return self._names[loc, Role.BREAKAGE if policy == "revenue" else Role.UNCLAIMED]


def credit(account: str, amount: Decimal, instance: str | None = None) -> Posting:
    return Posting(account, -amount, instance)


def debit(account: str, amount: Decimal, instance: str | None = None) -> Posting:
    return Posting(account, amount, instance)


def transfer(
    loc: str,
    other: str,
    amount: Decimal,
    accounts: Accounts,
) -> tuple[Posting, Posting]:
    """The two sides of money `loc` holds for `other`: `loc` owes it, `other` is owed it.

    Returns (the posting in `loc`'s books, the posting in `other`'s books).
    `Liabilities:loc:DueTo:other` + `Assets:other:DueFrom:loc` = 0 by construction.
    """
    return credit(accounts.due_to(loc, other), amount), debit(accounts.due_from(other, loc), amount)
