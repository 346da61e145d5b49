"""Reading a month-end summary back: `Summary.read` against Beancount's own parser.

`Summary.read` reads the `custom` lines it wrote token by token, for speed.
Here Beancount's parser reads the same text (the way the summary was read
before) and the two must give the same packages and invoices, on
summaries of real builds and on generated ones with awkward names; and
text that is not a summary pkgbooks wrote (edited, cut short, another
currency) reads as None, never as wrong figures.
"""

from __future__ import annotations

import dataclasses
import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from beancount.core import amount, data
from beancount.parser import parser
from books import build_ok
from hypothesis import given, settings
from hypothesis import strategies as st

from pkgbooks.config import Config, load_config
from pkgbooks.reports.summary import INVOICE, PACKAGE, OpenInvoice, OpenPackage, Summary

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "ledgers" / "demo"


def read_by_beancount(config: Config, text: str) -> Summary | None:
    """The summary as Beancount's parser reads the text: the reference."""
    entries, errors, _ = parser.parse_string(text)
    if errors:
        return None
    found = Summary(config)
    for entry in entries:
        assert isinstance(entry, data.Custom)
        values = [v.value for v in entry.values]
        if entry.type == PACKAGE:
            instance, complete, invoice, package, location, customer, staff, voided, ends, \
                touched = values[:10]
            pkg = found.packages[instance] = OpenPackage(
                complete, entry.date if complete else None, invoice, package, location,
                customer, staff, voided, int(ends), touched)
            for key, value in zip(values[10::2], values[11::2], strict=True):
                if isinstance(value, amount.Amount):
                    pkg.held[key] = value.number
                else:
                    pkg.used[key] = int(value)
        else:
            assert entry.type == INVOICE
            invoice, complete, location, customer, total, touched = values[:6]
            inv = found.invoices[invoice] = OpenInvoice(
                complete, entry.date if complete else None, location, customer,
                total.number, touched)
            for key, value in zip(values[6::2], values[7::2], strict=True):
                inv.paid[key] = value.number
    return found


def written_again(summary: Summary, month: str) -> str:
    """The summary's text with every line made anew (not the lines as read)."""
    for record in [*summary.packages.values(), *summary.invoices.values()]:
        record.line = ""
    return summary.text(month)


def same(a: Summary | None, b: Summary | None) -> bool:
    """The same packages and invoices (their cached `line` of text aside)."""
    def records(s: Summary) -> tuple[dict[str, Any], dict[str, Any]]:
        return ({k: dataclasses.replace(p, line="") for k, p in s.packages.items()},
                {k: dataclasses.replace(i, line="") for k, i in s.invoices.items()})
    return a is not None and b is not None and records(a) == records(b)


def test_the_demo_summaries_read_as_beancount_reads_them(tmp_path: Path) -> None:
    config = load_config(DEMO / "pkgbooks.toml")
    paths = sorted((DEMO / "ledger" / "summary").glob("*.beancount"))
    assert paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        found = Summary.read(config, text)
        assert same(found, read_by_beancount(config, text)), path.name
        assert found is not None and written_again(found, path.stem) == text
        assert same(Summary.read(config, path.read_bytes()), found)


@pytest.mark.slow
def test_generated_summaries_read_as_beancount_reads_them(tmp_path: Path) -> None:
    from pkgbooks.generate import generate

    books = tmp_path / "books"
    generate(books, events=3000, per_day=12, seed=5)  # every event type, voids included
    build_ok(books)
    config = load_config(books / "pkgbooks.toml")
    for path in sorted((books / "ledger" / "summary").glob("*.beancount")):
        text = path.read_text(encoding="utf-8")
        found = Summary.read(config, text)
        assert same(found, read_by_beancount(config, text)), path.name
        assert found is not None and written_again(found, path.stem) == text


