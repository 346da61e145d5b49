"""Void (SPEC 4.8): reverse an earlier sale, payment, redemption or refund.

History is never edited: the void writes, dated on the void date, the mirror
of each transaction its target wrote (kind `void`, metadata `target`,
`target_kind` and `reason`, the same `^instance` links), and the package
state goes on as if the target had not happened. Both come from data: the
engine keeps each voidable event's transactions and state changes (its
`Done` record); the void mirrors the transactions and hands the changes back
to the engine to undo. There is no reverse code per event kind. A sale is
mirrored from its invoice record, which holds everything its lines wrote.

A package liability posting is reversed on the account that holds the
package's liability now (the invoice may have closed since); a payment void
that reopens a closed invoice moves what is left of each package from
Deferred back to Deposits.

Refused, with the reason: a void of a void or of an expiry, a second void of
the same event, a payment whose money was already redeemed, expired or
refunded, a sale with payments or redemptions on it, a redemption or refund
of a package that has expired since, or that would be past its expiry date.
"""

from __future__ import annotations

from pkgbooks.events import Void
from pkgbooks.money import fmt_cents
from pkgbooks.postings import Kind, Meta, Posting, Txn, credit, debit, txn
from pkgbooks.rules import Context, Outcome, refuse
from pkgbooks.rules.sale import sale_txns
from pkgbooks.state import (
    Add,
    Change,
    Done,
    InvoiceState,
    NewSale,
    PackageState,
    SetClosed,
    SetStatus,
)

VOIDABLE = ("sale", "payment", "redemption", "refund")


def apply(ctx: Context, event: Void) -> Outcome:
    """Check that the target can still be voided; mirror it and undo its changes."""
    state = ctx.state
    target = event.target
    if target in state.voided:
        refuse(f"event {target!r} was already voided by {state.voided[target]!r}")
    known = state.events.get(target)
    if known is None:
        refuse(f"unknown target event {target!r} (not applied before this void)")
    kind, key = known
    if kind not in VOIDABLE:
        refuse(f"{kind} events cannot be voided (only {', '.join(VOIDABLE)})")
    if kind in ("sale", "payment"):
        inv = state.invoices.get(key)
        if inv is None or (kind == "payment" and target not in inv.payments):
            refuse(
                f"invoice {key!r} is settled and its packages are over: {target!r} can no "
                "longer be voided (record a refund instead)"
            )
        return _void_sale(ctx, event, inv) if kind == "sale" else _void_payment(ctx, event, inv)
    pkg = state.packages.get(key) or state.finished.get(key)
    if pkg is None or target not in pkg.history:
        status = pkg.status if pkg is not None else "gone"
        refuse(f"package {key!r} is {status}: {target!r} can no longer be voided")
    return _void_package_event(ctx, event, pkg)


def mirror(
    t: Txn, event: Void, target_kind: Kind, redirect: dict[str, str] | None = None
) -> Txn:
    """The reversal of one transaction of the target: every posting negated (maybe moved)."""
    redirect = redirect or {}
    return txn(
        event.date, f"Void of {t.event} ({target_kind}): {event.reason}",
        t.meta.voided(event.id, target_kind, event.reason),
        [Posting(redirect.get(p.account, p.account), -p.amount, p.instance)
         for p in t.postings],
        links=t.links,
    )


def _mirrors(done: Done, event: Void, redirect: dict[str, str]) -> list[Txn]:
    """The mirror of what the target wrote; an invoice it closed is reopened apart."""
    return [mirror(t, event, done.kind, redirect) for t in done.txns if t.kind != "close"]


def _undone(done: Done) -> tuple[Change, ...]:
    """The target's changes, last first, for the engine to undo (closing is handled apart)."""
    return tuple(c for c in reversed(done.changes) if not isinstance(c, SetClosed))


def _liability_now(ctx: Context, src: str, invoice_open: bool) -> dict[str, str]:
    """Send both package liability accounts to the one that holds the package now."""
    acc = ctx.accounts
    now = acc.package_liability(src, invoice_open)
    return {acc.deposits(src): now, acc.deferred(src): now}


def _void_sale(ctx: Context, event: Void, inv: InvoiceState) -> Outcome:
    state = ctx.state
    if any(line.paid for line in inv.lines):
        refuse(f"invoice {inv.invoice!r} has payments on it: void them first")
    packages: dict[str, PackageState] = {}
    for line in inv.lines:
        if line.instance is None:
            continue
        pkg = state.packages.get(line.instance)
        if pkg is None or any(g.used for g in pkg.groups.values()):
            refuse(f"package {line.instance!r} was already used: void its redemptions first")
        packages[pkg.instance] = pkg
    return Outcome(
        tuple(mirror(t, event, "sale") for t in sale_txns(inv, packages)),
        undone=(NewSale(inv, tuple(packages.values())),),
    )


