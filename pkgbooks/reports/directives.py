"""The reports as Beancount `query` directives, so Fava's Query page lists them.

One directive per report (two for the liability roll-forward, one per
basis): the report's main query over the whole books (first day to the
as-of date), which a person can run as it stands and which shows the
report's figures; `pkgbooks report` runs the same queries for any period
and finishes them in Python where BQL alone cannot (documented in each
report module). A `fava-option` lets Fava's sidebar list all of them.
"""

from __future__ import annotations

import datetime

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
from pkgbooks.reports.base import DEFERRED, PACKAGE_LIABILITY


def all_queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """Every report's main query, by the report's name."""
    return {
        "liability (payment basis)": liability.whole_query(PACKAGE_LIABILITY, start, end),
        "liability (sale basis)": liability.whole_query(DEFERRED, start, end),
        "activity": activity.whole_query(start, end),
        "redemptions": redemptions.whole_query(start, end),
        "customers": customers.whole_query(end),
        "reconciliation": reconciliation.whole_query(start, end),
        "revenue": revenue.whole_query(start, end),
        "collections": collections.whole_query(start, end),
        "invoices": invoices.whole_query(end),
        "expirations": expirations.whole_query(start, end),
    }


def query_directives(start: datetime.date, end: datetime.date) -> str:
    """The text of `queries.beancount`: Fava's sidebar option, then one directive per report."""
    queries = all_queries(start, end)
    lines = [
        "; The pkgbooks reports, each as one query over the whole books "
        "(see `pkgbooks report`).\n\n",
        f'{end.isoformat()} custom "fava-option" "sidebar-show-queries" "{len(queries)}"\n\n',
    ]
    for name, bql in queries.items():
        lines.append(f'{end.isoformat()} query "pkgbooks {name}" "{bql}"\n')
    return "".join(lines)
