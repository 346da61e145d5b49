"""Sale (SPEC 3.2, 4): an invoice of packages and products.

A sale moves no money: on the payment basis nothing is owed to the books
until it is paid. It opens the invoice and the package instances, fixes each
unit's recognition value once (4.3), and writes one record per line
(a transaction without postings carrying price, tax and who sold it) so the
ledger holds every package's terms.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from pkgbooks.config import ANY_SERVICE, Config, Package
from pkgbooks.events import PackageLine, ProductLine, Sale
from pkgbooks.money import ZERO, allocate, allocate_groups, cents, cents_of, to_cents
from pkgbooks.postings import Meta, Txn, txn
from pkgbooks.rules import Context, Outcome, refuse
from pkgbooks.state import InvoiceLine, InvoiceState, ItemGroup, NewSale, PackageState


def apply(ctx: Context, event: Sale) -> Outcome:
    """Open the invoice and its packages; one record per line."""
    cfg, state = ctx.config, ctx.state
    loc = ctx.location(event.location)
    if event.invoice in state.invoices or event.invoice in state.closed_invoices:
        refuse(f"invoice {event.invoice!r} was already sold by an earlier sale")
    seen: set[str] = set()
    for line in event.lines:
        if isinstance(line, PackageLine):
            if line.package not in cfg.packages:
                refuse(f"unknown package {line.package!r}")
            if line.instance in seen or state.package_status(line.instance) is not None:
                refuse(f"package instance {line.instance!r} was already sold")
            seen.add(line.instance)

    packages: list[PackageState] = []
    lines: list[InvoiceLine] = []
    for line in event.lines:
        if isinstance(line, ProductLine):
            tax = to_cents(line.tax)
            lines.append(InvoiceLine(to_cents(line.amount) + tax, tax, product=line.product))
            continue
        pkg = new_package(cfg, event, line)
        packages.append(pkg)
        lines.append(InvoiceLine(pkg.gross, pkg.tax, instance=pkg.instance))
    inv = InvoiceState(event.invoice, loc, event.customer, lines, event.id, event.date,
                       event.staff)
    inv.closed = inv.unpaid == 0  # nothing to pay: closed at once
    by_instance = {pkg.instance: pkg for pkg in packages}
    return Outcome(
        tuple(sale_txns(inv, by_instance)),
        (NewSale(inv, tuple(packages)),),
        expiries=tuple((pkg.expires, pkg.instance) for pkg in packages
                       if pkg.expires is not None),
    )


def sale_txns(inv: InvoiceState, packages: dict[str, PackageState]) -> list[Txn]:
    """One record per invoice line: its price, tax, customer and who sold it."""

    def record(narration: str, line: InvoiceLine, price: int, links: tuple[str, ...] = (),
               instance: str | None = None, package: str | None = None) -> Txn:
        return txn(inv.date, narration, Meta(
            event=inv.sale, kind="sale", location=inv.location, invoice=inv.invoice,
            customer=inv.customer, instance=instance, package=package, staff=inv.staff,
            product=line.product, price=price, tax=line.tax,
        ), [], links=links)

    txns = []
    for line in inv.lines:
        if line.instance is None:
            txns.append(record(f"Sale of {line.product} on invoice {inv.invoice}", line,
                               line.gross - line.tax))
            continue
        pkg = packages[line.instance]
        txns.append(record(
            f"Sale of {pkg.package} ({pkg.instance}) on invoice {inv.invoice}", line, pkg.price,
            (pkg.instance,), pkg.instance, pkg.package,
        ))
    return txns


def new_package(cfg: Config, event: Sale, line: PackageLine) -> PackageState:
    """A package instance as sold: price, tax, initial recognition, unit values.

    The terms are those in effect on the sale date (SPEC 2a), for the package's whole life.
    Worked out in Decimal from the configured terms, kept in cents.
    """
    spec = cfg.package_on(line.package, event.date)
    price = spec.price if line.price is None else line.price
    ir = spec.initial_recognition_for(price)
    expires = None
    if spec.validity_days is not None:
        expires = event.date + datetime.timedelta(days=spec.validity_days + spec.grace_days)
    groups = item_groups(cfg, spec, event.location, price, ir, event.date)
    return PackageState(
        instance=line.instance, package=line.package, invoice=event.invoice,
        location=event.location, customer=event.customer, staff=event.staff,
        sale_date=event.date, expires=expires, price=to_cents(price),
        tax=cents_of(price * spec.tax_rate), initial_recognition=to_cents(ir), groups=groups,
    )


def item_groups(
    cfg: Config, spec: Package, loc: str, price: Decimal, initial_recognition: Decimal,
    sold: datetime.date,
) -> dict[str, ItemGroup]:
    """Each item group's recognition value, by the `recognition` policy (4.3).

    `item_price`: the group's price at the source location; a line sold at
    another `price` than the package's (a discount or a surcharge) scales
    every group by price / package price, by largest remainder so that they
    add up as the prices do, and no unit is left owed at 0.00. `proportional`:
    the line's price less initial recognition allocated over all the units in
    proportion to their list prices as on the sale date `sold` (largest
    remainder), an item without one counting at its package unit price.
    Either way a group's value is then
    split equally over its units, the first units taking the extra cents.
    The values and unit prices are kept in cents.
    """
    overrides = spec.location_prices.get(loc, {})
    prices = {g.item: overrides.get(g.item, g.price) for g in spec.items}
    if cfg.policy.recognition == "item_price":
        values = [prices[g.item] for g in spec.items]
        if price != spec.price and spec.price:
            values = allocate(cents(sum(values, ZERO) * price / spec.price), values)
    else:
        deferred = price - initial_recognition
        weights = []
        for g in spec.items:
            item = cfg.item_on(g.item, sold) if g.item != ANY_SERVICE else None
            list_price = item.list_price if item is not None else None
            weights.append(
                list_price * g.quantity if list_price is not None else prices[g.item]
            )
        values = allocate_groups(max(deferred, ZERO), weights, [g.quantity for g in spec.items])
    return {
        g.item: ItemGroup(g.item, g.quantity, to_cents(value),
                          cents_of(prices[g.item] / g.quantity))
        for g, value in zip(spec.items, values, strict=True)
    }
