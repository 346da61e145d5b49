"""Account names: built from a location segment and a role, read back the same (SPEC 4, 6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pkgbooks import accounts
from pkgbooks.accounts import AccountName, Role
from pkgbooks.postings import Accounts

# The SPEC 4 table (and 4.5's refunds), spelt out by hand for location segment L.
SPEC_TABLE = {
    "Assets:L:Cash:Cash": Role.CASH,
    "Assets:L:Cash:Card": Role.CARD,
    "Assets:L:Cash:Other": Role.OTHER,
    "Liabilities:L:Packages:Deposits": Role.DEPOSITS,
    "Liabilities:L:Packages:Deferred": Role.DEFERRED,
    "Liabilities:L:Packages:Unclaimed": Role.UNCLAIMED,
    "Liabilities:L:SalesTax": Role.SALES_TAX,
    "Income:L:Packages:Redemptions": Role.REDEMPTIONS,
    "Income:L:Packages:InitialRecognition": Role.INITIAL_RECOGNITION,
    "Income:L:Packages:Breakage": Role.BREAKAGE,
    "Income:L:Products": Role.PRODUCTS,
    "Expenses:L:Reconciliation": Role.RECONCILIATION_EXPENSE,
    "Income:L:Reconciliation": Role.RECONCILIATION_INCOME,
    "Expenses:L:Packages:Refunds": Role.REFUNDS,
}


@pytest.mark.parametrize(("account", "role"), SPEC_TABLE.items())
def test_every_role_of_the_spec_table(account: str, role: Role) -> None:
    assert accounts.name("L", role) == account
    assert accounts.parse(account) == AccountName("L", role)


def test_roles_are_the_spec_roles_and_due_accounts() -> None:
    assert set(accounts.ROLES) == set(SPEC_TABLE.values()) | {Role.DUE_TO, Role.DUE_FROM}


def test_due_to_and_due_from_name_the_counterparty() -> None:
    assert accounts.name("Loc11", Role.DUE_TO, "Loc21") == "Liabilities:Loc11:DueTo:Loc21"
    assert accounts.name("Loc21", Role.DUE_FROM, "Loc11") == "Assets:Loc21:DueFrom:Loc11"
    parsed = accounts.parse("Liabilities:Loc11:DueTo:Loc21")
    assert parsed == AccountName("Loc11", Role.DUE_TO, "Loc21")
    assert parsed is not None and parsed.role_key == "Liabilities:DueTo:Loc21"
    assert accounts.parse("Income:Loc11:Products") == AccountName("Loc11", Role.PRODUCTS)


def test_a_counterparty_is_needed_exactly_for_due_accounts() -> None:
    with pytest.raises(ValueError, match="counterparty"):
        accounts.name("Loc11", Role.DUE_TO)
    with pytest.raises(ValueError, match="counterparty"):
        accounts.name("Loc11", Role.CARD, "Loc21")


@pytest.mark.parametrize("account", [
    "Assets:Bank", "Assets:Loc11:Bank", "Liabilities:Loc11:DueTo",
    "Liabilities:Loc11:DueTo:Loc21:More", "Income:Loc11:Packages", "Equity:Loc11:Products",
    "Assets:Loc11:DueTo:Loc21",
])
def test_other_accounts_are_not_pkgbooks_accounts(account: str) -> None:
    assert accounts.parse(account) is None


SEGMENT = st.from_regex(r"[A-Z][A-Za-z0-9-]{0,8}", fullmatch=True)


@given(SEGMENT, st.sampled_from(accounts.ROLES), SEGMENT)
def test_name_and_parse_round_trip(segment: str, role: Role, other: str) -> None:
    counterparty = other if role in accounts.BETWEEN_LOCATIONS else None
    built = accounts.name(segment, role, counterparty)
    parsed = accounts.parse(built)
    assert parsed == AccountName(segment, role, counterparty)
    assert parsed.name == built


def test_patterns_for_queries() -> None:
    assert accounts.suffix_pattern(Role.DEPOSITS, Role.DEFERRED) == (
        ":Packages:(Deposits|Deferred)$"
    )
    assert accounts.suffix_pattern(Role.DEFERRED) == ":Packages:Deferred$"
    assert accounts.pattern(Role.RECONCILIATION_INCOME) == "^Income:[^:]+:Reconciliation$"


def test_due_accounts_are_made_only_for_pairs_in_use() -> None:
    """Memory linear in locations: no DueTo / DueFrom name is made before it is asked for."""
    segments = {f"loc-{i}": f"Loc{i}" for i in range(3000)}
    names = Accounts(segments)
    assert names.due_to("loc-1", "loc-2") == "Liabilities:Loc1:DueTo:Loc2"
    assert names.due_from("loc-2", "loc-1") == "Assets:Loc2:DueFrom:Loc1"
    assert names.due_to("loc-1", "loc-2") is names.due_to("loc-1", "loc-2")
    assert len(names._between) == 2
    assert len(names._names) == 3000 * (len(accounts.ROLES) - 2)
