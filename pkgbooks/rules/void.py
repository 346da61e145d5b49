"""Void (SPEC 4.8): reverse an earlier sale, payment, redemption or refund.

History is never edited: the void writes, dated on the void date, the mirror
of each transaction its target wrote (kind `void`, metadata `target`,
`target_kind` and `reason`, the same `^instance` links), and the package
state goes on as if the target had not happened. The target's transactions
are written again from the small record its rule kept (a payment's shares, a
redemption's value, ...), so the engine does not hold past transactions. A
package liability posting is reversed on the account that holds the package's
liability now (the invoice may have closed since); a payment void that
reopens a closed invoice moves what is left of each package from Deferred
back to Deposits.

Refused, with the reason: a void of a void or of an expiry, a second void of
the same event, a payment whose money was already redeemed, expired or
refunded, a sale with payments or redemptions on it, a redemption or refund
of a package that has expired since, or that would be past its expiry date.
"""

from __future__ import annotations

from pkgbooks.events import Void
from pkgbooks.money import fmt
from pkgbooks.postings import Posting, Txn, credit, debit, txn
from pkgbooks.rules import Context, Refusal
from pkgbooks.rules import reconciliation as reconciliation_rule
from pkgbooks.rules.payment import payment_txns
from pkgbooks.rules.redemption import Used, redemption_txn
from pkgbooks.rules.refund import refund_txns
from pkgbooks.rules.sale import sale_txns
from pkgbooks.state import InvoiceState, PackageState, Redeemed

VOIDABLE = ("sale", "payment", "redemption", "refund")


def apply(ctx: Context, event: Void) -> list[Txn]:
    state = ctx.state
    target = event.target
    if target in state.voided:
        raise Refusal(f"event {target!r} was already voided by {state.voided[target]!r}")
    known = state.events.get(target)
    if known is None:
        raise Refusal(f"unknown target event {target!r} (not applied before this void)")
    kind, key = known
    if kind not in VOIDABLE:
        raise Refusal(f"{kind} events cannot be voided (only {', '.join(VOIDABLE)})")
    if kind in ("sale", "payment"):
        inv = state.invoices.get(key)
        if inv is None or (kind == "payment" and target not in inv.payments):
            raise Refusal(
                f"invoice {key!r} is settled and its packages are over: {target!r} can no "
                "longer be voided (record a refund instead)"
            )
        txns = _void_sale(ctx, event, inv) if kind == "sale" else _void_payment(ctx, event, inv)
    else:
        pkg = state.packages.get(key) or state.finished.get(key)
        if pkg is None or target not in pkg.history:
            status = pkg.status if pkg is not None else "gone"
            raise Refusal(f"package {key!r} is {status}: {target!r} can no longer be voided")
        txns = _void_package_event(ctx, event, pkg)
    state.voided[target] = event.id
    return txns


def mirror(
    t: Txn, event: Void, target_kind: str, redirect: dict[str, str] | None = None
) -> Txn:
    """The reversal of one transaction: every posting negated (and maybe moved)."""
    redirect = redirect or {}
    return txn(
        event.date, f"Void of {t.event} ({target_kind}): {event.reason}",
        event=event.id, kind="void", links=t.links,
        postings=[Posting(redirect.get(p.account, p.account), -p.amount, p.instance)
                  for p in t.postings],
        copied=dict(t.meta[2:]), target=t.event, target_kind=target_kind, reason=event.reason,
    )


def _liability_now(ctx: Context, src: str, invoice_open: bool) -> dict[str, str]:
    """Send both package liability accounts to the one that holds the package now."""
    acc = ctx.accounts
    now = acc.package_liability(src, invoice_open)
    return {acc.deposits(src): now, acc.deferred(src): now}


def _void_sale(ctx: Context, event: Void, inv: InvoiceState) -> list[Txn]:
    state = ctx.state
    if any(line.paid for line in inv.lines):
        raise Refusal(f"invoice {inv.invoice!r} has payments on it: void them first")
    for line in inv.lines:
        if line.instance is None:
            continue
        pkg = state.packages.get(line.instance)
        if pkg is None or any(g.used for g in pkg.groups.values()):
            raise Refusal(f"package {line.instance!r} was already used: void its redemptions first")
    txns = [mirror(t, event, "sale") for t in sale_txns(ctx, inv)]
    for line in inv.lines:
        if line.instance is not None:
            state.finish(state.packages[line.instance], "voided")
    state.invoices.pop(inv.invoice, None)
    state.closed_invoices.add(inv.invoice)
    return txns


