"""The reports of SPEC 5: each a module with `queries()` (its BQL) and `run()`."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from types import ModuleType

from pkgbooks.errors import Failed, plain_error
from pkgbooks.reports import activity, customers, liability, reconciliation, redemptions, revenue
from pkgbooks.reports.base import Books, Report

REPORTS: dict[str, ModuleType] = {
    "liability": liability,
    "activity": activity,
    "redemptions": redemptions,
    "customers": customers,
    "reconciliation": reconciliation,
    "revenue": revenue,
}

__all__ = ["REPORTS", "Books", "Report", "run_report"]


def run_report(
    name: str, books: Books, start: datetime.date, end: datetime.date, basis: str = "payment"
) -> Report:
    """Run report `name` over `books` for the period `start`..`end` (both included)."""
    if end < start:
        raise Failed([plain_error(f"--to {end} is before --from {start}")])
    module = REPORTS[name]
    runner: Callable[..., Report] = module.run
    if name == "liability":
        return runner(books, start, end, basis)
    return runner(books, start, end)
