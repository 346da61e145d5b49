"""The pkgbooks report page and JSON endpoints in Fava (SPEC 6a).

A thin front end, in the shape of Fava's own modules (`fava/core/budgets.py`
on `module_base.py`): it makes a `Books` from the ledger Fava loaded and
calls the same report code as `pkgbooks report` (`pkgbooks.reports`), so
the page, the endpoints and the CLI cannot disagree.

It reads Fava's *unfiltered* entries (`ledger.all_entries`), never the
filtered view: Fava summarises the entries before a time filter into
opening-balance transactions without their metadata, and an account filter
drops postings, and pkgbooks' reports need every entry with its `kind`. So
the figures are the same whatever Fava's filters are set to.

Enabled by the generated books' `custom "fava-extension" "pkgbooks.fava"`.
Endpoints, under `/<ledger>/extension/Pkgbooks/`:

- `liability?from=DATE&to=DATE&basis=payment|sale`: the document of
  `pkgbooks report liability --format json`;
- `reconciliation?from=DATE&to=DATE`: that of `pkgbooks report reconciliation`;
- `package?instance=ID`: one package's history, liability and units left.

A missing `from`/`to` means the latest month with activity (up to the books'
as-of date). A bad argument or a report that cannot be made answers 400 with
`{"error": ...}`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beancount.core import data
from fava.ext import FavaExtensionBase, extension_endpoint
from flask import Response, jsonify, request

from pkgbooks.config import load_config
from pkgbooks.errors import Failed, plain_error
from pkgbooks.layout import CONFIG, inputs_digest
from pkgbooks.ledger import AS_OF_DIRECTIVE, INPUTS_DIRECTIVE
from pkgbooks.reports import BASIS_REPORTS
from pkgbooks.reports.base import Report
from pkgbooks.reports.books import Books
from pkgbooks.reports.output import as_json, cell
from pkgbooks.reports.package import liability_by_month, lookup
from pkgbooks.reports.run import run_report

BASES = ("payment", "sale")


def bad_request(message: str) -> Failed:
    """An argument of the page or an endpoint that cannot be used: the message says why."""
    return Failed([plain_error(message)])


@dataclass(slots=True)
class Period:
    start: datetime.date
    end: datetime.date
    basis: str


class Pkgbooks(FavaExtensionBase):
    """Package liability, reconciliation and package look-up for accountants."""

    report_title = "Packages"

    _books: Books | None = None
    _loaded: int | None = None
    _stale: bool = False

    # The books -------------------------------------------------------------

    def books(self) -> Books:
        """The books as Fava loaded them (made again after every reload)."""
        entries = self.ledger.all_entries
        if self._books is None or self._loaded != id(entries):
            directory = Path(self.ledger.beancount_file_path).parent
            config = load_config(directory / CONFIG)
            ledger: list[data.Directive] = list(entries)  # type: ignore[arg-type]
            customs = {e.type: e for e in ledger if isinstance(e, data.Custom)}
            as_of = customs[AS_OF_DIRECTIVE].date if AS_OF_DIRECTIVE in customs else None
            recorded = customs.get(INPUTS_DIRECTIVE)
            self._stale = (recorded is None
                           or recorded.values[0].value != inputs_digest(directory))
            self._books = Books(directory, config, ledger, dict(self.ledger.options),
                                as_of)
            self._loaded = id(entries)
        return self._books

    def stale(self) -> bool:
        """Whether the ledger was built from other inputs than those on disk now."""
        self.books()
        return self._stale

    def error_count(self) -> int:
        return len(self.ledger.errors)

    # What the page and the endpoints ask for -------------------------------

    def period(self, args: dict[str, str] | None = None) -> Period:
        """The period and basis asked for; by default the latest month with activity."""
        args = dict(request.args) if args is None else args
        start, end = _date(args, "from"), _date(args, "to")
        basis = args.get("basis") or "payment"
        if basis not in BASES:
            raise bad_request(f"basis {basis!r}: use payment or sale")
        if start is None or end is None:
            first, last = self.latest_month()
            start, end = start or first, end or last
        if end < start:
            raise bad_request(f"to {end} is before from {start}")
        return Period(start, end, basis)

    def latest_month(self) -> tuple[datetime.date, datetime.date]:
        """The first and last day of the latest month with a transaction (to the as-of date)."""
        books = self.books()
        dates = [e.date for e in books.entries if isinstance(e, data.Transaction)]
        last = max(dates) if dates else (books.as_of or datetime.date.today())
        following = (last.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
        end = following - datetime.timedelta(days=1)
        if books.as_of is not None and books.as_of < end:
            end = max(books.as_of, last)
        return last.replace(day=1), end

    def report(self, name: str, period: Period) -> Report:
        """A report as the CLI makes it (the basis only where it means something)."""
        basis = period.basis if name in BASIS_REPORTS else None
        return run_report(name, self.books(), period.start, period.end, basis)

    def package_of(self, instance: str) -> dict[str, Any]:
        return lookup(self.books(), instance)

    def chart(self, basis: str) -> list[dict[str, Any]]:
        """Fava's balances chart: one line per location (keyed by its id)."""
        series = liability_by_month(self.books(), basis)
        return [{
            "type": "balances", "label": f"Package liability ({basis} basis)",
            "data": [{"date": point["date"], "balance": point["balances"]} for point in series],
        }]

    @staticmethod
    def cell(value: Any) -> str:
        """A figure as the CLI's table shows it (amounts to the cent, never through a float)."""
        return cell(value)

    def location_names(self) -> dict[str, str]:
        return {loc: spec.name for loc, spec in self.books().config.locations.items()}

    def view(self) -> dict[str, Any]:
        """Everything the page shows, or the reason it cannot (shown on the page)."""
        shown: dict[str, Any] = {"error": None, "package_error": None, "package": None}
        try:
            period = self.period()
            shown["period"] = period
            shown["liability"] = self.report("liability", period)
            shown["reconciliation"] = self.report(
                "reconciliation", Period(period.start, period.end, "payment"))
            shown["chart"] = self.chart(period.basis)
        except Failed as exc:
            shown["error"] = str(exc)
            return shown
        instance = request.args.get("instance", "").strip()
        if instance:
            try:
                shown["package"] = self.package_of(instance)
            except Failed as exc:
                shown["package_error"] = str(exc)
        return shown

    # JSON endpoints --------------------------------------------------------

    @extension_endpoint
    def liability(self) -> Response:
        return self._answer(lambda: as_json(self.report("liability", self.period())))

    @extension_endpoint
    def reconciliation(self) -> Response:
        def answer() -> str:
            if "basis" in request.args:
                raise bad_request("basis means nothing for the reconciliation")
            return as_json(self.report("reconciliation", self.period()))
        return self._answer(answer)

    @extension_endpoint
    def package(self) -> Response:
        def answer() -> Any:
            instance = request.args.get("instance", "").strip()
            if not instance:
                raise bad_request("instance: give a package instance id")
            return self.package_of(instance)
        return self._answer(answer)

    def _answer(self, make: Any) -> Response:
        try:
            body = make()
        except Failed as exc:
            response = jsonify({"error": str(exc)})
            response.status_code = 400
            return response
        if isinstance(body, str):
            return Response(body, mimetype="application/json")
        return jsonify(body)


def _date(args: dict[str, str], name: str) -> datetime.date | None:
    value = args.get(name) or None
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise bad_request(f"{name} {value!r} is not a date YYYY-MM-DD") from None
