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
from pkgbooks.postings import Txn, credit, debit, transfer, txn
from pkgbooks.rules import Context, Refusal
from pkgbooks.rules.closing import finish_package


def apply(ctx: Context, event: Refund) -> list[Txn]:
    state, acc, policy = ctx.state, ctx.accounts, ctx.config.policy
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
    src = pkg.location
    is_open = state.invoice_open(pkg.invoice)
    liability = acc.package_liability(src, is_open)
    forfeit = pkg.liability - net
    postings = [
        debit(acc.sales_tax(src), tax),
        debit(liability, net),
        debit(liability, forfeit),
        credit(acc.expired_balance(src, policy.expired_balance), forfeit),
    ]
    meta = dict(event=event.id, kind="refund", links=(pkg.instance,), invoice=pkg.invoice,
                customer=pkg.customer, instance=pkg.instance, package=pkg.package,
                method=event.method)
    narration = f"Refund of {pkg.instance} ({pkg.package})"
    if here == src:
        txns = [txn(event.date, narration, location=src,
                    postings=[*postings, credit(acc.cash(src, event.method), event.amount)],
                    **meta)]  # type: ignore[arg-type]
    else:
        owed_at_src, owed_here = transfer(src, here, event.amount, acc)
        txns = [
            txn(event.date, f"{narration} paid out at {here}", location=src,
                postings=[*postings, owed_at_src], **meta),  # type: ignore[arg-type]
            txn(event.date, f"{narration} paid out for {src}", location=here, source=src,
                postings=[owed_here, credit(acc.cash(here, event.method), event.amount)],
                **meta),  # type: ignore[arg-type]
        ]
    pkg.tax_paid -= tax
    pkg.liability = ZERO
    return txns + finish_package(ctx, pkg, "refunded", event.id, event.date)
