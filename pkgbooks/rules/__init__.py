"""Rule modules: one per event kind, each `apply(ctx, event) -> Outcome`.

A rule reads the books state and never changes it: it returns what the event
does as data (an `Outcome`): the transactions to write, the state changes the
engine then applies (and a void later undoes from the same data), the
expiries to schedule, and, when the event breaks a rule, the refusal alone.
A rule checks with `refuse()`, which stops it with the rule broken.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal, NamedTuple, NoReturn

from pkgbooks.config import Config
from pkgbooks.errors import Error, Failed, Source
from pkgbooks.postings import Accounts, Txn
from pkgbooks.state import BooksState, Change, PackageState


class Outcome(NamedTuple):
    """What one event does to the books (see the module docstring).

    A named tuple: one is made per event, and a tuple is quicker to make
    than a frozen dataclass.
    """

    txns: tuple[Txn, ...] = ()
    changes: tuple[Change, ...] = ()
    expiries: tuple[tuple[datetime.date, str], ...] = ()  # (expiry date, instance)
    refusals: tuple[Error, ...] = ()
    # Where a void finds this event again: its invoice (a payment) or its package.
    voidable: tuple[Literal["invoice", "package"], str] | None = None
    open_invoice: bool = False  # the package's invoice was open (a void checks it)
    # A void: the target's changes to undo, in this order, before `changes` apply ...
    undone: tuple[Change, ...] = ()
    # ... and (where, key, target id): the voidable event it takes back.
    voids: tuple[Literal["invoice", "package"], str, str] | None = None


def refuse(message: str) -> NoReturn:
    """Stop the rule: the event breaks the rule `message` states."""
    raise Failed([Error(Source(), message)])


def refused(exc: Failed) -> Outcome:
    """The outcome of an event a rule refused: nothing but the refusal."""
    return Outcome(refusals=tuple(exc.errors))


@dataclass(slots=True)
class Context:
    """What a rule reads: the configuration, the account names and the books state."""

    config: Config
    accounts: Accounts
    state: BooksState

    @classmethod
    def new(cls, config: Config) -> Context:
        """A context for fresh books under `config`."""
        segments = {loc: spec.account for loc, spec in config.locations.items()}
        return cls(config, Accounts(segments), BooksState())

    def location(self, loc: str) -> str:
        """`loc` if it is a configured location; refuse otherwise."""
        if loc not in self.config.locations:
            known = ", ".join(self.config.locations)
            refuse(f"unknown location {loc!r} (configured: {known})")
        return loc

    def live_package(self, instance: str) -> PackageState:
        """The live package `instance`; refuse an unknown or finished one."""
        pkg = self.state.packages.get(instance)
        if pkg is not None:
            return pkg
        done = self.state.finished.get(instance)
        if done is not None:
            refuse(f"package instance {instance!r} is {done.status}")
        refuse(f"unknown package instance {instance!r} (no sale before this date)")
