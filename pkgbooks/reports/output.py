"""Writing a report out: an aligned terminal table, CSV, or the SPEC 5 JSON.

The table and the CSV end with the report's totals row(s); a report's
further blocks (what each location owes another, the unclaimed-property
balances) follow, each under its title, in both.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from pkgbooks.money import fmt
from pkgbooks.reports.base import Report


def cell(value: Any) -> str:
    """The text of one cell: amounts with two places, nothing for None."""
    if isinstance(value, Decimal):
        return fmt(value)
    return "" if value is None else str(value)


def as_json(report: Report) -> str:
    """The report as SPEC 5 JSON."""
    return json.dumps(report.as_json(), indent=2) + "\n"


def as_csv(report: Report) -> str:
    """The report as CSV: a header row, then one row per report row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(report.columns)
    for row in [*report.rows, *report.footer]:
        writer.writerow([cell(row.get(c)) for c in report.columns])
    for title, rows in report.blocks.items():
        columns = _columns(rows)
        writer.writerow([])
        writer.writerow([title])
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row.get(c)) for c in columns])
    return out.getvalue()


def as_table(report: Report) -> str:
    """Columns aligned (numbers to the right), a rule, the totals row(s), then the blocks."""
    period = f"{report.start} .. {report.end}" if report.start else f"as of {report.end}"
    title = f"{report.name} {period} ({report.currency})"
    if report.extra:
        title += "  " + "  ".join(f"{k}: {v}" for k, v in report.extra.items())
    out = [title, "", *_grid(report.columns, report.rows, report.footer)]
    for name, rows in report.blocks.items():
        out += ["", f"{name}:"]
        out += ["  " + line for line in _grid(_columns(rows), rows, [])] if rows else ["  none"]
    return "\n".join(out) + "\n"


def _grid(columns: list[str], rows: list[dict[str, Any]],
          footer: list[dict[str, Any]]) -> list[str]:
    header = [c.replace("_", " ") for c in columns]
    body = [[cell(row.get(c)) for c in columns] for row in rows]
    feet = [[cell(row.get(c)) for c in columns] for row in footer]
    lines = [header, *body, *feet]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = [bool(body) and all(_is_number(r[i]) for r in body) for i in range(len(header))]

    def render(line: list[str]) -> str:
        """One line of the grid: numbers to the right, text to the left."""
        return "  ".join(
            text.rjust(w) if num else text.ljust(w)
            for text, w, num in zip(line, widths, numeric, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [render(header), rule, *(render(r) for r in body)]
    if feet:
        out += [rule, *(render(r) for r in feet)]
    return out


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    return list(rows[0]) if rows else ["source", "destination", "amount"]


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return text in ("", "-")
    return True


FORMATS = {"table": as_table, "csv": as_csv, "json": as_json}
