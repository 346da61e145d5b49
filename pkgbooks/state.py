"""The live state of every package and invoice: what the rules read and update.

One `PackageState` per live package instance and one `InvoiceState` per
invoice still being paid. Every amount is an exact integer number of cents
(`pkgbooks.money.to_cents`). Each keeps the transactions of the events that can
still be voided (4.8). A finished package (used up, expired, refunded, voided)
is kept aside, so that a late event about it gets a precise refusal and a
void can bring a used-up or refunded package back. `events` indexes every
applied event id by kind and package or invoice, for voids.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NamedTuple, TypeVar, assert_never, cast

from pkgbooks.money import equal_parts_sum_cents
from pkgbooks.postings import Kind, Txn

T = TypeVar("T")
Status = Literal["live", "used up", "expired", "refunded", "voided"]


@dataclass(slots=True)
class ItemGroup:
    """One line of a package's contents: `quantity` units of one item (or `*`)."""

    item: str
    quantity: int
    value: int  # recognition value of the whole group (4.3), in cents, split equally over units
    unit_price: int  # source unit price in cents, for reconciliation (4.6)
    used: int = 0

    @property
    def left(self) -> int:
        """Units of the group not used yet."""
        return self.quantity - self.used

    def value_of_next(self, units: int) -> int:
        """Value of the next `units` units: largest-remainder equal split of the group."""
        return equal_parts_sum_cents(self.value, self.quantity, self.used, units)


@dataclass(slots=True)
class PackageState:
    """One package instance as sold, and what has happened to it since (amounts in cents)."""

    instance: str
    package: str
    invoice: str
    location: str  # the source: where it was sold
    customer: str
    staff: str | None
    sale_date: datetime.date
    expires: datetime.date | None  # first date it can no longer be redeemed
    price: int  # before tax
    tax: int
    initial_recognition: int
    groups: dict[str, ItemGroup]
    ir_done: int = 0
    recognised: int = 0  # value redeemed so far
    redeemed_open: int = 0  # of which while its invoice was open (5.1 sale basis)
    liability: int = 0  # Deposits or Deferred balance (positive)
    tax_paid: int = 0
    status: Status = "live"
    # event id -> each redemption or refund that can still be voided
    history: dict[str, Done] = field(default_factory=dict)

    @property
    def gross(self) -> int:
        """Price and tax."""
        return self.price + self.tax

    @property
    def ir_left(self) -> int:
        """Initial recognition still to be recognised by payments."""
        return self.initial_recognition - self.ir_done

    @property
    def contract_left(self) -> int:
        """What is still to be recognised by redemptions once fully paid."""
        return self.price - self.initial_recognition - self.recognised

    @property
    def units_left(self) -> int:
        """Units of every group not used yet."""
        return sum(g.left for g in self.groups.values())


@dataclass(slots=True)
class InvoiceLine:
    """A line of an invoice and how much of it is paid (in cents)."""

    gross: int
    tax: int
    instance: str | None = None  # a package line
    product: str | None = None  # a product line
    paid: int = 0
    tax_paid: int = 0

    @property
    def unpaid(self) -> int:
        """What is still due (gross)."""
        return self.gross - self.paid

    @property
    def tax_left(self) -> int:
        """Tax still due on the line."""
        return self.tax - self.tax_paid

    @property
    def net_left(self) -> int:
        """Net still due on the line."""
        return self.unpaid - self.tax_left


class Add(NamedTuple):
    """Add `amount` (cents, or units of an item group) to one number of the state (undone
    by adding it back negated).

    `target` names what holds the number: a package (`key` its instance), one
    of its item groups (`part` the item) or an invoice line (`key` the
    invoice, `part` the line's index).
    """

    target: Literal["package", "group", "line"]
    key: str
    field: str
    amount: int
    part: str | int | None = None


class NewSale(NamedTuple):
    """A sale opens an invoice and its packages (undone: the packages are voided)."""

    invoice: InvoiceState
    packages: tuple[PackageState, ...]


class SetStatus(NamedTuple):
    """A package ends (used up, expired, refunded) or, undone, lives again."""

    instance: str
    before: Status
    after: Status