def _void_payment(ctx: Context, event: Void, inv: InvoiceState) -> Outcome:
    state = ctx.state
    done = inv.payments[event.target]
    brought: dict[str, int] = {}  # instance -> liability (cents) the payment brought it
    for change in done.changes:
        if isinstance(change, Add) and change.target == "line" and change.field == "paid":
            instance = inv.lines[int(change.part or 0)].instance
            if instance is not None:
                brought.setdefault(instance, 0)
        elif isinstance(change, Add) and change.field == "liability":
            brought[change.key] = brought.get(change.key, 0) + change.amount
    for instance, liability in brought.items():
        pkg = state.packages.get(instance)
        if pkg is None:
            status = state.package_status(instance)
            refuse(
                f"package {instance!r} is {status}: the money of {event.target!r} "
                "can no longer go back"
            )
        if pkg.liability < liability:
            refuse(
                f"the money of {event.target!r} was already redeemed: package "
                f"{pkg.instance!r} holds {fmt_cents(pkg.liability)} of the {fmt_cents(liability)} "
                "it brought"
            )
    redirect = _liability_now(ctx, inv.location, not inv.closed)
    txns = _mirrors(done, event, redirect)
    changes: list[Change] = []
    if inv.closed:
        txns += _reopen(ctx, event, inv, brought)
        changes.append(SetClosed(inv.invoice, False))
    return Outcome(tuple(txns), tuple(changes), undone=_undone(done),
                   voids=("invoice", inv.invoice, event.target))


def _reopen(
    ctx: Context, event: Void, inv: InvoiceState, brought: dict[str, int]
) -> list[Txn]:
    """The invoice is no longer paid: each package's Deferred goes back to Deposits.

    It also takes back, as `redeemed`, what the close counted as redeemed
    while the invoice was open (5.1 sale basis).
    """
    state, acc = ctx.state, ctx.accounts
    txns = []
    for line in inv.lines:
        pkg = state.packages.get(line.instance or "")
        if pkg is None:
            continue
        left = pkg.liability - brought.get(pkg.instance, 0)
        if not (left or pkg.redeemed_open):
            continue
        txns.append(txn(
            event.date, f"Invoice {inv.invoice} reopened by the void of {event.target}",
            Meta(event=event.id, kind="void", location=inv.location, invoice=inv.invoice,
                 customer=inv.customer, instance=pkg.instance, package=pkg.package,
                 redeemed=pkg.redeemed_open or None, target=event.target,
                 target_kind="payment", reason=event.reason),
            [debit(acc.deferred(inv.location), left), credit(acc.deposits(inv.location), left)],
            links=(pkg.instance,),
        ))
    return txns


def _void_package_event(ctx: Context, event: Void, pkg: PackageState) -> Outcome:
    """Reverse a redemption or a refund, bringing the package back if it had ended."""
    state = ctx.state
    done = pkg.history[event.target]
    if pkg.status not in ("live", "used up", "refunded"):
        refuse(f"package {pkg.instance!r} is {pkg.status}")
    if pkg.status != "live" and pkg.expires is not None and event.date >= pkg.expires:
        refuse(
            f"package {pkg.instance!r} would be past its expiry date {pkg.expires.isoformat()}"
        )
    if done.on_open_invoice and done.kind != "redemption":
        refuse(
            f"the refund of {pkg.instance!r} was made on an open invoice, which it settled: "
            "it cannot be voided"
        )
    if pkg.status == "used up" and state.invoice_open(pkg.invoice) != done.on_open_invoice:
        refuse(f"{event.target!r} settled the invoice of {pkg.instance!r}: it cannot be voided")
    redirect = _liability_now(ctx, pkg.location, state.invoice_open(pkg.invoice))
    revived = pkg.status != "live" and pkg.expires is not None
    # A status change of the target is undone only if the package still has that
    # status: the redemption that used it up, voided after an earlier redemption's
    # void brought it back, finds it live already.
    undone = tuple(c for c in _undone(done)
                   if not isinstance(c, SetStatus) or c.after == pkg.status)
    # A redemption before the one that used the package up gives a unit back too:
    # the package is live again, though the status change was not this target's.
    brought_back: tuple[Change, ...] = ()
    if pkg.status == "used up" and not any(isinstance(c, SetStatus) for c in undone):
        brought_back = (SetStatus(pkg.instance, "used up", "live"),)
    return Outcome(
        tuple(_mirrors(done, event, redirect)),
        changes=brought_back,
        undone=undone,
        expiries=((pkg.expires, pkg.instance),) if revived and pkg.expires else (),
        voids=("package", pkg.instance, event.target),
    )
