"""Invoices closing and packages finishing: shared by the payment, redemption,
refund and expiry rules.

An invoice closes when its payments reach its total (SPEC 3.2): every live
package's Deposits balance then moves to Deferred (kind `close`). A package
that is used up, expired or refunded ends; what is unpaid on its invoice line
stays payable (4.9). Both are returned as transactions and state changes,
never applied here.
"""

from __future__ import annotations

import datetime

from pkgbooks.postings import Meta, Txn, credit, debit, txn
from pkgbooks.rules import Context
from pkgbooks.state import Change, InvoiceState, PackageState, SetStatus, Status


def close_txns(
    ctx: Context, inv: InvoiceState, event_id: str, date: datetime.date,
    deposits: dict[str, int],
) -> list[Txn]:
    """The invoice is paid: each package's Deposits balance moves to Deferred (`close`).

    `deposits` is each live package's Deposits balance just before the event
    that closed the invoice (what that event itself added went to Deferred).
    What was redeemed from a package while the invoice was open is written
    as `redeemed`: the sale basis (5.1) counts it as redeemed on this date.
    """
    acc = ctx.accounts
    txns = []
    for instance, amount in deposits.items():
        pkg = ctx.state.packages.get(instance)
        if pkg is None or not (amount or pkg.redeemed_open):
            continue
        txns.append(txn(
            date, f"Invoice {inv.invoice} closed: deposits of {instance} to deferred",
            Meta(event=event_id, kind="close", location=inv.location, invoice=inv.invoice,
                 customer=inv.customer, instance=instance, package=pkg.package,
                 redeemed=pkg.redeemed_open or None),
            [debit(acc.deposits(inv.location), amount),
             credit(acc.deferred(inv.location), amount)],
            links=(instance,),
        ))
    return txns


def deposits_of(ctx: Context, inv: InvoiceState, without: str | None = None) -> dict[str, int]:
    """The Deposits balance (cents) of each live package of an open invoice, in line order."""
    live = ctx.state.packages
    return {
        line.instance: live[line.instance].liability
        for line in inv.lines
        if line.instance is not None and line.instance in live and line.instance != without
    }


def finish_package(pkg: PackageState, status: Status) -> list[Change]:
    """`pkg` is done (used up, expired, refunded).

    What is still unpaid on its invoice line stays payable (SPEC 4.9): a later
    payment for it is booked as an expired balance by the payment rule, and the
    invoice closes when it is paid in full, as any invoice does.
    """
    return [SetStatus(pkg.instance, "live", status)]