class SetClosed(NamedTuple):
    """An invoice closes (paid in full) or, undone, opens again."""

    invoice: str
    closed: bool


Change = Add | NewSale | SetStatus | SetClosed


class Done(NamedTuple):
    """A voidable event as it was applied: what a void reverses, from the data alone."""

    event: str
    kind: Kind
    txns: tuple[Txn, ...]
    changes: tuple[Change, ...]
    on_open_invoice: bool  # the package's invoice was open when the event was applied


def share_values(pkg: PackageState) -> None:
    """Make a package that can no longer change hold shared copies of its values.

    Ended packages stay in the state for good (for precise refusals), and
    most of their amounts, dates and names are the same as many others' (the
    catalog's prices, 0 cents left); each value is swapped for an equal one
    held once (`_SHARED`), so they take the room of live packages only. Equal
    is exact here: a Decimal is shared only with one of the same digits and
    exponent (`0.00` never stands for `0`), an int only with an int.
    """
    for name in _PACKAGE_VALUES:
        setattr(pkg, name, shared_copy(getattr(pkg, name)))
    for group in pkg.groups.values():
        group.value = shared_copy(group.value)
        group.unit_price = shared_copy(group.unit_price)


_PACKAGE_VALUES = ("customer", "staff", "sale_date", "expires", "price", "tax",
                   "initial_recognition", "ir_done", "recognised", "redeemed_open", "liability",
                   "tax_paid")
_SHARED: dict[object, Any] = {}  # cents, date or name (or (type, text)) -> the one copy
_SHARED_AT_MOST = 1 << 18


def shared_copy(value: T) -> T:
    """The one copy held of `value` (see `share_values`)."""
    if value is None:
        return value
    key: object = (value if value.__class__ is not Decimal and value.__class__ is not bool
                   else (value.__class__, str(value)))
    found = _SHARED.get(key)
    if found is None:
        if len(_SHARED) >= _SHARED_AT_MOST:
            _SHARED.clear()
        found = _SHARED[key] = value
    return cast(T, found)


# What stays of a voidable event of a package whose expiry date has passed: its id is
# still known (the void is refused for the date), its transactions and changes are not.
PAST_EXPIRY = Done("", "redemption", (), (), False)


@dataclass(slots=True)
class InvoiceState:
    """One invoice: its lines and what is paid, while it is open or its packages live."""

    invoice: str
    location: str
    customer: str
    lines: list[InvoiceLine]
    sale: str  # the sale's event id
    date: datetime.date
    staff: str | None
    closed: bool = False
    # event id -> each payment that can still be voided
    payments: dict[str, Done] = field(default_factory=dict)

    @property
    def unpaid(self) -> int:
        """What is still due (gross)."""
        return sum(line.gross - line.paid for line in self.lines)


