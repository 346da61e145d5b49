"""Rule modules: one per event kind, each `apply(ctx, event) -> list[Txn]`.

A rule checks everything first and raises `Refusal` (with the rule broken)
before it changes any state, so a refused event leaves the books as they were.
"""

from __future__ import annotations

from dataclasses import dataclass

from pkgbooks.config import Config
from pkgbooks.postings import Accounts
from pkgbooks.state import BooksState, PackageState


class Refusal(Exception):
    """An event breaks a rule; the message says which, precisely."""


@dataclass(slots=True)
class Context:
    config: Config
    accounts: Accounts
    state: BooksState

    @classmethod
    def new(cls, config: Config) -> Context:
        segments = {loc: spec.account for loc, spec in config.locations.items()}
        return cls(config, Accounts(segments), BooksState())

    def location(self, loc: str) -> str:
        if loc not in self.config.locations:
            known = ", ".join(self.config.locations)
            raise Refusal(f"unknown location {loc!r} (configured: {known})")
        return loc

    def live_package(self, instance: str) -> PackageState:
        pkg = self.state.packages.get(instance)
        if pkg is not None:
            return pkg
        done = self.state.finished.get(instance)
        if done is not None:
            raise Refusal(f"package instance {instance!r} is {done.status}")
        raise Refusal(f"unknown package instance {instance!r} (no sale before this date)")
