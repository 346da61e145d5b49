"""Running a report (SPEC 5): `run_report` over loaded books, `cached_report` from disk.

`run_report` is the one way in, for the CLI and for Fava alike: it checks
what was asked (a period inside the books, options that mean something for
this report, known locations and entities) and returns the `Report`;
`report_document` returns its SPEC 5 JSON document. `cached_report` is the
command line's way: it loads only the months the report needs and keeps the
finished report in the cache under the digest of the code, the options and
every ledger file, so asking again costs a few file reads.
"""

from __future__ import annotations

import datetime
import functools
from pathlib import Path
from typing import Any

from beancount.core import data
from beancount.parser import parser

from pkgbooks.ledger import ACCOUNTS, MAIN
from pkgbooks.periods import REFUSED_DIRECTIVE
from pkgbooks.reports import AS_OF_REPORTS, BASIS_REPORTS, HISTORY_REPORTS, REPORTS
from pkgbooks.reports.base import Report, option_error
from pkgbooks.reports.books import Books, refuse_stale
from pkgbooks.reports.cache import Cache, digest
from pkgbooks.reports.loading import Span, read_files


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


def span_of(name: str, start: datetime.date | None, end: datetime.date) -> Span:
    """The months report NAME reads: its period (an as-of report: `--to`'s month).

    A report that needs a package's life before the period (activity,
    customers, invoices) starts from the build's summary of open packages
    and invoices (`pkgbooks.reports.summary`), the others from the balances
    asserted at the end of the month before.
    """
    if name in HISTORY_REPORTS:
        return Span(start or end.replace(day=1), end, history=True)
    return Span(start, end)


@functools.cache
def _code_digest() -> str:
    """A digest of pkgbooks' own source: a report kept by other code is never served."""
    root = Path(__file__).resolve().parents[1]  # the pkgbooks package
    return digest(*(part for path in sorted(root.rglob("*.py"))
                    for part in (str(path.relative_to(root)), path.read_bytes())))


def cached_report(
    name: str, directory: Path, start: datetime.date | None, end: datetime.date,
    basis: str | None = None, *, locations: tuple[str, ...] = (), entity: str | None = None,
) -> tuple[Report, int]:
    """Report NAME over the books in `directory`, and how many events a build set aside.

    Reads the ledger's files once; if they are as the build wrote them, the
    report is served from the cache when the same code asked the same of the
    same files before, and otherwise made from only the months it needs
    (then kept). A ledger older than its inputs is refused first, cache or
    not. Books edited by hand are loaded whole, as `Books.load` does.
    """
    main = directory / MAIN
    files = read_files(main) if main.exists() else None
    if files is None:
        books = Books.load(directory)
        return run_report(name, books, start, end, basis, locations=locations,
                          entity=entity), _set_aside(books.entries)
    accounts = next((text for path, text in files.others if path.name == ACCOUNTS), b"")
    refuse_stale(directory, parser.parse_string(accounts)[0])
    key = digest(_code_digest(), files.identity, str(directory.resolve()), name,
                 repr((start, end, basis, locations, entity)))
    store = Cache.default()
    kept = store.get("reports", key)
    if isinstance(kept, tuple) and len(kept) == 2 and isinstance(kept[0], Report):
        return kept[0], int(kept[1])
    books = Books.load(directory, span_of(name, start, end), files)
    report = run_report(name, books, start, end, basis, locations=locations, entity=entity)
    made = (report, _set_aside(books.entries))
    store.put("reports", key, made)
    return made


def _set_aside(entries: list[Any]) -> int:
    """How many events a `--keep-going` build left out (SPEC 7)."""
    return sum(1 for e in entries if isinstance(e, data.Custom) and e.type == REFUSED_DIRECTIVE)
