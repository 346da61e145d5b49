"""QuickBooks Online: the journal entry import file (CSV) and API `JournalEntry` objects (JSON).

The map's values are QuickBooks account names, or `{ name, id }`; the API
needs the id, so a JSON export with an account mapped without one is refused
(listing them all). The location's name goes in the `Location` column /
`DepartmentRef` (QuickBooks' "location" tracking) or the `Class` column /
`ClassRef`, by `[export.qbo] location`.
"""

from __future__ import annotations

from typing import Any

from pkgbooks.errors import Error, config_error
from pkgbooks.exporters.base import Exporter
from pkgbooks.exporters.journals import AccountMap, GLAccount, Journal


class QboExporter(Exporter):
    target = "qbo"
    formats = ("csv", "json")

    def account_map(self) -> AccountMap:
        mapping = {
            key: GLAccount(value) if isinstance(value, str) else GLAccount(value.name, value.id)
            for key, value in self.config.export.qbo.accounts.items()
        }
        return AccountMap(mapping)

    def check(self, journals: list[Journal], fmt: str) -> list[Error]:
        if fmt != "json":
            return []
        missing = sorted({line.account.name for j in journals for line in j.lines
                          if line.account.id is None})
        if not missing:
            return []
        return [config_error(self.source, "export.qbo.accounts",
                             "the API needs an account id (write { name = \"...\", "
                             "id = \"...\" }) for " + ", ".join(missing))]

    def context(self, journals: list[Journal], fmt: str) -> dict[str, Any]:
        settings = self.config.export.qbo
        return {
            "journals": journals,
            "date_format": settings.date_format,
            "as_class": settings.location == "class",
            "location_ids": settings.locations,
        }
