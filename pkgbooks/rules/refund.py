"""Refund (SPEC 4.5): money returned for a package, which cancels it.

The refund's tax share (pro rata to the package's tax / gross) debits
SalesTax; its net debits the package's liability and may not exceed it;
what liability is left is forfeited to Breakage (or Unclaimed, by policy).
A refund paid out at another location than the source is carried by
due-to / due-from, as a payment is.
"""

from __future__ import annotations

from decimal import Decimal

from pkgbooks.events import Refund
from pkgbooks.money import ZERO, cents, fmt
from pkgbooks.postings import Meta, Posting, Txn, credit, debit, transfer, txn
from pkgbooks.rules import Context, Outcome, refuse
from pkgbooks.rules.closing import finish_package
from pkgbooks.state import Add, Change, PackageState


def apply(ctx: Context, event: Refund) -> Outcome:
    """Pay the money back: tax and liability back, the rest forfeited; the package ends."""
    state = ctx.state
    here = ctx.location(event.location)
    pkg = ctx.live_package(event.instance)
    tax = cents(event.amount * pkg.tax / pkg.gross) if pkg.gross else ZERO
    tax = min(tax, pkg.tax_paid)
    net = event.amount - tax
    if net > pkg.liability:
        refuse(
            f"refund net of tax {fmt(net)} exceeds the liability of {pkg.instance!r} "
            f"({fmt(pkg.liability)})"
        )
    is_open = state.invoice_open(pkg.invoice)
    txns = refund_txns(ctx, pkg, event, here, tax, net, pkg.liability - net, is_open)
    changes: list[Change] = [Add("package", pkg.instance, "tax_paid", -tax),
                             Add("package", pkg.instance, "liability", -pkg.liability)]
    closing, finished = finish_package(ctx, pkg, "refunded", event.id, event.date)
    return Outcome(tuple(txns + closing), tuple(changes + finished),
                   voidable=("package", pkg.instance), open_invoice=is_open)


def refund_txns(
    ctx: Context, pkg: PackageState, event: Refund, here: str, tax: Decimal, net: Decimal,
    forfeit: Decimal, on_open_invoice: bool,
) -> list[Txn]:
    """Cash out, tax and liability back, the rest forfeited; due-to/due-from if paid elsewhere."""
    acc, src = ctx.accounts, pkg.location
    liability = acc.package_liability(src, on_open_invoice)
    postings = [
        debit(acc.sales_tax(src), tax),
        debit(liability, net + forfeit),
        credit(acc.expired_balance(src, ctx.config.expired_balance_of(src)), forfeit),
    ]
    narration = f"Refund of {pkg.instance} ({pkg.package})"

    def record(text: str, loc: str, lines: list[Posting], source: str | None = None) -> Txn:
        return txn(event.date, text, Meta(
            event=event.id, kind="refund", location=loc, source=source, invoice=pkg.invoice,
            customer=pkg.customer, instance=pkg.instance, package=pkg.package,
            method=event.method,
        ), lines, links=(pkg.instance,))

    cash = credit(acc.cash(here, event.method), event.amount)
    if here == src:
        return [record(narration, src, [*postings, cash])]
    owed_at_src, owed_here = transfer(src, here, event.amount, acc)
    return [
        record(f"{narration} paid out at {here}", src, [*postings, owed_at_src]),
        record(f"{narration} paid out for {src}", here, [owed_here, cash], source=src),
    ]
