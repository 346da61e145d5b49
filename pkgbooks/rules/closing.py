"""Invoices closing and packages finishing: shared by the payment, redemption,
refund and expiry rules.

An invoice closes when its payments reach its total (SPEC 3.2): every live
package's Deposits balance then moves to Deferred (kind `close`). A package
that is used up, expired or refunded cancels what was still unpaid on its
invoice line, which can close the invoice too. Both are returned as
transactions and state changes, never applied here.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from pkgbooks.money import ZERO
from pkgbooks.postings import Meta, Txn, credit, debit, txn
from pkgbooks.rules import Context
from pkgbooks.state import Add, Change, InvoiceState, PackageState, SetClosed, SetStatus, Status


def close_txns(
    ctx: Context, inv: InvoiceState, event_id: str, date: datetime.date,
    deposits: dict[str, Decimal],
) -> list[Txn]:
    """The invoice is paid: each package's Deposits balance moves to Deferred (`close`).

    `deposits` is each live package's Deposits balance just before the event
    that closed the invoice (what that event itself added went to Deferred).
    """
    acc = ctx.accounts
    txns = []
    for instance, amount in deposits.items():
        pkg = ctx.state.packages.get(instance)
        if pkg is None or not amount:
            continue
        txns.append(txn(
            date, f"Invoice {inv.invoice} closed: deposits of {instance} to deferred",
            Meta(event=event_id, kind="close", location=inv.location, invoice=inv.invoice,
                 customer=inv.customer, instance=instance, package=pkg.package),
            [debit(acc.deposits(inv.location), amount),
             credit(acc.deferred(inv.location), amount)],
            links=(instance,),
        ))
    return txns


def deposits_of(ctx: Context, inv: InvoiceState, without: str | None = None) -> dict[str, Decimal]:
    """The Deposits balance of each live package of an open invoice, in line order."""
    live = ctx.state.packages
    return {
        line.instance: live[line.instance].liability
        for line in inv.lines
        if line.instance is not None and line.instance in live and line.instance != without
    }


def finish_package(
    ctx: Context, pkg: PackageState, status: Status, event_id: str, date: datetime.date
) -> tuple[list[Txn], list[Change]]:
    """`pkg` is done: drop what is unpaid on its line; close the invoice if that paid it."""
    changes: list[Change] = [SetStatus(pkg.instance, "live", status)]
    inv = ctx.state.invoices.get(pkg.invoice)
    if inv is None or inv.closed:
        return [], changes
    unpaid = ZERO
    for index, line in enumerate(inv.lines):
        if line.instance != pkg.instance:
            unpaid += line.unpaid
            continue
        if line.unpaid:
            changes.append(Add("line", inv.invoice, "gross", line.paid - line.gross, index))
        if line.tax_left:
            changes.append(Add("line", inv.invoice, "tax", line.tax_paid - line.tax, index))
    if unpaid:
        return [], changes
    changes.append(SetClosed(inv.invoice, True))
    return close_txns(ctx, inv, event_id, date, deposits_of(ctx, inv, pkg.instance)), changes
