"""Reconciliation (SPEC 4.6): the source pays the destination for cross-entity work.

When a package sold at S is redeemed at D, S and D belong to different
entities on the redemption date (SPEC 2a), and `[reconciliation]` starts on
or before the redemption date (never retroactive), S owes D
`round(source unit price x rate[category], 2)` per unit. Each side is its
own transaction, linked to the redemption by the package instance.
"""

from __future__ import annotations

import datetime

from pkgbooks.money import ZERO, cents, fmt
from pkgbooks.postings import Posting, Txn, credit, debit, transfer, txn
from pkgbooks.rules import Context
from pkgbooks.rules.redemption import Used


def apply(ctx: Context, event_id: str, date: datetime.date, here: str, used: Used) -> list[Txn]:
    cfg, acc = ctx.config, ctx.accounts
    rec = cfg.reconciliation
    src = used.package.location
    if rec is None or date < rec.start or cfg.entity_on(src, date) == cfg.entity_on(here, date):
        return []
    rate = rec.rates.get(used.category, ZERO)  # type: ignore[call-overload]
    per_unit = cents(used.group.unit_price * rate)
    amount = per_unit * used.quantity
    if amount == 0:
        return []
    pkg = used.package
    owed_by_src, owed_to_dest = transfer(src, here, amount, acc)
    what = f"{used.quantity} {used.group.item} of {pkg.instance} at {here}"

    def record(loc: str, lines: list[Posting]) -> Txn:
        return txn(date, f"Reconciliation: {src} owes {here} for {what}", event=event_id,
                   kind="reconciliation", postings=lines, links=(pkg.instance,), location=loc,
                   source=src, instance=pkg.instance, package=pkg.package,
                   item=used.group.item, category=used.category, quantity=str(used.quantity),
                   price=fmt(used.group.unit_price), rate=str(rate))

    return [
        record(src, [debit(acc.reconciliation_expense(src), amount), owed_by_src]),
        record(here, [owed_to_dest, credit(acc.reconciliation_income(here), amount)]),
    ]
