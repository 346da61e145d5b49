"""Refund (SPEC 4.5): money returned for a package, which cancels it.

The refund's tax share (pro rata to the package's tax / gross) debits
SalesTax; its net debits the package's liability and may not exceed it;
what liability is left is forfeited to Breakage (or Unclaimed, by policy).
A refund paid out at another location than the source is carried by
due-to / due-from, as a payment is.
"""

from __future__ import annotations

from pkgbooks.events import Refund
from pkgbooks.money import ZERO, cents, fmt
from pkgbooks.postings import Posting, Txn, credit, debit, transfer, txn
from pkgbooks.rules import Context, Refusal
from pkgbooks.rules.closing import finish_package
from pkgbooks.state import PackageState, Refunded


def apply(ctx: Context, event: Refund) -> list[Txn]:
    state = ctx.state
    here = ctx.location(event.location)
    pkg = ctx.live_package(event.instance)
    tax = cents(event.amount * pkg.tax / pkg.gross) if pkg.gross else ZERO
    tax = min(tax, pkg.tax_paid)
    net = event.amount - tax
    if net > pkg.liability:
        raise Refusal(
            f"refund net of tax {fmt(net)} exceeds the liability of {pkg.instance!r} "
            f"({fmt(pkg.liability)})"
        )
    is_open = state.invoice_open(pkg.invoice)
    done = Refunded(event.id, event.date, here, event.amount, event.method, tax, net,
                    pkg.liability - net, is_open)
    pkg.history[event.id] = done
    txns = refund_txns(ctx, pkg, done)
    pkg.tax_paid -= tax
    pkg.liability = ZERO
    return txns + finish_package(ctx, pkg, "refunded", event.id, event.date)


def refund_txns(ctx: Context, pkg: PackageState, done: Refunded) -> list[Txn]:
    """Cash out, tax and liability back, the rest forfeited; due-to/due-from if paid elsewhere."""
    acc, src, here = ctx.accounts, pkg.location, done.here
    liability = acc.package_liability(src, done.on_open_invoice)
    postings = [
        debit(acc.sales_tax(src), done.tax),
        debit(liability, done.net + done.forfeit),
        credit(acc.expired_balance(src, ctx.config.expired_balance_of(src)), done.forfeit),
    ]
    narration = f"Refund of {pkg.instance} ({pkg.package})"

    def record(text: str, loc: str, lines: list[Posting], source: str | None = None) -> Txn:
        return txn(done.date, text, event=done.event, kind="refund", postings=lines,
                   links=(pkg.instance,), location=loc, source=source, invoice=pkg.invoice,
                   customer=pkg.customer, instance=pkg.instance, package=pkg.package,
                   method=done.method)

    cash = credit(acc.cash(here, done.method), done.amount)
    if here == src:
        return [record(narration, src, [*postings, cash])]
    owed_at_src, owed_here = transfer(src, here, done.amount, acc)
    return [
        record(f"{narration} paid out at {here}", src, [*postings, owed_at_src]),
        record(f"{narration} paid out for {src}", here, [owed_here, cash], source=src),
    ]
