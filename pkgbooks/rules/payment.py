"""Payment (SPEC 4.1, 4.2): money received for an invoice, at any location.

The amount is split across the invoice's open lines (products first, or pro
rata to what each line still owes), each share into tax and net pro rata to
the line's tax / gross (the share that completes a line takes exactly the tax
left). A package's net share first recognises its initial recognition, then
goes to Deposits while the invoice stays open, or Deferred if this payment
closes it; closing also moves every package's Deposits to Deferred (`close`).
"""

from __future__ import annotations

from decimal import Decimal

from pkgbooks.events import Payment
from pkgbooks.money import ZERO, allocate, cents, fmt
from pkgbooks.postings import Posting, Txn, credit, debit, transfer, txn
from pkgbooks.rules import Context, Refusal
from pkgbooks.rules.closing import close_invoice, deposits_of
from pkgbooks.state import InvoiceLine, InvoiceState, LineShare


def apply(ctx: Context, event: Payment) -> list[Txn]:
    state, acc = ctx.state, ctx.accounts
    here = ctx.location(event.location)
    inv = state.invoices.get(event.invoice)
    if inv is None:
        if event.invoice in state.closed_invoices:
            raise Refusal(f"invoice {event.invoice!r} is already fully paid")
        raise Refusal(f"unknown invoice {event.invoice!r} (no sale before this date)")
    unpaid = inv.unpaid
    if event.amount > unpaid:
        raise Refusal(
            f"payment {fmt(event.amount)} exceeds what invoice {event.invoice!r} still owes "
            f"({fmt(unpaid)})"
        )
    src = inv.location
    shares = split_payment(inv, event.amount, ctx.config.policy.payment_allocation)
    closes = event.amount == unpaid
    deposits = deposits_of(ctx, inv)
    instances = tuple(line.instance for line, _ in shares if line.instance)
    several = len(instances) > 1

    postings: list[Posting] = []
    done: list[LineShare] = []
    for line, share in shares:
        tax = tax_share(line, share)
        net = share - tax
        line.paid += share
        line.tax_paid += tax
        postings.append(credit(acc.sales_tax(src), tax))
        if line.product is not None:
            postings.append(credit(acc.products(src), net))
            done.append(LineShare(line, share, tax))
            continue
        pkg = state.packages.get(line.instance or "")
        if pkg is None:  # cannot happen: a finished package's line is cancelled
            raise AssertionError(f"payment on a finished package line {line.instance}")
        tag = pkg.instance if several else None
        ir = min(net, pkg.ir_left)
        pkg.ir_done += ir
        pkg.tax_paid += tax
        pkg.liability += net - ir
        done.append(LineShare(line, share, tax, ir, net - ir))
        postings.append(credit(acc.initial_recognition(src), ir, tag))
        postings.append(credit(acc.package_liability(src, not closes), net - ir, tag))

    one = instances[0] if len(instances) == 1 else None
    pkg_id = state.packages[one].package if one else None
    narration = f"Payment on invoice {event.invoice} ({event.method})"

    def record(text: str, loc: str, lines: list[Posting], source: str | None = None) -> Txn:
        return txn(event.date, text, event=event.id, kind="payment", postings=lines,
                   links=instances, location=loc, source=source, invoice=event.invoice,
                   customer=inv.customer, instance=one, package=pkg_id, method=event.method)

    if here == src:
        txns = [record(narration, src, [debit(acc.cash(src, event.method), event.amount),
                                        *postings])]
    else:
        owed_here, owed_at_src = transfer(here, src, event.amount, acc)
        txns = [
            record(f"{narration} taken for {src}", here,
                   [debit(acc.cash(here, event.method), event.amount), owed_here], source=src),
            record(f"{narration} taken at {here}", src, [owed_at_src, *postings]),
        ]
    inv.payments[event.id] = tuple(done)
    if closes:
        txns.extend(close_invoice(ctx, inv, event.id, event.date, deposits))
    return txns


def split_payment(
    inv: InvoiceState, amount: Decimal, policy: str
) -> list[tuple[InvoiceLine, Decimal]]:
    """Each open line's share of a payment (4.1), in line order."""
    open_lines = [line for line in inv.lines if line.unpaid > 0]
    if policy == "proportional":
        parts = allocate(amount, [line.unpaid for line in open_lines])
        return [(line, part) for line, part in zip(open_lines, parts, strict=True) if part]
    order = [ln for ln in open_lines if ln.product is not None] + [
        ln for ln in open_lines if ln.product is None
    ]
    shares = []
    left = amount
    for line in order:
        part = min(left, line.unpaid)
        if part:
            shares.append((line, part))
        left -= part
    return shares


def tax_share(line: InvoiceLine, share: Decimal) -> Decimal:
    """Tax part of a line's share: pro rata to tax / gross; the completing share takes the rest."""
    if share == line.unpaid or line.gross == 0:
        return line.tax_left
    tax = cents(share * line.tax / line.gross)
    # Rounding must never leave more net, or more tax, than the line still owes.
    return min(max(tax, share - line.net_left, ZERO), line.tax_left, share)