def _void_payment(ctx: Context, event: Void, inv: InvoiceState) -> list[Txn]:
    state = ctx.state
    paid = inv.payments[event.target]
    for part in paid.shares:
        if part.line.instance is None:
            continue
        pkg = state.packages.get(part.line.instance)
        if pkg is None:
            status = state.package_status(part.line.instance)
            raise Refusal(
                f"package {part.line.instance!r} is {status}: the money of {event.target!r} "
                "can no longer go back"
            )
        if pkg.liability < part.liability:
            raise Refusal(
                f"the money of {event.target!r} was already redeemed: package "
                f"{pkg.instance!r} holds {fmt(pkg.liability)} of the {fmt(part.liability)} "
                "it brought"
            )
    redirect = _liability_now(ctx, inv.location, not inv.closed)
    txns = [mirror(t, event, "payment", redirect) for t in payment_txns(ctx, inv, paid)]
    for part in paid.shares:
        part.line.paid -= part.share
        part.line.tax_paid -= part.tax
        pkg_state = state.packages.get(part.line.instance or "")
        if pkg_state is not None:
            pkg_state.ir_done -= part.initial_recognition
            pkg_state.tax_paid -= part.tax
            pkg_state.liability -= part.liability
    del inv.payments[event.target]
    if inv.closed:
        txns += _reopen(ctx, event, inv)
    return txns


def _reopen(ctx: Context, event: Void, inv: InvoiceState) -> list[Txn]:
    """The invoice is no longer paid: each package's Deferred goes back to Deposits."""
    state, acc = ctx.state, ctx.accounts
    inv.closed = False
    txns = []
    for line in inv.lines:
        pkg = state.packages.get(line.instance or "")
        if pkg is None or not pkg.liability:
            continue
        txns.append(txn(
            event.date, f"Invoice {inv.invoice} reopened by the void of {event.target}",
            event=event.id, kind="void", links=(pkg.instance,),
            postings=[debit(acc.deferred(inv.location), pkg.liability),
                      credit(acc.deposits(inv.location), pkg.liability)],
            location=inv.location, invoice=inv.invoice, customer=inv.customer,
            instance=pkg.instance, package=pkg.package, target=event.target,
            target_kind="payment", reason=event.reason,
        ))
    return txns


def _void_package_event(ctx: Context, event: Void, pkg: PackageState) -> list[Txn]:
    """Reverse a redemption or a refund, bringing the package back if it had ended."""
    state = ctx.state
    done = pkg.history[event.target]
    if pkg.status not in ("live", "used up", "refunded"):
        raise Refusal(f"package {pkg.instance!r} is {pkg.status}")
    if pkg.status != "live" and pkg.expires is not None and event.date >= pkg.expires:
        raise Refusal(
            f"package {pkg.instance!r} would be past its expiry date {pkg.expires.isoformat()}"
        )
    if done.on_open_invoice and not isinstance(done, Redeemed):
        raise Refusal(
            f"the refund of {pkg.instance!r} was made on an open invoice, which it settled: "
            "it cannot be voided"
        )
    if pkg.status == "used up" and state.invoice_open(pkg.invoice) != done.on_open_invoice:
        raise Refusal(
            f"{event.target!r} settled the invoice of {pkg.instance!r}: it cannot be voided"
        )
    redirect = _liability_now(ctx, pkg.location, state.invoice_open(pkg.invoice))
    if isinstance(done, Redeemed):
        group = pkg.groups[done.item]
        originals = [redemption_txn(ctx, pkg, done), *reconciliation_rule.apply(
            ctx, done.event, done.date, done.here,
            Used(pkg, group, done.category, done.quantity),
        )]
        txns = [mirror(t, event, "redemption", redirect) for t in originals]
        group.used -= done.quantity
        pkg.recognised -= done.value
        pkg.liability += done.value
    else:
        txns = [mirror(t, event, "refund", redirect) for t in refund_txns(ctx, pkg, done)]
        pkg.tax_paid += done.tax
        pkg.liability += done.net + done.forfeit
    del pkg.history[event.target]
    if pkg.status != "live":
        state.revive(pkg)
    return txns
