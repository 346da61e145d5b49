"""The engine: events in application order -> rules -> transactions.

It dispatches each event to its rule, generates the automatic expiries (4.4)
at their dates, recognises an event read twice, and counts what happened.
It yields transactions in date order, so the ledger writer can stream them.
"""

from __future__ import annotations

import datetime
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from pkgbooks.config import Config
from pkgbooks.events import KIND_ORDER, Event, Expiry, Payment, Redemption, Refund, Sale, Void
from pkgbooks.postings import Txn
from pkgbooks.readers import Problem, Read, Rereader
from pkgbooks.rules import Context, Refusal
from pkgbooks.rules import expiry as expiry_rule
from pkgbooks.rules import payment as payment_rule
from pkgbooks.rules import reconciliation as reconciliation_rule
from pkgbooks.rules import redemption as redemption_rule
from pkgbooks.rules import refund as refund_rule
from pkgbooks.rules import sale as sale_rule
from pkgbooks.rules import void as void_rule

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


@dataclass(slots=True)
class Engine:
    """Applies a stream of events to the books state and yields transactions."""

    config: Config
    problems: list[Problem]
    ctx: Context = field(init=False)
    counts: Counts = field(default_factory=Counts)
    # event id -> (file, line) where it was first read
    _seen: dict[str, tuple[str, int]] = field(default_factory=dict)
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
            try:
                txns = self._apply(read)
            except Refusal as refusal:
                self.counts.rejected += 1
                self.problems.append(Problem(read.file, read.line, event.id, str(refusal)))
                continue
            self._remember(read, txns)
            self.counts.applied += 1
            self.counts.transactions += len(txns)
            yield from txns
        self.end = as_of or last
        if self.end is not None:
            yield from self._expire_until(self.end, EXPIRY_RANK + 1)

    def _is_duplicate(self, read: Read) -> bool:
        """The same event read again is skipped; the same id with other content is refused.

        Only where each id was first read is kept; the rare repeat re-reads the
        first event from its file to compare the two.
        """
        event = read.event
        seen = self._seen.get(event.id)
        if seen is None:
            self._seen[event.id] = (read.file, read.line)
            return False
        first = self._reread(*seen)
        if first == event:
            self.counts.duplicates += 1
            return True
        self.counts.rejected += 1
        self.problems.append(Problem(
            read.file, read.line, event.id,
            f"event id already used by a different event at {seen[0]}:{seen[1]} "
            f"({_differences(first, event)})",
        ))
        return True

    def _apply(self, read: Read) -> list[Txn]:
        event, ctx = read.event, self.ctx
        if isinstance(event, Sale):
            txns = sale_rule.apply(ctx, event)
            for line in event.lines:
                pkg = ctx.state.packages.get(getattr(line, "instance", ""))
                if pkg is not None and pkg.expires is not None:
                    heapq.heappush(self._expiries, (pkg.expires, pkg.instance))
            return txns
        if isinstance(event, Payment):
            return payment_rule.apply(ctx, event)
        if isinstance(event, Redemption):
            txns, used = redemption_rule.apply(ctx, event)
            return txns + reconciliation_rule.apply(ctx, event.id, event.date, event.location, used)
        if isinstance(event, Refund):
            return refund_rule.apply(ctx, event)
        if isinstance(event, Expiry):
            return expiry_rule.apply(ctx, event.id, event.date, event.instance)
        if isinstance(event, Void):
            txns = void_rule.apply(ctx, event)
            pkg = ctx.state.packages.get(ctx.state.events[event.target][1])
            if pkg is not None and pkg.expires is not None:  # a package a void brought back
                heapq.heappush(self._expiries, (pkg.expires, pkg.instance))
            return txns
        raise AssertionError(f"no rule for {event!r}")

    def _remember(self, read: Read, txns: list[Txn]) -> None:
        """Index an applied event by the package or invoice it concerns, for voids."""
        event = read.event
        if isinstance(event, Sale | Payment):
            key = event.invoice
        elif isinstance(event, Void):
            key = event.target
        else:
            key = event.instance
        self.ctx.state.events[event.id] = (event.type, key)

    def _expire_until(self, date: datetime.date, rank: int) -> Iterator[Txn]:
        """Automatic expiries due before an event of `date` and kind `rank`.

        An expiry dated `date` comes after that date's sales, payments,
        redemptions, refunds and explicit expiries, and before its voids.
        """
        heap = self._expiries
        while heap and (heap[0][0] < date or (heap[0][0] == date and rank > EXPIRY_RANK)):
            when, instance = heapq.heappop(heap)
            if instance not in self.ctx.state.packages:
                continue  # used up, refunded or expired early
            txns = expiry_rule.apply(
                self.ctx, expiry_rule.automatic_id(instance), when, instance
            )
            self.counts.expiries += 1
            self.counts.transactions += len(txns)
            yield from txns


def _differences(first: Event | None, second: Event) -> str:
    """Which fields two events with one id disagree on."""
    if first is None:
        return "the first could not be read again"
    a, b = first.model_dump(), second.model_dump()
    fields = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    return "fields that differ: " + ", ".join(fields)
