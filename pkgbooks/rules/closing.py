"""Invoices closing and packages finishing: shared by the payment, redemption,
refund and expiry rules.

An invoice closes when its payments reach its total (SPEC 3.2): every live
package's Deposits balance then moves to Deferred (kind `close`). A package
that is used up, expired or refunded cancels what was still unpaid on its
invoice line, which can close the invoice too.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from pkgbooks.postings import Txn, credit, debit, txn
from pkgbooks.rules import Context
from pkgbooks.state import InvoiceState, PackageState, Status


def close_invoice(
    ctx: Context, inv: InvoiceState, event_id: str, date: datetime.date,
    deposits: dict[str, Decimal],
) -> list[Txn]:
    """The invoice is paid: each package's Deposits balance moves to Deferred (`close`).

    `deposits` is each live package's Deposits balance just before the event
    that closed the invoice (what that event itself added went to Deferred).
    """
    state, acc = ctx.state, ctx.accounts
    inv.closed = True
    txns = []
    for instance, amount in deposits.items():
        pkg = state.packages.get(instance)
        if pkg is None or not amount:
            continue
        txns.append(txn(
            date, f"Invoice {inv.invoice} closed: deposits of {instance} to deferred",
            event=event_id, kind="close", links=(instance,),
            postings=[debit(acc.deposits(inv.location), amount),
                      credit(acc.deferred(inv.location), amount)],
            location=inv.location, invoice=inv.invoice, customer=inv.customer,
            instance=instance, package=pkg.package,
        ))
    state.forget_invoice_if_done(inv.invoice)
    return txns


def deposits_of(ctx: Context, inv: InvoiceState) -> dict[str, Decimal]:
    """The Deposits balance of each live package of an open invoice, in line order."""
    live = ctx.state.packages
    return {
        line.instance: live[line.instance].liability
        for line in inv.lines
        if line.instance is not None and line.instance in live
    }


def finish_package(
    ctx: Context, pkg: PackageState, status: Status, event_id: str, date: datetime.date
) -> list[Txn]:
    """`pkg` is done: drop what is unpaid on its line; close the invoice if that paid it."""
    state = ctx.state
    inv = state.invoices.get(pkg.invoice)
    state.finish(pkg, status)
    if inv is None or inv.closed:
        return []
    for line in inv.lines:
        if line.instance == pkg.instance:
            line.cancel()
    if inv.unpaid == 0:
        return close_invoice(ctx, inv, event_id, date, deposits_of(ctx, inv))
    return []
