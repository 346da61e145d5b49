"""Random histories exported to every target: the files add up to the ledger (SPEC 6).

The histories are test_properties' random histories (every event type, both
policies, reconciliation, voids); the account map is random too, with roles,
roles with a counterparty and full accounts, several accounts often sharing
one GL account. Each file is read back and compared, per GL account, period
and location, with the ledger's postings read with Beancount.
"""

from __future__ import annotations

import datetime
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from export_readback import (
    ledger_movements,
    read_iif,
    read_qbo_csv,
    read_qbo_json,
    read_xero_csv,
    read_xero_json,
    resolve,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_properties import START, History, histories, plan

from pkgbooks.build import build
from pkgbooks.exporters.run import Request, export
from pkgbooks.reports.books import Books

LOCATIONS = {"Loc11": "loc-11", "Loc12": "loc-12", "Loc21": "loc-21"}
ROLES = [
    "Assets:Cash:Cash", "Assets:Cash:Card", "Assets:Cash:Other",
    "Liabilities:Packages:Deposits", "Liabilities:Packages:Deferred",
    "Liabilities:Packages:Unclaimed", "Liabilities:SalesTax",
    "Income:Packages:Redemptions", "Income:Packages:InitialRecognition",
    "Income:Packages:Breakage", "Income:Products", "Income:Reconciliation",
    "Expenses:Reconciliation", "Expenses:Packages:Refunds",
]
GL = st.sampled_from(["100", "200", "300", "Bank, \"main\"", "Revenue é", "400"])


@st.composite
def account_maps(draw: Any) -> dict[str, str]:
    """Every role mapped; some counterparty and full-account keys on top."""
    mapping = {role: draw(GL) for role in ROLES}
    mapping["Assets:DueFrom"] = draw(GL)
    mapping["Liabilities:DueTo"] = draw(GL)
    for segment in draw(st.lists(st.sampled_from(list(LOCATIONS)), max_size=2)):
        mapping[f"{draw(st.sampled_from(['Assets:DueFrom', 'Liabilities:DueTo']))}:{segment}"] \
            = draw(GL)
    for _ in range(draw(st.integers(0, 3))):
        role = draw(st.sampled_from(ROLES))
        root, rest = role.split(":", 1)
        mapping[f"{root}:{draw(st.sampled_from(list(LOCATIONS)))}:{rest}"] = draw(GL)
    return mapping


def tables(mapping: dict[str, str]) -> str:
    lines = "\n".join(f"{json.dumps(k)} = {json.dumps(v, ensure_ascii=False)}"
                      for k, v in mapping.items())
    number = {name: n for n, name in enumerate(sorted(set(mapping.values())), 1)}
    ids = "\n".join(f"{json.dumps(k)} = {{ name = {json.dumps(v, ensure_ascii=False)}, "
                    f"id = \"{number[v]}\" }}" for k, v in mapping.items())
    return (f"\n[export.xero.accounts]\n{lines}\n[export.qbo.accounts]\n{ids}\n"
            f"[export.iif.accounts]\n{lines}\n")


EXAMPLES = int(os.environ.get("PKGBOOKS_PROPERTY_EXAMPLES", "100")) // 5 or 1


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(histories(), account_maps(), st.sampled_from(["month", "day"]), st.integers(0, 40))
def test_every_export_adds_up_to_the_ledger(
    history: History, mapping: dict[str, str], group: str, skip_days: int
) -> None:
    p = plan(history)
    with tempfile.TemporaryDirectory() as tmp:
        books = Path(tmp) / "books"
        history.write(books, p.keep)
        config = books / "pkgbooks.toml"
        config.write_text(config.read_text(encoding="utf-8") + tables(mapping), encoding="utf-8")
        result = build(books, history.as_of)
        assert not result.problems, "\n".join(map(str, result.problems))
        assume(result.as_of is not None and result.as_of >= START)
        assert result.as_of is not None
        start = min(START + datetime.timedelta(days=skip_days), result.as_of)
        end = result.as_of
        loaded = Books.load(books)

        def files(target: str, fmt: str | None = None) -> list[str]:
            return export(loaded, Request(target, start, end, group, None, fmt))

        def expect(clean: dict[str, str]) -> object:
            cleaned = {k: clean.get(v, v) for k, v in mapping.items()}
            return ledger_movements(books, start, end, lambda a: resolve(cleaned, a),
                                    LOCATIONS, group)

        spaced: dict[str, str] = {}
        no_quotes = {v: v.replace('"', " ") for v in mapping.values()}
        assert read_xero_csv(files("xero"), files=True) == expect(spaced)
        assert read_xero_json(files("xero", "json")[0]) == expect({})
        assert read_qbo_csv(files("qbo")[0], LOCATIONS) == expect(spaced)
        assert read_qbo_json(files("qbo", "json")[0], LOCATIONS) == expect({})
        iif = files("iif")
        assert read_iif(iif[0], LOCATIONS) == expect(no_quotes)
        assert files("iif") == iif  # deterministic
