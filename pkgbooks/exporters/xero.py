"""Xero: the manual journal import file (CSV) and the `PUT /ManualJournals` body (JSON).

Xero imports at most 300 rows a file, so the CSV is split between journals
into files of at most that many rows; a tracking category, if configured,
carries the location's name (Xero limits an option's name to 100 characters).
"""

from __future__ import annotations

from typing import Any

from pkgbooks.errors import Error, config_error, plain_error
from pkgbooks.exporters.base import Exporter, plain_map
from pkgbooks.exporters.journals import AccountMap, Journal

ROWS_PER_FILE = 300
TRACKING_OPTION_LENGTH = 100


class XeroExporter(Exporter):
    target = "xero"
    formats = ("csv", "json")

    def account_map(self) -> AccountMap:
        return plain_map(self.config.export.xero.accounts)

    def check(self, journals: list[Journal], fmt: str) -> list[Error]:
        problems = []
        if self.config.export.xero.tracking is not None:
            problems += [
                config_error(self.source, f"locations.{loc}.name",
                             f"longer than the {TRACKING_OPTION_LENGTH} characters of a Xero "
                             "tracking option", name)
                for loc, name in sorted({(j.location, j.location_name) for j in journals})
                if len(name) > TRACKING_OPTION_LENGTH
            ]
        if fmt == "csv":
            problems += [
                plain_error(f"{j.narration}: {len(j.lines)} lines, more than the "
                            f"{ROWS_PER_FILE} rows Xero imports from one file")
                for j in journals if len(j.lines) > ROWS_PER_FILE
            ]
        return problems

    def split(self, journals: list[Journal], fmt: str) -> list[list[Journal]]:
        if fmt != "csv":
            return [journals]
        files: list[list[Journal]] = [[]]
        rows = 0
        for journal in journals:
            if rows + len(journal.lines) > ROWS_PER_FILE:
                files.append([])
                rows = 0
            files[-1].append(journal)
            rows += len(journal.lines)
        return files

    def context(self, journals: list[Journal], fmt: str) -> dict[str, Any]:
        settings = self.config.export.xero
        return {
            "journals": journals,
            "date_format": settings.date_format,
            "tax_rate": settings.tax_rate,
            "tax_type": settings.tax_type,
            "tracking": settings.tracking,
        }
