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
from typing import Any, assert_never

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
from pkgbooks.state import Add, BooksState, Done

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
        rule = _RULES.get(event.__class__)
        if rule is not None:  # every event: one look-up instead of the `match` below
            return rule(ctx, event)
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


# `apply_rule()`'s rules by event class: the same as its `match`, by one look-up.
_RULES: dict[type, Callable[[Context, Any], Outcome]] = {
    Sale: sale_rule.apply, Payment: payment_rule.apply, Redemption: redemption_rule.apply,
    Refund: refund_rule.apply, Expiry: expiry_rule.apply, Void: void_rule.apply,
}


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
    apply, add = state.apply, state.add
    for change in outcome.changes:
        if change.__class__ is Add:  # most changes: straight to the number they change
            add(change)
        else:
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
class EngineState:
    """Everything an engine carries from one event to the next, as plain picklable data.

    Taken between two events (`Engine.snapshot()`), it lets a later run go on
    from there (`Engine.resume()`) exactly as if the events before had been
    read again (`pkgbooks.checkpoint`).
    """

    state: BooksState
    seen: ReadPlaces
    expiries: list[tuple[datetime.date, str]]
    counts: Counts
    last: datetime.date | None


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
    last: datetime.date | None = None  # the latest event date up to the as-of date, so far
    _reread: Rereader = field(default_factory=Rereader)

    def __post_init__(self) -> None:
        self.ctx = Context.new(self.config)

    def snapshot(self) -> EngineState:
        """The engine's state as it stands (not a copy: pickle it before the run goes on)."""
        return EngineState(self.ctx.state, self._seen, self._expiries, self.counts, self.last)

    def resume(self, saved: EngineState) -> None:
        """Go on from a snapshot: the next events must all be dated after its events."""
        self.ctx.state = saved.state
        self._seen = saved.seen
        self._expiries = saved.expiries
        self.counts = saved.counts
        self.last = saved.last

    def run(self, reads: Iterable[Read], as_of: datetime.date | None) -> Iterator[Txn]:
        """All transactions, in date order. Events after `as_of` are left out.

        With no `as_of`, the books run to the latest event date.
        """
        last = self.last
        counts, heap, ctx = self.counts, self._expiries, self.ctx
        for read in reads:
            event = read.event
            date = event.date
            counts.read += 1
            if as_of is not None and date > as_of:
                counts.after_as_of += 1
                continue
            # The books run to the latest event date, whatever becomes of the event.
            if last is None or date > last:
                last = date
            if heap and heap[0][0] <= date:
                yield from self._expire_until(date, KIND_ORDER[event.type])
            if self._is_duplicate(read):
                continue
            outcome = apply_rule(ctx, event)
            if outcome.refusals:
                counts.rejected += 1
                self.problems.extend(e.at(read.file, read.line, event.id)
                                     for e in outcome.refusals)
                continue
            self._accept(event, outcome)
            counts.applied += 1
            yield from outcome.txns
        self.last = last
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
