"""The reports of SPEC 5: each a module with `queries()` (its BQL) and `run(books, ask)`.

`run_report` is the one way in, for the CLI and for Fava alike: it checks
what was asked (a period inside the books, options that mean something for
this report, known locations and entities) and returns the `Report`;
`report_document` returns its SPEC 5 JSON document.
"""

from __future__ import annotations

import datetime
from types import ModuleType
from typing import Any

from pkgbooks.reports import (
    activity,
    collections,
    customers,
    expirations,
    invoices,
    liability,
    reconciliation,
    redemptions,
    revenue,
)
from pkgbooks.reports.base import Ask, Books, Report, option_error

REPORTS: dict[str, ModuleType] = {
    "liability": liability,
    "activity": activity,
    "redemptions": redemptions,
    "customers": customers,
    "reconciliation": reconciliation,
    "revenue": revenue,
    "collections": collections,
    "invoices": invoices,
    "expirations": expirations,
}
AS_OF_REPORTS = ("customers", "invoices")  # as of --to: no --from
BASIS_REPORTS = ("liability",)

__all__ = ["AS_OF_REPORTS", "BASIS_REPORTS", "REPORTS", "Ask", "Books", "Report",
           "report_document", "run_report"]


def run_report(
    name: str, books: Books, start: datetime.date | None, end: datetime.date,
    basis: str | None = None, *, locations: tuple[str, ...] = (), entity: str | None = None,
) -> Report:
    """Report NAME over the books; `Failed` says what cannot be asked, and why."""
    if name not in REPORTS:
        raise option_error(f"unknown report {name!r} (one of: {', '.join(REPORTS)})")
    if basis is not None and name not in BASIS_REPORTS:
        raise option_error(f"--basis means nothing for the {name} report (liability only)")
    if name in AS_OF_REPORTS:
        if start is not None:
            raise option_error(f"the {name} report is as of --to: --from means nothing for it")
    elif start is None:
        raise option_error(f"the {name} report needs --from")
    elif end < start:
        raise option_error(f"--to {end} is before --from {start}")
    if books.as_of is not None and end > books.as_of:
        raise option_error(
            f"books run to {books.as_of.isoformat()}: run `pkgbooks build {books.directory} "
            f"--as-of {end.isoformat()}` to report to {end.isoformat()}"
        )
    ask = books.ask(start, end, basis or "payment", locations, entity)
    report: Report = REPORTS[name].run(books, ask)
    report.as_of = books.as_of
    return report


def report_document(
    name: str, books: Books, start: datetime.date | None, end: datetime.date,
    basis: str | None = None, *, locations: tuple[str, ...] = (), entity: str | None = None,
) -> dict[str, Any]:
    """The SPEC 5 JSON document of a report (what `--format json` prints)."""
    return run_report(name, books, start, end, basis, locations=locations,
                      entity=entity).as_json()
