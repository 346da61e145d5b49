"""Redemption (SPEC 4.3): units of a package used, at any location.

Recognises the value of the units used: debit the package's liability
(Deposits while its invoice is open, Deferred once closed), credit
`Income:S:Packages:Redemptions` at the source S, wherever the unit was used.
A unit's value is its group's equal share (4.3), capped at what is still to
be recognised; the last unit of the package takes all of it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from pkgbooks.config import ANY_SERVICE
from pkgbooks.events import Redemption
from pkgbooks.money import fmt
from pkgbooks.postings import Txn, credit, debit, txn
from pkgbooks.rules import Context, Refusal
from pkgbooks.rules.closing import finish_package
from pkgbooks.state import ItemGroup, PackageState, Redeemed


class Used(NamedTuple):
    """What a redemption used, for the reconciliation rule (4.6)."""

    package: PackageState
    group: ItemGroup
    category: str
    quantity: int


def apply(ctx: Context, event: Redemption) -> tuple[list[Txn], Used]:
    cfg, state = ctx.config, ctx.state
    here = ctx.location(event.location)
    pkg = ctx.live_package(event.instance)
    if pkg.expires is not None and event.date >= pkg.expires:
        raise Refusal(
            f"package {pkg.instance!r} expired on {pkg.expires.isoformat()} "
            "(validity and grace period are over)"
        )
    item = cfg.items.get(event.item)
    if item is None:
        raise Refusal(f"unknown item {event.item!r} (not in the catalog)")
    group = pkg.groups.get(event.item)
    if group is None and item.category == "service":
        group = pkg.groups.get(ANY_SERVICE)
    if group is None:
        raise Refusal(f"package {pkg.instance!r} ({pkg.package}) does not hold {event.item!r}")
    if event.quantity > group.left:
        raise Refusal(
            f"{event.quantity} {event.item} asked, only {group.left} left in {pkg.instance!r}"
        )
    is_open = state.invoice_open(pkg.invoice)
    if is_open and not cfg.policy.redeem_open_packages:
        raise Refusal(
            f"invoice {pkg.invoice!r} of {pkg.instance!r} is not fully paid and "
            "redeem_open_packages is false"
        )
    value = unit_value(pkg, group, event.quantity)
    if is_open and value > pkg.liability:
        raise Refusal(
            f"{fmt(value)} of value asked from {pkg.instance!r}, but its open invoice has only "
            f"{fmt(pkg.liability)} of payments left"
        )

    group.used += event.quantity
    pkg.recognised += value
    pkg.liability -= value
    done = Redeemed(event.id, event.date, here, group.item, event.item, item.category,
                    event.quantity, value, is_open, event.staff)
    pkg.history[event.id] = done
    txns = [redemption_txn(ctx, pkg, done)]
    if pkg.units_left == 0:
        txns += finish_package(ctx, pkg, "used up", event.id, event.date)
    return txns, Used(pkg, group, item.category, event.quantity)


def redemption_txn(ctx: Context, pkg: PackageState, done: Redeemed) -> Txn:
    """Recognise the value of the units used, at the source, wherever they were used."""
    acc, src = ctx.accounts, pkg.location
    return txn(
        done.date,
        f"Redemption of {done.quantity} {done.asked} from {pkg.instance} at {done.here}",
        event=done.event, kind="redemption", links=(pkg.instance,),
        postings=[debit(acc.package_liability(src, done.on_open_invoice), done.value),
                  credit(acc.redemptions(src), done.value)],
        location=done.here, source=src if src != done.here else None, customer=pkg.customer,
        instance=pkg.instance, package=pkg.package, item=done.item,
        quantity=str(done.quantity), staff=done.staff,
    )


def unit_value(pkg: PackageState, group: ItemGroup, quantity: int) -> Decimal:
    """Value of `quantity` units of `group`: capped; the package's last unit takes the rest."""
    remaining = pkg.contract_left
    if quantity == pkg.units_left:
        return remaining
    return min(group.value_of_next(quantity), remaining)
