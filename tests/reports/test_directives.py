"""Fava's Query page: every report is there as one query that runs as it stands."""

from __future__ import annotations

from pathlib import Path

from beancount.core import data
from beanquery import query

from pkgbooks.layout import load_ledger
from pkgbooks.reports import REPORTS

DEMO = Path(__file__).resolve().parents[2] / "ledgers" / "demo"


def test_each_report_is_a_query_directive_that_runs() -> None:
    entries, errors, options = load_ledger(DEMO / "main.beancount")
    assert not errors
    queries = {e.name: e.query_string for e in entries if isinstance(e, data.Query)}
    expected = {f"pkgbooks {name}" for name in REPORTS if name != "liability"} | {
        "pkgbooks liability (payment basis)", "pkgbooks liability (sale basis)"}
    assert set(queries) == expected
    for name, bql in queries.items():
        _types, rows = query.run_query(entries, options, bql)
        assert rows, name  # the demo has something for every report
    # Fava's sidebar lists them all (its default shows five).
    [option] = [e for e in entries if isinstance(e, data.Custom) and e.type == "fava-option"
                and e.values[0].value == "sidebar-show-queries"]
    assert int(option.values[1].value) == len(queries)
