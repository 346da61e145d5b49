"""QuickBooks Desktop: an IIF file of `GENERAL JOURNAL` transactions.

Tab-separated, one `TRNS` line (the journal's first line), its `SPL` lines
and `ENDTRNS` per journal; amounts signed, debits positive. No field ever
holds a tab, a line break or a double quote (each becomes a space): IIF has
no quoting. Lines end in CR LF, as QuickBooks Desktop writes IIF itself.
"""

from __future__ import annotations

from typing import Any

from pkgbooks.exporters.base import Exporter, plain_map
from pkgbooks.exporters.journals import AccountMap, Journal


class IifExporter(Exporter):
    target = "iif"
    formats = ("iif",)
    newline = "\r\n"

    def account_map(self) -> AccountMap:
        return plain_map(self.config.export.iif.accounts)

    def context(self, journals: list[Journal], fmt: str) -> dict[str, Any]:
        settings = self.config.export.iif
        return {
            "journals": journals,
            "date_format": settings.date_format,
            "with_class": settings.class_,
        }
