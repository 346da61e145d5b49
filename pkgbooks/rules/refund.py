"""Refund (SPEC 4.5): money returned for a package, which ends it.

Money that has left the till is never refused. The refund's tax share (pro
rata to the package's tax / gross, at most the tax paid on it) debits
SalesTax; its net debits the package's liability first, then reverses the
package's initial recognition (at most what was recognised), and anything
beyond (a goodwill refund) debits `Expenses:S:Packages:Refunds`. What
liability is left is forfeited to Breakage, whatever the expired-balance
policy: a refund settles the contract, so nothing of it is unclaimed
property. A refund paid out at another location than the source is carried
by due-to / due-from, as a payment is.
"""

from __future__ import annotations

from typing import NamedTuple

from pkgbooks.events import Refund
from pkgbooks.money import div_cents, to_cents
from pkgbooks.postings import Meta, Posting, Txn, credit, debit, transfer, txn
from pkgbooks.rules import Context, Outcome
from pkgbooks.rules.closing import finish_package
from pkgbooks.state import Add, Change, PackageState


def apply(ctx: Context, event: Refund) -> Outcome:
    """Pay the money back out of the liability, then the recognition, then as goodwill."""
    state = ctx.state
    here = ctx.location(event.location)
    pkg = ctx.live_package(event.instance)
    amount = to_cents(event.amount)
    tax = div_cents(amount * pkg.tax, pkg.gross) if pkg.gross else 0
    tax = min(tax, pkg.tax_paid)
    net = amount - tax
    from_liability = min(net, pkg.liability)
    from_recognition = min(net - from_liability, pkg.ir_done)
    is_open = state.invoice_open(pkg.invoice)
    parts = RefundParts(tax, from_liability, from_recognition,
                        net - from_liability - from_recognition, pkg.liability - from_liability)
    changes: list[Change] = [Add("package", pkg.instance, "tax_paid", -tax),
                             Add("package", pkg.instance, "ir_done", -from_recognition),
                             Add("package", pkg.instance, "liability", -pkg.liability),
                             *finish_package(pkg, "refunded")]
    return Outcome(tuple(refund_txns(ctx, pkg, event, here, parts, is_open, amount)),
                   tuple(changes),
                   voidable=("package", pkg.instance), open_invoice=is_open)


class RefundParts(NamedTuple):
    """Where a refund's money comes from (4.5), and what it forfeits (in cents)."""

    tax: int
    liability: int
    initial_recognition: int
    goodwill: int
    forfeit: int


def refund_txns(
    ctx: Context, pkg: PackageState, event: Refund, here: str, parts: RefundParts,
    on_open_invoice: bool, amount: int,
) -> list[Txn]:
    """Cash out (`amount` cents); tax, liability, recognition and goodwill back; the rest
    forfeited to Breakage.

    Due-to / due-from carry it when it is paid out at another location.
    """
    acc, src = ctx.accounts, pkg.location
    postings = [
        debit(acc.sales_tax(src), parts.tax),
        debit(acc.package_liability(src, on_open_invoice), parts.liability + parts.forfeit),
        debit(acc.initial_recognition(src), parts.initial_recognition),
        debit(acc.refunds_expense(src), parts.goodwill),
        credit(acc.breakage(src), parts.forfeit),
    ]
    narration = f"Refund of {pkg.instance} ({pkg.package})"

    def record(text: str, loc: str, lines: list[Posting], source: str | None = None) -> Txn:
        return txn(event.date, text, Meta(
            event=event.id, kind="refund", location=loc, source=source, invoice=pkg.invoice,
            customer=pkg.customer, instance=pkg.instance, package=pkg.package,
            method=event.method,
        ), lines, links=(pkg.instance,))

    cash = credit(acc.cash(here, event.method), amount)
    if here == src:
        return [record(narration, src, [*postings, cash])]
    owed_at_src, owed_here = transfer(src, here, amount, acc)
    return [
        record(f"{narration} paid out at {here}", src, [*postings, owed_at_src]),
        record(f"{narration} paid out for {src}", here, [owed_here, cash], source=src),
    ]
