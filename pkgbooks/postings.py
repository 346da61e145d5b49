"""The one place where transactions are built (SPEC 4).

A `Txn` holds an explicit amount on every posting, an exact integer number
of cents (Beancount never fills a blank one in; the ledger text writes it
with two places), the SPEC 4 metadata and the `^instance` links.
`txn()` refuses to build a transaction that does not balance to the cent, so
an arithmetic slip in a rule is an internal error, never a ledger that is off.
Account names are made here too, so the rules speak of "the deposits of
location S" and never spell an account.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from pkgbooks.accounts import BETWEEN_LOCATIONS, CASH_BY_METHOD, ROLES, Role
from pkgbooks.accounts import name as account_name
from pkgbooks.money import fmt_cents

Kind = Literal["sale", "payment", "close", "redemption", "reconciliation", "refund", "expiry",
               "void"]


class Meta(NamedTuple):
    """A transaction's SPEC 4 metadata, by name and typed; written in this field order.

    `event` and `kind` are on every transaction; the rest only where they
    mean something (None: not written). Amounts (`price`, `tax`, `redeemed`)
    are integer cents and quantities int until the ledger text is written;
    the `rate` stays the configured Decimal. A named tuple: one is made per
    transaction, and a tuple is several times quicker to make than a frozen
    dataclass of 23 fields.
    """

    event: str
    kind: Kind
    location: str | None = None
    source: str | None = None
    invoice: str | None = None
    customer: str | None = None
    instance: str | None = None
    package: str | None = None
    item: str | None = None
    line: str | None = None  # the package line drawn from, where not the item (`*`, 4.3)
    category: str | None = None
    quantity: int | None = None
    staff: str | None = None
    method: str | None = None
    ended: str | None = None  # a payment for a package that had ended (4.9)
    price: int | None = None  # cents
    rate: Decimal | None = None
    tax: int | None = None  # cents
    redeemed: int | None = None  # cents  # at a close: value redeemed while open (5.1 sale basis)
    product: str | None = None
    target: str | None = None
    target_kind: Kind | None = None
    reason: str | None = None

    def items(self) -> list[tuple[str, str]]:
        """(key, text) of every field that is set, in the order written to the ledger."""
        return [(key, fmt_cents(value) if key in _MONEY else str(value))
                for key, value in zip(_META_KEYS, meta_values(self), strict=True)
                if value is not None]

    def voided(self, event: str, target_kind: Kind, reason: str) -> Meta:
        """The metadata of the void by `event` of this transaction of a `target_kind` event."""
        return self._replace(event=event, kind="void", target=self.event,
                             target_kind=target_kind, reason=reason)


META_KEYS = _META_KEYS = Meta._fields
MONEY_KEYS = _MONEY = frozenset({"price", "tax", "redeemed"})  # written with two places
NUMBER_KEYS = frozenset({"quantity", "rate"})  # written as `str()` gives them


def meta_values(meta: Meta) -> tuple[Any, ...]:
    """Every field of a `Meta` at once, in the order written."""
    return tuple(meta)


# The typed value of a metadata key read back from a ledger (see `parse_meta`).
META_TYPES: dict[str, type] = {"quantity": int, "price": Decimal, "tax": Decimal,
                               "redeemed": Decimal}


def parse_meta(key: str, text: str | None) -> object:
    """The typed value of metadata `key` as the ledger holds it (text), for readers."""
    if text is None:
        return None
    kind = META_TYPES.get(key)
    return kind(text) if kind is not None else text


class UnbalancedTransaction(AssertionError):
    """A rule produced a transaction that does not balance: a bug, never bad input."""


class Posting(NamedTuple):
    """One posting: an account and an explicit amount in cents."""

    account: str
    amount: int  # cents
    instance: str | None = None  # posting-level `instance` when a txn spans several


class Txn(NamedTuple):
    """One transaction as the ledger will hold it."""

    date: datetime.date
    narration: str
    meta: Meta
    links: tuple[str, ...]
    postings: tuple[Posting, ...]

    @property
    def event(self) -> str:
        """The id of the event this transaction belongs to."""
        return self.meta.event

    @property
    def kind(self) -> Kind:
        """What the transaction does (SPEC 4 `kind`)."""
        return self.meta.kind


def txn(
    date: datetime.date,
    narration: str,
    meta: Meta,
    postings: list[Posting],
    links: tuple[str, ...] = (),
) -> Txn:
    """Build a transaction; refuse one that does not balance to the cent.

    Postings to the same account (and instance) are merged into one, in the
    order of first appearance; zero postings are dropped. Amounts are integer
    cents, so a balanced transaction is one whose amounts add up to 0.
    """
    if len(links) > 1:
        links = tuple(dict.fromkeys(links))
    if len(postings) == 2:  # most transactions: two postings, nothing to merge or drop
        first, second = postings
        amount = first[1]
        if amount and amount + second[1] == 0 and (first[0] != second[0]
                                                   or first[2] != second[2]):
            return Txn(date, narration, meta, links, (first, second))
    total = sum(posting[1] for posting in postings)
    kept = _merged(postings)
    if total != 0:
        lines = ", ".join(f"{p.account} {fmt_cents(p.amount)}" for p in kept)
        raise UnbalancedTransaction(
            f"{meta.event} ({meta.kind}) is off by {fmt_cents(total)}: {lines}")
    return Txn(date, narration, meta, links, kept)


def _merged(postings: list[Posting]) -> tuple[Posting, ...]:
    """Postings to the same account and instance merged, in order of first appearance; zeros
    dropped."""
    merged: dict[tuple[str, str | None], int] = {}
    for account, amount, instance in postings:
        key = (account, instance)
        merged[key] = merged[key] + amount if key in merged else amount
    if len(merged) == len(postings) and all(p.amount for p in postings):
        return tuple(postings)  # nothing to merge or drop
    return tuple(Posting(acct, amount, inst) for (acct, inst), amount in merged.items() if amount)


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
        """Where money received or paid out by `method` is held at `loc`."""
        return self._names[loc, CASH_BY_METHOD[method]]

    def deposits(self, loc: str) -> str:
        """Payments on open invoices for packages sold at `loc`."""
        return self._names[loc, Role.DEPOSITS]

    def deferred(self, loc: str) -> str:
        """The contract liability of packages sold at `loc` whose invoice is closed."""
        return self._names[loc, Role.DEFERRED]

    def unclaimed(self, loc: str) -> str:
        """Expired balances kept as a liability at `loc`."""
        return self._names[loc, Role.UNCLAIMED]

    def sales_tax(self, loc: str) -> str:
        """Tax collected on `loc`'s sales."""
        return self._names[loc, Role.SALES_TAX]

    def redemptions(self, loc: str) -> str:
        """Revenue from packages sold at `loc`, as they are used."""
        return self._names[loc, Role.REDEMPTIONS]

    def initial_recognition(self, loc: str) -> str:
        """Revenue recognised at payment for packages sold at `loc`."""
        return self._names[loc, Role.INITIAL_RECOGNITION]

    def breakage(self, loc: str) -> str:
        """Expired and forfeited balances recognised as revenue at `loc`."""
        return self._names[loc, Role.BREAKAGE]

    def products(self, loc: str) -> str:
        """Products sold on `loc`'s invoices."""
        return self._names[loc, Role.PRODUCTS]

    def reconciliation_expense(self, loc: str) -> str:
        """What `loc` pays other entities for redeeming its packages."""
        return self._names[loc, Role.RECONCILIATION_EXPENSE]

    def reconciliation_income(self, loc: str) -> str:
        """What `loc` earns redeeming other entities' packages."""
        return self._names[loc, Role.RECONCILIATION_INCOME]

    def refunds_expense(self, loc: str) -> str:
        """A goodwill refund beyond the package's liability and recognition (SPEC 4.5)."""
        return self._names[loc, Role.REFUNDS]

    def due_to(self, loc: str, other: str) -> str:
        """What `loc` owes `other`."""
        return self._pair(loc, Role.DUE_TO, other)

    def due_from(self, loc: str, other: str) -> str:
        """What `other` owes `loc`."""
        return self._pair(loc, Role.DUE_FROM, other)

    def package_liability(self, loc: str, open_invoice: bool) -> str:
        """Deposits while the invoice is open, Deferred once it is closed."""
        return self._names[loc, Role.DEPOSITS if open_invoice else Role.DEFERRED]

    def expired_balance(self, loc: str, policy: str) -> str:
        """Where an expired or forfeited balance goes, by `expired_balance` policy."""
        return self._names[loc, Role.BREAKAGE if policy == "revenue" else Role.UNCLAIMED]


def credit(account: str, amount: int, instance: str | None = None) -> Posting:
    """A credit of `amount` cents (a negative posting)."""
    return Posting(account, -amount, instance)


def debit(account: str, amount: int, instance: str | None = None) -> Posting:
    """A debit of `amount` cents (a positive posting)."""
    return Posting(account, amount, instance)


def transfer(
    loc: str,
    other: str,
    amount: int,
    accounts: Accounts,
) -> tuple[Posting, Posting]:
    """The two sides of money `loc` holds for `other`: `loc` owes it, `other` is owed it.

    Returns (the posting in `loc`'s books, the posting in `other`'s books).
    `Liabilities:loc:DueTo:other` + `Assets:other:DueFrom:loc` = 0 by construction.
    """
    return credit(accounts.due_to(loc, other), amount), debit(accounts.due_from(other, loc), amount)