NAMES = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                max_size=12)
CENTS = st.integers(-10**9, 10**9).map(lambda c: Decimal(c).scaleb(-2))
ACCOUNTS = st.sampled_from(["Liabilities:Loc1:Packages:Deferred",
                            "Liabilities:Loc1:Packages:Deposits", "Assets:Loc2:Cash:Card"])
DATES = st.dates(datetime.date(2020, 1, 1), datetime.date(2030, 12, 31))
MONTHS = DATES.map(lambda d: d.strftime("%Y-%m"))


@st.composite
def packages(draw: Any) -> OpenPackage:
    complete = draw(st.booleans())
    return OpenPackage(complete, draw(DATES) if complete else None, draw(NAMES), draw(NAMES),
                       draw(NAMES), draw(NAMES), draw(NAMES), draw(st.booleans()),
                       draw(st.integers(-3, 3)), draw(MONTHS),
                       draw(st.dictionaries(ACCOUNTS, CENTS.filter(bool), max_size=2)),
                       draw(st.dictionaries(NAMES, st.integers(-5, 20).filter(bool),
                                            max_size=3)))


@st.composite
def invoices(draw: Any) -> OpenInvoice:
    complete = draw(st.booleans())
    return OpenInvoice(complete, draw(DATES) if complete else None, draw(NAMES), draw(NAMES),
                       draw(CENTS), draw(MONTHS),
                       draw(st.dictionaries(ACCOUNTS, CENTS.filter(bool), max_size=2)))


def _config() -> Config:
    return load_config(DEMO / "pkgbooks.toml")


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(NAMES, packages(), max_size=4), st.dictionaries(NAMES, invoices(),
                                                                        max_size=3))
def test_any_summary_reads_back_as_written_and_as_beancount_reads_it(
    pkgs: dict[str, OpenPackage], invs: dict[str, OpenInvoice]
) -> None:
    config = _config()
    text = Summary(config, pkgs, invs).text("2026-01")
    found = Summary.read(config, text)
    assert same(found, read_by_beancount(config, text))
    assert found is not None and found.text("2026-01") == text  # the lines as read
    assert written_again(found, "2026-01") == text
    expected = Summary(config, {k: _unwritten(p) for k, p in pkgs.items()},
                       {k: _unwritten(i) for k, i in invs.items()})
    assert same(found, expected)


def _unwritten(record: Any) -> Any:
    """A package or invoice as read back: zero amounts and units are not written."""
    if isinstance(record, OpenPackage):
        record.held = {k: v for k, v in record.held.items() if v}
        record.used = {k: v for k, v in record.used.items() if v}
    else:
        record.paid = {k: v for k, v in record.paid.items() if v}
    record.line = ""
    return record


@pytest.mark.parametrize("edit", [
    lambda t: t.replace(" TRUE ", " MAYBE ", 1),  # not a truth value
    lambda t: t.replace('custom "pkgbooks-package"', 'custom "something-else"', 1),
    lambda t: t.replace(" USD", " EUR", 1),  # another currency
    lambda t: t.replace('" "', '"  "', 1),  # two spaces between tokens
    lambda t: t.replace(' "', ' "unterminated', 1).replace('" ', " ", 1),
    lambda t: t[: t.rindex(" USD")],  # cut short in an amount
    lambda t: t.replace(" USD", " NaN USD", 1),
    lambda t: t + "2026-01-31 open Assets:Cash\n",
])
def test_text_that_is_not_a_summary_reads_as_none(edit: Any) -> None:
    config = _config()
    path = sorted((DEMO / "ledger" / "summary").glob("*.beancount"))[-1]
    text = path.read_text(encoding="utf-8")
    assert Summary.read(config, text) is not None
    edited = edit(text)
    assert edited != text
    assert Summary.read(config, edited) is None


def test_bytes_that_are_not_utf8_read_as_none() -> None:
    assert Summary.read(_config(), b"2026-01-31 custom \"pkgbooks-package\" \xff\n") is None
