"""Reconciliation (SPEC 4.6): the source pays the destination for cross-entity work.

When a package sold at S is redeemed at D, S and D belong to different
entities on the redemption date (SPEC 2a), and `[reconciliation]` starts on
or before the redemption date (never retroactive), S owes D
`round(quantity x source unit price x rate[category], 2)`, rounded once per
redemption (not per unit or minute). Each side is its own transaction,
linked to the redemption by the package instance. Part of the redemption's
outcome.
"""

from __future__ import annotations

from pkgbooks.events import Redemption
from pkgbooks.money import ZERO, cents_of, from_cents
from pkgbooks.postings import Meta, Posting, Txn, credit, debit, transfer, txn
from pkgbooks.rules import Context
from pkgbooks.state import ItemGroup, PackageState


def reconciliation_txns(
    ctx: Context, event: Redemption, pkg: PackageState, group: ItemGroup, category: str
) -> list[Txn]:
    """What the source owes the destination for `event`, if they are different entities."""
    cfg, acc = ctx.config, ctx.accounts
    rec = cfg.reconciliation
    src, here, date = pkg.location, event.location, event.date
    if rec is None or date < rec.start or cfg.entity_on(src, date) == cfg.entity_on(here, date):
        return []
    rate = rec.rates.get(category, ZERO)  # type: ignore[call-overload]
    amount = cents_of(from_cents(event.quantity * group.unit_price) * rate)
    if amount == 0:
        return []
    owed_by_src, owed_to_dest = transfer(src, here, amount, acc)
    what = f"{event.quantity} {event.item} of {pkg.instance} at {here}"

    def record(loc: str, lines: list[Posting]) -> Txn:
        return txn(event.date, f"Reconciliation: {src} owes {here} for {what}", Meta(
            event=event.id, kind="reconciliation", location=loc, source=src,
            instance=pkg.instance, package=pkg.package, item=event.item,
            line=group.item if group.item != event.item else None, category=category,
            quantity=event.quantity, price=group.unit_price, rate=rate,
        ), lines, links=(pkg.instance,))

    return [
        record(src, [debit(acc.reconciliation_expense(src), amount), owed_by_src]),
        record(here, [owed_to_dest, credit(acc.reconciliation_income(here), amount)]),
    ]