@dataclass(slots=True)
class BooksState:
    """Everything the rules know: live packages, open invoices, tombstones."""

    packages: dict[str, PackageState] = field(default_factory=dict)
    invoices: dict[str, InvoiceState] = field(default_factory=dict)
    finished: dict[str, PackageState] = field(default_factory=dict)
    closed_invoices: set[str] = field(default_factory=set)
    # applied event id -> (kind, instance or invoice it concerns)
    events: dict[str, tuple[str, str]] = field(default_factory=dict)
    voided: dict[str, str] = field(default_factory=dict)  # target id -> void event id

    def package(self, instance: str) -> PackageState:
        """A package, live or finished."""
        pkg = self.packages.get(instance)
        return pkg if pkg is not None else self.finished[instance]

    def apply(self, change: Change) -> None:
        """Make one change a rule asked for."""
        if type(change) is Add:  # most changes: the fast way, before the match
            self.add(change)
            return
        match change:
            case Add():
                self.add(change)
            case NewSale(inv, packages):
                self.invoices[inv.invoice] = inv
                for pkg in packages:
                    self.packages[pkg.instance] = pkg
            case SetStatus(instance, _before, after):
                if after == "live":
                    self.revive(self.finished[instance])
                else:
                    self.finish(self.packages[instance], after)
            case SetClosed(invoice, closed):
                self.invoices[invoice].closed = closed
                if closed:
                    self.forget_invoice_if_done(invoice)
            case _:
                assert_never(change)

    def add(self, change: Add) -> None:
        """Make one `Add` change (what `apply` does with it, without its dispatch)."""
        target, key, name, amount, part = change
        holder: object
        if target == "package":
            holder = self.packages.get(key) or self.finished[key]
        elif target == "group":
            holder = (self.packages.get(key) or self.finished[key]).groups[str(part)]
        else:
            holder = self.invoices[key].lines[int(part or 0)]
        setattr(holder, name, getattr(holder, name) + amount)

    def undo(self, change: Change) -> None:
        """Reverse one change (for a void): the inverse of `apply`."""
        match change:
            case Add(target, key, name, amount, part):
                self.apply(Add(target, key, name, -amount, part))
            case NewSale(inv, packages):
                for pkg in packages:
                    self.finish(self.packages[pkg.instance], "voided")
                self.invoices.pop(inv.invoice, None)
                self.closed_invoices.add(inv.invoice)
            case SetStatus(instance, before, after):
                self.apply(SetStatus(instance, after, before))
            case SetClosed(invoice, closed):
                self.apply(SetClosed(invoice, not closed))
            case _:
                assert_never(change)

    def keep_voidable(self, where: str, key: str, done: Done) -> None:
        """Keep a voidable event's record on its invoice (payments) or package.

        An expired package's record is not kept: nothing of it can be voided.
        """
        if where == "invoice":
            inv = self.invoices.get(key)
            if inv is not None:  # else paid and over: nothing of it can be voided
                inv.payments[done.event] = done
        else:
            pkg = self.package(key)
            if pkg.status != "expired":
                pkg.history[done.event] = done

    def past_expiry(self, instance: str) -> None:
        """A finished package's expiry date has come: nothing of it can be voided any more.

        A void of one of its events is refused from now on for the expiry date
        alone (events come in date order, and an ended package lives again only
        before its expiry date), so its records shrink to the ids: the void is
        refused exactly as before, and the history no longer grows with the
        events of every package ever sold.
        """
        later = getattr(self.finished, "past_expiry_later", None)
        if later is not None and later(instance):
            return  # finished packages not read back yet (a restored state): done on reading
        pkg = self.finished.get(instance)
        if pkg is None or pkg.expires is None:
            return
        if pkg.history:
            pkg.history = dict.fromkeys(pkg.history, PAST_EXPIRY)
        share_values(pkg)

    def forget_voidable(self, where: str, key: str, event: str) -> None:
        """A voided event can no longer be voided: drop its record."""
        if where == "invoice":
            del self.invoices[key].payments[event]
        else:
            del self.package(key).history[event]

    def package_status(self, instance: str) -> Status | None:
        """The status of a package instance; None if it was never sold."""
        pkg = self.packages.get(instance) or self.finished.get(instance)
        return pkg.status if pkg is not None else None

    def finish(self, pkg: PackageState, status: Status) -> None:
        """A package is done: set it aside (its invoice is kept while still open)."""
        pkg.status = status
        del self.packages[pkg.instance]
        if status == "expired":
            pkg.history.clear()  # nothing of an expired package can be voided
            share_values(pkg)  # and nothing of it changes any more
        self.finished[pkg.instance] = pkg
        self.forget_invoice_if_done(pkg.invoice)

    def revive(self, pkg: PackageState) -> None:
        """A void brings a used-up or refunded package back to life."""
        del self.finished[pkg.instance]
        pkg.status = "live"
        self.packages[pkg.instance] = pkg

    def forget_invoice_if_done(self, invoice_id: str) -> None:
        """Drop a closed invoice once none of its packages is live."""
        inv = self.invoices.get(invoice_id)
        if inv is None or not inv.closed:
            return
        if any(line.instance in self.packages for line in inv.lines if line.instance):
            return
        del self.invoices[invoice_id]
        self.closed_invoices.add(invoice_id)

    def invoice_open(self, invoice_id: str) -> bool:
        """Whether the invoice is known and not yet paid in full."""
        inv = self.invoices.get(invoice_id)
        return inv is not None and not inv.closed
