"""The reports of SPEC 5: each a module with `queries()` (its BQL) and `run(books, ask)`.

`pkgbooks.reports.run` is the one way to run them, for the CLI and for Fava
alike. The report modules and this package need neither Beancount nor
beanquery (the books they read, `pkgbooks.reports.books`, do), so a build can
write each report's query as a `query` directive without importing them.
"""

from __future__ import annotations

from types import ModuleType

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
HISTORY_REPORTS = ("activity", *AS_OF_REPORTS)  # need each package's whole life up to --to
BASIS_REPORTS = ("liability",)
