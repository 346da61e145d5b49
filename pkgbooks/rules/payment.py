"""Payment (SPEC 4.1, 4.2): money received for an invoice, at any location.

The amount is split across the invoice's open lines (products first, or pro
rata to what each line still owes), each share into tax and net pro rata to
the line's tax / gross (the share that completes a line takes exactly the tax
left). A package's net share first recognises its initial recognition, then
goes to Deposits while the invoice stays open, or Deferred if this payment
closes it; closing also moves every package's Deposits to Deferred (`close`).

A share for a package that has ended (expired, refunded, used up) is money
that really moved: never refused, it is booked (4.9): tax to SalesTax as
usual, net to the package's expired-balance account (Breakage or Unclaimed,
by policy), with metadata `ended`. It touches no Deposits or Deferred.
"""

from __future__ import annotations

from typing import NamedTuple

from pkgbooks.events import Payment
from pkgbooks.money import allocate_cents, div_cents, fmt, fmt_cents, to_cents
from pkgbooks.postings import Meta, Posting, Txn, credit, debit, transfer, txn
from pkgbooks.rules import Context, Outcome, refuse
from pkgbooks.rules.closing import close_txns, deposits_of
from pkgbooks.state import Add, Change, InvoiceLine, InvoiceState, SetClosed


class Share(NamedTuple):
    """What a payment puts on one invoice line (in cents)."""

    line: InvoiceLine
    amount: int
    tax: int
    initial_recognition: int = 0
    liability: int = 0
    ended: str | None = None  # the package had ended: how (4.9)


# How an ended package's status reads in a payment's `ended` metadata (4.9).
ENDED = {"expired": "expired", "refunded": "refunded", "used up": "used"}


def apply(ctx: Context, event: Payment) -> Outcome:
    """Split the payment over the invoice's lines; close the invoice if it is paid."""
    state = ctx.state
    here = ctx.location(event.location)
    inv = state.invoices.get(event.invoice)
    if inv is None:
        if event.invoice in state.closed_invoices:
            refuse(f"invoice {event.invoice!r} is already fully paid")
        refuse(f"unknown invoice {event.invoice!r} (no sale before this date)")
    unpaid = inv.unpaid
    amount = to_cents(event.amount)
    if amount > unpaid:
        refuse(
            f"payment {fmt(event.amount)} exceeds what invoice {event.invoice!r} still owes "
            f"({fmt_cents(unpaid)})"
        )
    closes = amount == unpaid
    shares: list[Share] = []
    changes: list[Change] = []
    for index, line, share in split_payment(inv, amount, ctx.config.policy.payment_allocation):
        tax = tax_share(line, share)
        net = share - tax
        changes += [Add("line", inv.invoice, "paid", share, index),
                    Add("line", inv.invoice, "tax_paid", tax, index)]
        if line.instance is None:
            shares.append(Share(line, share, tax))
            continue
        pkg = state.packages.get(line.instance)
        if pkg is None:
            status = state.finished[line.instance].status
            shares.append(Share(line, share, tax, ended=ENDED[status]))
            continue
        ir = min(net, pkg.ir_left)
        changes += [Add("package", pkg.instance, "ir_done", ir),
                    Add("package", pkg.instance, "tax_paid", tax),
                    Add("package", pkg.instance, "liability", net - ir)]
        shares.append(Share(line, share, tax, ir, net - ir))
    txns = payment_txns(ctx, inv, event, here, shares, closes, amount)
    if closes:
        txns += close_txns(ctx, inv, event.id, event.date, deposits_of(ctx, inv))
        changes.append(SetClosed(inv.invoice, True))
    return Outcome(tuple(txns), tuple(changes), voidable=("invoice", inv.invoice))


def payment_txns(
    ctx: Context, inv: InvoiceState, event: Payment, here: str, shares: list[Share],
    closes: bool, amount: int,
) -> list[Txn]:
    """The transactions of a payment (`amount` cents): one at the source, one more where it
    was taken."""
    acc, src = ctx.accounts, inv.location
    instances = tuple(part.line.instance for part in shares if part.line.instance)
    several = len(instances) > 1
    postings: list[Posting] = []
    for part in shares:
        postings.append(credit(acc.sales_tax(src), part.tax))
        if part.line.instance is None:
            postings.append(credit(acc.products(src), part.amount - part.tax))
            continue
        tag = part.line.instance if several else None
        if part.ended is not None:
            policy = ctx.config.expired_balance_of(src)
            postings.append(credit(acc.expired_balance(src, policy), part.amount - part.tax, tag))
            continue
        postings.append(credit(acc.initial_recognition(src), part.initial_recognition, tag))
        postings.append(credit(acc.package_liability(src, not closes), part.liability, tag))
    one = instances[0] if len(instances) == 1 else None
    pkg = ctx.state.packages.get(one) or ctx.state.finished.get(one) if one else None
    narration = f"Payment on invoice {inv.invoice} ({event.method})"
    ended = ",".join(sorted({part.ended for part in shares if part.ended})) or None

    def record(text: str, loc: str, lines: list[Posting], source: str | None = None) -> Txn:
        return txn(event.date, text, Meta(
            event=event.id, kind="payment", location=loc, source=source, invoice=inv.invoice,
            customer=inv.customer, instance=one,
            package=pkg.package if pkg is not None else None, method=event.method,
            ended=ended,
        ), lines, links=instances)

    cash = debit(acc.cash(here, event.method), amount)
    if here == src:
        return [record(narration, src, [cash, *postings])]
    owed_here, owed_at_src = transfer(here, src, amount, acc)
    return [
        record(f"{narration} taken for {src}", here, [cash, owed_here], source=src),
        record(f"{narration} taken at {here}", src, [owed_at_src, *postings]),
    ]


def split_payment(
    inv: InvoiceState, amount: int, policy: str
) -> list[tuple[int, InvoiceLine, int]]:
    """Each open line's share of a payment (4.1, in cents): (line index, line, share), in line
    order."""
    open_lines = [(index, line) for index, line in enumerate(inv.lines) if line.unpaid > 0]
    if policy == "proportional":
        parts = allocate_cents(amount, [line.unpaid for _, line in open_lines])
        return [(index, line, part)
                for (index, line), part in zip(open_lines, parts, strict=True) if part]
    order = [(i, ln) for i, ln in open_lines if ln.product is not None] + [
        (i, ln) for i, ln in open_lines if ln.product is None
    ]
    shares = []
    left = amount
    for index, line in order:
        part = min(left, line.unpaid)
        if part:
            shares.append((index, line, part))
        left -= part
    return shares


def tax_share(line: InvoiceLine, share: int) -> int:
    """Tax part of a line's share: pro rata to tax / gross; the completing share takes the rest."""
    if share == line.unpaid or line.gross == 0:
        return line.tax_left
    tax = div_cents(share * line.tax, line.gross)
    # Rounding must never leave more net, or more tax, than the line still owes.
    return min(max(tax, share - line.net_left, 0), line.tax_left, share)
