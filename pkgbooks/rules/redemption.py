"""Redemption (SPEC 4.3): units of a package used, at any location.

Recognises the value of the units used: debit the package's liability
(Deposits while its invoice is open, Deferred once closed), credit
`Income:S:Packages:Redemptions` at the source S, wherever the unit was used.
A unit's value is its group's equal share (4.3), capped at what is still to
be recognised; the last unit of the package takes all of it. A service the
package does not list, or whose own units are used up, is drawn from the `*`
(any service) line: the ledger keeps the item performed (`item`) and the line
drawn from (`line: "*"`). Cross-entity work adds the reconciliation (4.6).
"""

from __future__ import annotations

from pkgbooks.config import ANY_SERVICE
from pkgbooks.events import Redemption
from pkgbooks.money import fmt_cents
from pkgbooks.postings import Meta, Txn, credit, debit, txn
from pkgbooks.rules import Context, Outcome, refuse
from pkgbooks.rules.closing import finish_package
from pkgbooks.rules.reconciliation import reconciliation_txns
from pkgbooks.state import Add, Change, ItemGroup, PackageState


def apply(ctx: Context, event: Redemption) -> Outcome:
    """Recognise the units used; the package is used up when none is left."""
    cfg, state = ctx.config, ctx.state
    here = ctx.location(event.location)
    pkg = ctx.live_package(event.instance)
    if pkg.expires is not None and event.date >= pkg.expires:
        refuse(
            f"package {pkg.instance!r} expired on {pkg.expires.isoformat()} "
            "(validity and grace period are over)"
        )
    item = cfg.items.get(event.item)
    if item is None:
        refuse(f"unknown item {event.item!r} (not in the catalog)")
    group = pkg.groups.get(event.item)
    star = pkg.groups.get(ANY_SERVICE)
    if item.category == "service" and star is not None and (group is None or group.left == 0):
        group = star  # a service not listed, or with none of its own units left (4.3)
    if group is None:
        refuse(f"package {pkg.instance!r} ({pkg.package}) does not hold {event.item!r}")
    if event.quantity > group.left:
        refuse(
            f"{event.quantity} {event.item} asked, only {group.left} left in {pkg.instance!r}"
        )
    is_open = state.invoice_open(pkg.invoice)
    if is_open and not cfg.policy.redeem_open_packages:
        refuse(
            f"invoice {pkg.invoice!r} of {pkg.instance!r} is not fully paid and "
            "redeem_open_packages is false"
        )
    units_left = pkg.units_left
    value = unit_value(pkg, group, event.quantity, units_left)
    if is_open and value > pkg.liability:
        refuse(
            f"{fmt_cents(value)} of value asked from {pkg.instance!r}, but its open invoice has "
            f"only {fmt_cents(pkg.liability)} of payments left"
        )

    changes: list[Change] = [
        Add("group", pkg.instance, "used", event.quantity, group.item),
        Add("package", pkg.instance, "recognised", value),
        Add("package", pkg.instance, "liability", -value),
    ]
    if is_open:
        changes.append(Add("package", pkg.instance, "redeemed_open", value))
    txns = [redemption_txn(ctx, pkg, event, here, group.item, value, is_open)]
    if units_left == event.quantity:
        changes += finish_package(pkg, "used up")
    txns += reconciliation_txns(ctx, event, pkg, group, item.category)
    return Outcome(tuple(txns), tuple(changes), voidable=("package", pkg.instance),
                   open_invoice=is_open)


def redemption_txn(
    ctx: Context, pkg: PackageState, event: Redemption, here: str, item: str, value: int,
    on_open_invoice: bool,
) -> Txn:
    """Recognise the value of the units used, at the source, wherever they were used."""
    acc, src = ctx.accounts, pkg.location
    return txn(
        event.date,
        f"Redemption of {event.quantity} {event.item} from {pkg.instance} at {here}",
        Meta(event=event.id, kind="redemption", location=here,
             source=src if src != here else None, customer=pkg.customer,
             instance=pkg.instance, package=pkg.package, item=event.item,
             line=item if item != event.item else None, quantity=event.quantity,
             staff=event.staff),
        [debit(acc.package_liability(src, on_open_invoice), value),
         credit(acc.redemptions(src), value)],
        links=(pkg.instance,),
    )


def unit_value(
    pkg: PackageState, group: ItemGroup, quantity: int, units_left: int | None = None
) -> int:
    """Value in cents of `quantity` units of `group`: capped; the package's last unit takes
    the rest.

    `units_left` is `pkg.units_left` where the caller has it already.
    """
    remaining = pkg.contract_left
    if quantity == (pkg.units_left if units_left is None else units_left):
        return remaining
    return min(group.value_of_next(quantity), remaining)
