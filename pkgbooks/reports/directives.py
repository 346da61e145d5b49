"""The reports' queries as Beancount `query` directives, so Fava's Query page lists them.

Each is the report's BQL over the whole books (first month to the as-of
date); `pkgbooks report` runs the same queries for any period and finishes
them in Python where BQL alone cannot (documented in each report module).
"""

from __future__ import annotations

import datetime

from pkgbooks.reports import activity, customers, liability, reconciliation, redemptions, revenue
from pkgbooks.reports.base import DEFERRED, PACKAGE_LIABILITY


def all_queries(start: datetime.date, end: datetime.date) -> dict[str, str]:
    """Every report query, by a name that says which report and which part."""
    named: dict[str, str] = {}
    for basis, accounts in (("payment", PACKAGE_LIABILITY), ("sale", DEFERRED)):
        for part, bql in liability.queries(accounts, start, end).items():
            named[f"liability ({basis} basis): {part}"] = bql
    for report in (activity, redemptions, reconciliation, revenue):
        for part, bql in report.queries(start, end).items():
            named[f"{report.__name__.rsplit('.', 1)[1]}: {part}"] = bql
    for part, bql in customers.queries(end).items():
        named[f"customers: {part}"] = bql
    return named


def query_directives(start: datetime.date, end: datetime.date) -> str:
    """The text of `queries.beancount`: one `query` directive per report query."""
    lines = ["; The pkgbooks reports' queries, over the whole books (see `pkgbooks report`).\n\n"]
    for name, bql in all_queries(start, end).items():
        lines.append(f'{end.isoformat()} query "{name}" "{bql}"\n')
    return "".join(lines)
