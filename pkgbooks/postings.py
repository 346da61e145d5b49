"""The one place where transactions are built (SPEC 4).

A `Txn` holds explicit, quantised amounts on every posting (Beancount never
fills a blank one in), the SPEC 4 metadata and the `^instance` links.
`txn()` refuses to build a transaction that does not balance to the cent, so
an arithmetic slip in a rule is an internal error, never a ledger that is off.
Account names are made here too, so the rules speak of "the deposits of
location S" and never spell an account.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from decimal import Decimal
from typing import NamedTuple

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
    """Account names of one business, by location id (SPEC 4 table).

    Every name is made once, up front: the rules ask for thousands a second.
    """

    def __init__(self, segments: dict[str, str]) -> None:
        self._names: dict[tuple[str, str], str] = {}
        for loc, seg in segments.items():
            names = {
                "cash:cash": f"Assets:{seg}:Cash:Cash",
                "cash:card": f"Assets:{seg}:Cash:Card",
                "cash:other": f"Assets:{seg}:Cash:Other",
                "deposits": f"Liabilities:{seg}:Packages:Deposits",
                "deferred": f"Liabilities:{seg}:Packages:Deferred",
                "unclaimed": f"Liabilities:{seg}:Packages:Unclaimed",
                "sales_tax": f"Liabilities:{seg}:SalesTax",
                "redemptions": f"Income:{seg}:Packages:Redemptions",
                "initial_recognition": f"Income:{seg}:Packages:InitialRecognition",
                "breakage": f"Income:{seg}:Packages:Breakage",
                "products": f"Income:{seg}:Products",
                "reconciliation_expense": f"Expenses:{seg}:Reconciliation",
                "reconciliation_income": f"Income:{seg}:Reconciliation",
            }
            for other, other_seg in segments.items():
                names[f"due_to:{other}"] = f"Liabilities:{seg}:DueTo:{other_seg}"
                names[f"due_from:{other}"] = f"Assets:{seg}:DueFrom:{other_seg}"
            self._names.update({(loc, what): name for what, name in names.items()})

    def cash(self, loc: str, method: str) -> str:
        return self._names[loc, f"cash:{method}"]

    def deposits(self, loc: str) -> str:
        return self._names[loc, "deposits"]

    def deferred(self, loc: str) -> str:
        return self._names[loc, "deferred"]

    def unclaimed(self, loc: str) -> str:
        return self._names[loc, "unclaimed"]

    def sales_tax(self, loc: str) -> str:
        return self._names[loc, "sales_tax"]

    def redemptions(self, loc: str) -> str:
        return self._names[loc, "redemptions"]

    def initial_recognition(self, loc: str) -> str:
        return self._names[loc, "initial_recognition"]

    def breakage(self, loc: str) -> str:
        return self._names[loc, "breakage"]

    def products(self, loc: str) -> str:
        return self._names[loc, "products"]

    def reconciliation_expense(self, loc: str) -> str:
        return self._names[loc, "reconciliation_expense"]

    def reconciliation_income(self, loc: str) -> str:
        return self._names[loc, "reconciliation_income"]

    def due_to(self, loc: str, other: str) -> str:
        return self._names[loc, f"due_to:{other}"]

    def due_from(self, loc: str, other: str) -> str:
        return self._names[loc, f"due_from:{other}"]

    def package_liability(self, loc: str, open_invoice: bool) -> str:
        """Deposits while the invoice is open, Deferred once it is closed."""
        return self._names[loc, "deposits" if open_invoice else "deferred"]

    def expired_balance(self, loc: str, policy: str) -> str:
        """Where an expired or forfeited balance goes, by `expired_balance` policy."""
        return self._names[loc, "breakage" if policy == "revenue" else "unclaimed"]


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
