"""Expiry (SPEC 4.4): a package's time is up, or it is expired early by an event.

The remaining liability (Deposits or Deferred) goes to
`Income:S:Packages:Breakage` (policy `revenue`) or
`Liabilities:S:Packages:Unclaimed` (policy `liability`, kept for
unclaimed-property rules). Automatic expiries carry the event id
`expiry:<instance>` and the package's expiry date.
"""

from __future__ import annotations

import datetime

from pkgbooks.postings import Txn, credit, debit, txn
from pkgbooks.rules import Context, Refusal
from pkgbooks.rules.closing import finish_package


def apply(ctx: Context, event_id: str, date: datetime.date, instance: str) -> list[Txn]:
    state, acc = ctx.state, ctx.accounts
    pkg = ctx.live_package(instance)
    if pkg.expires is not None and date > pkg.expires:
        raise Refusal(f"package {instance!r} already expired on {pkg.expires.isoformat()}")
    src = pkg.location
    amount = pkg.liability
    is_open = state.invoice_open(pkg.invoice)
    record = txn(
        date, f"Expiry of {pkg.instance} ({pkg.package})",
        event=event_id, kind="expiry", links=(pkg.instance,),
        postings=[debit(acc.package_liability(src, is_open), amount),
                  credit(acc.expired_balance(src, ctx.config.expired_balance_of(src)), amount)],
        location=src, invoice=pkg.invoice, customer=pkg.customer, instance=pkg.instance,
        package=pkg.package,
    )
    pkg.liability -= amount
    return [record, *finish_package(ctx, pkg, "expired", event_id, date)]


def automatic_id(instance: str) -> str:
    return f"expiry:{instance}"
