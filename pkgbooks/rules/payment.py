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
from pkgbooks.state import InvoiceLine, InvoiceState, LineShare, Paid


def apply(ctx: Context, event: Payment) -> list[Txn]:
    state = ctx.state
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
    shares = split_payment(inv, event.amount, ctx.config.policy.payment_allocation)
    closes = event.amount == unpaid
    deposits = deposits_of(ctx, inv)
    done: list[LineShare] = []
    for line, share in shares:
        tax = tax_share(line, share)
        net = share - tax
        line.paid += share
        line.tax_paid += tax
        pkg = state.packages.get(line.instance) if line.instance else None
        if pkg is None:
            done.append(LineShare(line, share, tax))
            continue
        ir = min(net, pkg.ir_left)
        pkg.ir_done += ir
        pkg.tax_paid += tax
        pkg.liability += net - ir
        done.append(LineShare(line, share, tax, ir, net - ir))
    paid = Paid(event.id, event.date, here, event.amount, event.method, tuple(done), closes)
    inv.payments[event.id] = paid
    txns = payment_txns(ctx, inv, paid)
    if closes:
        txns.extend(close_invoice(ctx, inv, event.id, event.date, deposits))
    return txns


def payment_txns(ctx: Context, inv: InvoiceState, paid: Paid) -> list[Txn]:
    """The transactions of a payment: one at the source, one more where it was taken."""
    acc, src, here = ctx.accounts, inv.location, paid.here
    instances = tuple(part.line.instance for part in paid.shares if part.line.instance)
    several = len(instances) > 1
    postings: list[Posting] = []
    for part in paid.shares:
        postings.append(credit(acc.sales_tax(src), part.tax))
        if part.line.instance is None:
            postings.append(credit(acc.products(src), part.share - part.tax))
            continue
        tag = part.line.instance if several else None
        postings.append(credit(acc.initial_recognition(src), part.initial_recognition, tag))
        postings.append(credit(acc.package_liability(src, not paid.closed), part.liability, tag))
    one = instances[0] if len(instances) == 1 else None
    pkg = ctx.state.packages.get(one) or ctx.state.finished.get(one) if one else None
    narration = f"Payment on invoice {inv.invoice} ({paid.method})"

    def record(text: str, loc: str, lines: list[Posting], source: str | None = None) -> Txn:
        return txn(paid.date, text, event=paid.event, kind="payment", postings=lines,
                   links=instances, location=loc, source=source, invoice=inv.invoice,
                   customer=inv.customer, instance=one,
                   package=pkg.package if pkg is not None else None, method=paid.method)

    cash = debit(acc.cash(here, paid.method), paid.amount)
    if here == src:
        return [record(narration, src, [cash, *postings])]
    owed_here, owed_at_src = transfer(here, src, paid.amount, acc)
    return [
        record(f"{narration} taken for {src}", here, [cash, owed_here], source=src),
        record(f"{narration} taken at {here}", src, [owed_at_src, *postings]),
    ]


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
