"""The engine: events in application order -> rules -> transactions.

Each event goes to its rule (`apply_rule`, one `match` over the event kinds),
which returns an `Outcome`: transactions, state changes, expiries to
schedule, or a refusal. The engine makes the changes, keeps what a later
void needs (the outcome itself), schedules and runs the automatic expiries
(4.4) at their dates, recognises an event read twice, and counts what
happened. It yields transactions in date order, so the ledger writer can
stream them.
"""

from __future__ import annotations

import datetime
import heapq
import operator
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import assert_never

from pkgbooks.config import Config
from pkgbooks.errors import Error, Failed, event_error
from pkgbooks.events import KIND_ORDER, Event, Expiry, Payment, Redemption, Refund, Sale, Void
from pkgbooks.postings import Txn
from pkgbooks.readers import Read, ReadPlaces, Rereader
from pkgbooks.rules import Context, Outcome, refused
from pkgbooks.rules import expiry as expiry_rule
from pkgbooks.rules import payment as payment_rule
from pkgbooks.rules import redemption as redemption_rule
from pkgbooks.rules import refund as refund_rule
from pkgbooks.rules import sale as sale_rule
from pkgbooks.rules import void as void_rule
from pkgbooks.state import Done

EXPIRY_RANK = KIND_ORDER["expiry"]


@dataclass(slots=True)
class Counts:
    """What a run did with its events; read = applied + duplicates + rejected + later."""

    read: int = 0
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    after_as_of: int = 0
    expiries: int = 0
    transactions: int = 0


def apply_rule(ctx: Context, event: Event) -> Outcome:
    """The outcome of `event` under its rule.

    Every event kind has exactly one rule here: `assert_never` makes mypy
    fail when a kind is added to `Event` without one.
    """
    try:
        match event:
            case Sale():
                return sale_rule.apply(ctx, event)
            case Payment():
                return payment_rule.apply(ctx, event)
            case Redemption():
                return redemption_rule.apply(ctx, event)
            case Refund():
                return refund_rule.apply(ctx, event)
            case Expiry():
                return expiry_rule.apply(ctx, event)
            case Void():
                return void_rule.apply(ctx, event)
            case _:
                assert_never(event)
    except Failed as exc:
        return refused(exc)


def concerns(event: Event) -> str:
    """The invoice or package instance an event concerns (the target, for a void)."""
    match event:
        case Sale() | Payment():
            return event.invoice
        case Void():
            return event.target
        case Redemption() | Refund() | Expiry():
            return event.instance
        case _:
            assert_never(event)


# `concerns()` by event class, without the match (asked once per event).
_CONCERNS: dict[type, Callable[[Event], str]] = {
    Sale: operator.attrgetter("invoice"), Payment: operator.attrgetter("invoice"),
    Void: operator.attrgetter("target"), Redemption: operator.attrgetter("instance"),
    Refund: operator.attrgetter("instance"), Expiry: operator.attrgetter("instance"),
}


def commit(ctx: Context, event: Event, outcome: Outcome) -> None:
    """Make an accepted outcome's changes to the state, and keep what a void needs."""
    state = ctx.state
    for change in outcome.undone:
        state.undo(change)
    apply = state.apply
    for change in outcome.changes:
        apply(change)
    if outcome.voids is not None:
        where, key, target = outcome.voids
        state.forget_voidable(where, key, target)
        state.voided[target] = event.id
    if outcome.voidable is not None:
        where, key = outcome.voidable
        state.keep_voidable(where, key, Done(
            event.id, event.type, outcome.txns, outcome.changes, outcome.open_invoice))
    concern = _CONCERNS.get(type(event), concerns)
    state.events[event.id] = (event.type, concern(event))


@dataclass(slots=True)
class Engine:
    """Applies a stream of events to the books state and yields transactions."""

    config: Config
    problems: list[Error]
    ctx: Context = field(init=False)
    counts: Counts = field(default_factory=Counts)
    # event id -> (date, file, line) where it was first read
    _seen: ReadPlaces = field(default_factory=ReadPlaces)
    # (expiry date, instance) of every live package that can expire
    _expiries: list[tuple[datetime.date, str]] = field(default_factory=list)
    end: datetime.date | None = None  # the books' as-of date, known once run() is over
    _reread: Rereader = field(default_factory=Rereader)

    def __post_init__(self) -> None:
        self.ctx = Context.new(self.config)

    def run(self, reads: Iterable[Read], as_of: datetime.date | None) -> Iterator[Txn]:
        """All transactions, in date order. Events after `as_of` are left out.

        With no `as_of`, the books run to the latest event date.
        """
        last: datetime.date | None = None
        for read in reads:
            event = read.event
            self.counts.read += 1
            if as_of is not None and event.date > as_of:
                self.counts.after_as_of += 1
                continue
            # The books run to the latest event date, whatever becomes of the event.
            last = event.date if last is None else max(last, event.date)
            heap = self._expiries
            if heap and heap[0][0] <= event.date:
                yield from self._expire_until(event.date, KIND_ORDER[event.type])
            if self._is_duplicate(read):
                continue
            outcome = apply_rule(self.ctx, event)
            if outcome.refusals:
                self.counts.rejected += 1
                self.problems.extend(e.at(read.file, read.line, event.id)
                                     for e in outcome.refusals)
                continue
            self._accept(event, outcome)
            self.counts.applied += 1
            yield from outcome.txns
        self.end = as_of or last
        if self.end is not None:
            yield from self._expire_until(self.end, EXPIRY_RANK + 1)

    def _accept(self, event: Event, outcome: Outcome) -> None:
        """Commit an outcome and schedule the expiries it brings."""
        commit(self.ctx, event, outcome)
        self.counts.transactions += len(outcome.txns)
        for expiry in outcome.expiries:
            heapq.heappush(self._expiries, expiry)

    def _is_duplicate(self, read: Read) -> bool:
        """The same event read again is skipped; the same id with other content is refused.

        Only where each id was first read is kept; the rare repeat re-reads the
        first event from its file to compare the two.
        """
        if self._seen.add(read):
            return False
        event = read.event
        _date, file, line = self._seen[event.id]
        first = self._reread(file, line)
        if first == event:
            self.counts.duplicates += 1
            return True
        self.counts.rejected += 1
        self.problems.append(event_error(
            read.file, read.line, event.id,
            f"event id already used by a different event at {file}:{line} "
            f"({_differences(first, event)})",
        ))
        return True

    def _expire_until(self, date: datetime.date, rank: int) -> Iterator[Txn]:
        """Automatic expiries due before an event of `date` and kind `rank`.

        An expiry dated `date` comes after that date's sales, payments,
        redemptions, refunds and explicit expiries, and before its voids.
        """
        heap = self._expiries
        while heap and (heap[0][0] < date or (heap[0][0] == date and rank > EXPIRY_RANK)):
            when, instance = heapq.heappop(heap)
            if instance not in self.ctx.state.packages:
                self.ctx.state.past_expiry(instance)  # used up, refunded or expired early
                continue
            event = expiry_rule.automatic(instance, when)
            outcome = apply_rule(self.ctx, event)
            if outcome.refusals:  # cannot happen: a live package expires on its own date
                raise AssertionError(outcome.refusals)
            self._accept(event, outcome)
            self.counts.expiries += 1
            yield from outcome.txns


def _differences(first: Event | None, second: Event) -> str:
    """Which fields two events with one id disagree on."""
    if first is None:
        return "the first could not be read again"
    a, b = first.model_dump(), second.model_dump()
    fields = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    return "fields that differ: " + ", ".join(fields)
