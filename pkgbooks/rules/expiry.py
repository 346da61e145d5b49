"""Expiry (SPEC 4.4): a package's time is up, or it is expired early by an event.

The remaining liability (Deposits or Deferred) goes to
`Income:S:Packages:Breakage` (policy `revenue`) or
`Liabilities:S:Packages:Unclaimed` (policy `liability`, kept for
unclaimed-property rules). Automatic expiries are `Expiry` events too, made
by the engine with the id `expiry:<instance>` and the package's expiry date.
"""

from __future__ import annotations

import datetime

from pkgbooks.events import Expiry
from pkgbooks.postings import Meta, credit, debit, txn
from pkgbooks.rules import Context, Outcome, refuse
from pkgbooks.rules.closing import finish_package
from pkgbooks.state import Add


def apply(ctx: Context, event: Expiry) -> Outcome:
    """The package's remaining liability becomes breakage (or unclaimed); it ends."""
    acc = ctx.accounts
    pkg = ctx.live_package(event.instance)
    if pkg.expires is not None and event.date > pkg.expires:
        refuse(f"package {pkg.instance!r} already expired on {pkg.expires.isoformat()}")
    src = pkg.location
    amount = pkg.liability
    is_open = ctx.state.invoice_open(pkg.invoice)
    record = txn(
        event.date, f"Expiry of {pkg.instance} ({pkg.package})",
        Meta(event=event.id, kind="expiry", location=src, invoice=pkg.invoice,
             customer=pkg.customer, instance=pkg.instance, package=pkg.package),
        [debit(acc.package_liability(src, is_open), amount),
         credit(acc.expired_balance(src, ctx.config.expired_balance_of(src)), amount)],
        links=(pkg.instance,),
    )
    return Outcome((record,), (Add("package", pkg.instance, "liability", -amount),
                               *finish_package(pkg, "expired")))


def automatic(instance: str, date: datetime.date) -> Expiry:
    """The automatic expiry of `instance` on its expiry date (4.4), as an event."""
    return Expiry.model_construct(type="expiry", id=automatic_id(instance), date=date,
                                  instance=instance)


def automatic_id(instance: str) -> str:
    """The event id of an automatic expiry (never a point-of-sale id: those are refused)."""
    return f"expiry:{instance}"
