"""Writing a report out: an aligned terminal table, CSV, or the SPEC 5 JSON."""

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
    for row in report.rows:
        writer.writerow([cell(row.get(c)) for c in report.columns])
    return out.getvalue()


def as_table(report: Report) -> str:
    """Columns aligned (numbers to the right), a rule, and a totals row where it fits."""
    header = [c.replace("_", " ") for c in report.columns]
    body = [[cell(row.get(c)) for c in report.columns] for row in report.rows]
    flat = {k: v for k, v in report.totals.items() if not isinstance(v, dict | list)}
    footer = [cell(flat.get(c, "")) for c in report.columns] if flat else None
    if footer is not None:
        footer[0] = "total"
    lines = [header, *body, *([footer] if footer else [])]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    numeric = [all(_is_number(r[i]) for r in body) and bool(body) for i in range(len(header))]

    def render(line: list[str]) -> str:
        return "  ".join(
            text.rjust(w) if num else text.ljust(w)
            for text, w, num in zip(line, widths, numeric, strict=True)
        ).rstrip()

    title = f"{report.name} {report.start} .. {report.end} ({report.currency})"
    if report.extra:
        title += "  " + "  ".join(f"{k}: {v}" for k, v in report.extra.items())
    rule = "  ".join("-" * w for w in widths)
    out = [title, "", render(header), rule, *(render(r) for r in body)]
    if footer:
        out += [rule, render(footer)]
    for key, value in report.totals.items():
        if isinstance(value, list):
            out += ["", key.replace("_", " ") + ":"]
            out += [f"  {x['source']} owes {x['destination']} {cell(x['amount'])}" for x in value]
    return "\n".join(out) + "\n"


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return text in ("", "-")
    return True


FORMATS = {"table": as_table, "csv": as_csv, "json": as_json}
