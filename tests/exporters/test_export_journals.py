"""Periods, journal numbers and the account map's precedence (SPEC 6)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from books import config_text, write_books
from hypothesis import given
from hypothesis import strategies as st

from pkgbooks.config import load_config
from pkgbooks.errors import Failed
from pkgbooks.exporters.journals import AccountMap, GLAccount, journal_number, periods

D = datetime.date


def test_month_periods_are_cut_at_from_and_to() -> None:
    assert periods(D(2026, 1, 15), D(2026, 3, 10), "month") == [
        (D(2026, 1, 15), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 28)),
        (D(2026, 3, 1), D(2026, 3, 10)),
    ]
    assert periods(D(2024, 12, 1), D(2025, 1, 31), "month") == [
        (D(2024, 12, 1), D(2024, 12, 31)), (D(2025, 1, 1), D(2025, 1, 31))]
    assert periods(D(2024, 2, 1), D(2024, 2, 29), "month") == [(D(2024, 2, 1), D(2024, 2, 29))]
    assert periods(D(2026, 1, 30), D(2026, 2, 1), "day") == [
        (D(2026, 1, 30),) * 2, (D(2026, 1, 31),) * 2, (D(2026, 2, 1),) * 2]


def test_journal_numbers() -> None:
    assert journal_number("Loc11", D(2026, 1, 1), D(2026, 1, 31)) == "Loc11-260101-260131"
    assert journal_number("Loc11", D(2026, 1, 1), D(2026, 1, 15)) == "Loc11-260101-260115"
    long_a = journal_number("DowntownFlagship", D(2026, 1, 1), D(2026, 1, 31))
    long_b = journal_number("DowntownFlagship2", D(2026, 1, 1), D(2026, 1, 31))
    assert len(long_a) == len(long_b) == 21 and long_a != long_b
    assert long_a.endswith("-260101-260131")


@given(st.from_regex(r"[A-Z][A-Za-z0-9-]{0,40}", fullmatch=True),
       st.dates(D(2000, 1, 1), D(2099, 12, 31)), st.integers(0, 400))
def test_numbers_are_short_and_tell_ranges_apart(segment: str, start: D, days: int) -> None:
    end = start + datetime.timedelta(days=days)
    number = journal_number(segment, start, end)
    assert len(number) <= 21
    assert number != journal_number(segment, start, end + datetime.timedelta(days=1))
    assert number != journal_number(segment, start + datetime.timedelta(days=1), end)
    assert number == journal_number(segment, start, end)


def test_the_most_specific_key_wins() -> None:
    gl = AccountMap({
        "Liabilities:DueTo": GLAccount("any"),
        "Liabilities:DueTo:Loc21": GLAccount("to 21"),
        "Liabilities:Loc12:DueTo:Loc21": GLAccount("12 to 21"),
        "Income:Packages:Breakage": GLAccount("breakage"),
        "Income:Loc12:Packages:Breakage": GLAccount("12 breakage"),
    })
    assert gl.resolve("Liabilities:Loc11:DueTo:Loc12") == GLAccount("any")
    assert gl.resolve("Liabilities:Loc11:DueTo:Loc21") == GLAccount("to 21")
    assert gl.resolve("Liabilities:Loc12:DueTo:Loc21") == GLAccount("12 to 21")
    assert gl.resolve("Income:Loc11:Packages:Breakage") == GLAccount("breakage")
    assert gl.resolve("Income:Loc12:Packages:Breakage") == GLAccount("12 breakage")
    assert gl.resolve("Income:Loc11:Products") is None
    assert gl.resolve("Assets:Bank") is None


@pytest.mark.parametrize(("table", "message"), [
    ('[export.xero.accounts]\n"Liabilities:Packages:Defered" = "851"\n',
     "export.xero.accounts: 'Liabilities:Packages:Defered' is neither a pkgbooks account"),
    ('[export.iif.accounts]\n"Liabilities:Loc99:SalesTax" = "Tax"\n',
     "export.iif.accounts.Liabilities:Loc99:SalesTax: 'Liabilities:Loc99:SalesTax': "
     "no location has the account segment 'Loc99'"),
    ('[export.qbo.accounts]\n"Assets:DueFrom:Loc99" = "Due"\n',
     "no location has the account segment 'Loc99'"),
    ('[export.qbo.locations]\nloc-99 = "3"\n',
     "export.qbo.locations.loc-99: 'loc-99': unknown location"),
    ('[export.xero]\ndate_format = "%d/%m"\n',
     "export.xero.date_format: '%d/%m': not a date format that gives day, month and year"),
    ('[export.qbo]\nlocation = "department"\n', "export.qbo.location: 'department'"),
    ('[export.xero]\ntrackin = "Location"\n', "export.xero.trackin"),
    ('[export.sage]\n', "export.sage"),
    ('[export.xero.accounts]\n"Income:Products" = 200\n',
     "export.xero.accounts.Income:Products: 200"),
    ('[export.qbo.accounts]\n"Income:Products" = { id = "3" }\n', "export.qbo.accounts"),
    ('[export.qbo.accounts]\n"Income:Products" = { name = "Sales", id = "3" }\n'
     '"Income:Reconciliation" = { name = "Sales", id = "4" }\n',
     "export.qbo.accounts: 'Sales': one QuickBooks account is given different ids: '3', '4'"),
])
def test_export_tables_are_checked_at_load(tmp_path: Path, table: str, message: str) -> None:
    books = write_books(tmp_path / "b", config_text(table), [])
    with pytest.raises(Failed) as caught:
        load_config(books / "pkgbooks.toml")
    assert any(message in str(error) for error in caught.value.errors), caught.value.errors


def test_a_full_table_loads(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", config_text("""
        [export.xero]
        date_format = "%Y-%m-%d"
        tax_rate = "No VAT"
        tax_type = "NONE"
        tracking = "Region"
        [export.xero.accounts]
        "Liabilities:Loc11:DueTo:Loc21" = "861"
        "Liabilities:DueTo:Loc21" = "862"
        "Liabilities:DueTo" = "860"
        [export.qbo]
        location = "class"
        [export.qbo.locations]
        loc-11 = "3"
        [export.qbo.accounts]
        "Income:Products" = "Retail"
        "Income:Reconciliation" = { name = "IC income", id = "12" }
        [export.iif]
        class = false
        [export.iif.accounts]
        "Expenses:Packages:Refunds" = "Refunds"
        """), [])
    export = load_config(books / "pkgbooks.toml").export
    assert export.xero.tracking == "Region" and export.xero.accounts["Liabilities:DueTo"] == "860"
    assert export.qbo.location == "class" and export.qbo.locations == {"loc-11": "3"}
    assert export.iif.class_ is False
    assert export.iif.date_format == "%m/%d/%Y" and export.qbo.date_format == "%m/%d/%Y"
