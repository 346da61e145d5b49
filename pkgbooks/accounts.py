"""Account names: the one place that knows how they are spelt (SPEC 4 table).

An account is `Root:L:Rest`, where `L` is a location's account segment and
`Root:Rest` its **role** (`Liabilities:Packages:Deferred`). The two
between-locations roles also name the counterparty's segment at the end:
`Liabilities:L:DueTo:M`, `Assets:M:DueFrom:L`. A role is what SPEC 6 calls
"the account without its location segment", so the export maps, the rules,
the reports and `validate` all speak of accounts through this module:
`name()` builds one, `parse()` reads its location, role and counterparty back.
"""

from __future__ import annotations

import os
from enum import StrEnum
from functools import lru_cache
from typing import NamedTuple


class Role(StrEnum):
    """Every account role pkgbooks posts to; the value is the role's own name."""

    CASH = "Assets:Cash:Cash"
    CARD = "Assets:Cash:Card"
    OTHER = "Assets:Cash:Other"
    DUE_FROM = "Assets:DueFrom"
    DEPOSITS = "Liabilities:Packages:Deposits"
    DEFERRED = "Liabilities:Packages:Deferred"
    UNCLAIMED = "Liabilities:Packages:Unclaimed"
    SALES_TAX = "Liabilities:SalesTax"
    DUE_TO = "Liabilities:DueTo"
    REDEMPTIONS = "Income:Packages:Redemptions"
    INITIAL_RECOGNITION = "Income:Packages:InitialRecognition"
    BREAKAGE = "Income:Packages:Breakage"
    PRODUCTS = "Income:Products"
    RECONCILIATION_INCOME = "Income:Reconciliation"
    RECONCILIATION_EXPENSE = "Expenses:Reconciliation"
    REFUNDS = "Expenses:Packages:Refunds"


ROLES: tuple[Role, ...] = tuple(Role)
"""Every role, in the order of the SPEC 4 table (assets, liabilities, income, expenses)."""

# Roles that name a counterparty location after them.
BETWEEN_LOCATIONS = frozenset({Role.DUE_TO, Role.DUE_FROM})

CASH_BY_METHOD = {"cash": Role.CASH, "card": Role.CARD, "other": Role.OTHER}
"""The cash account of each payment `method` (SPEC 3.2)."""

PACKAGE_LIABILITY = (Role.DEPOSITS, Role.DEFERRED)
"""A package's liability: Deposits while its invoice is open, Deferred once closed."""

HELD_LIABILITY = (Role.DEPOSITS, Role.DEFERRED, Role.UNCLAIMED)
"""Liability accounts that get a month-end `balance` assertion."""

EXPIRED_BALANCE = (Role.BREAKAGE, Role.UNCLAIMED)
"""Where an expired or forfeited balance goes, by `expired_balance` policy."""

_BY_NAME = {role.value: role for role in Role}


class AccountName(NamedTuple):
    """An account read back: its location segment, role and counterparty segment."""

    segment: str
    role: Role
    counterparty: str | None = None

    @property
    def role_key(self) -> str:
        """The role with its counterparty (`Liabilities:DueTo:Loc21`), as export maps key it."""
        return self.role if self.counterparty is None else f"{self.role}:{self.counterparty}"

    @property
    def name(self) -> str:
        return name(self.segment, self.role, self.counterparty)


def name(segment: str, role: Role, counterparty: str | None = None) -> str:
    """The account of a location (by its segment) in a role: `name("Loc11", Role.CARD)`."""
    if (role in BETWEEN_LOCATIONS) != (counterparty is not None):
        raise ValueError(f"{role}: a counterparty is needed exactly for DueTo / DueFrom")
    root, rest = role.split(":", 1)
    account = f"{root}:{segment}:{rest}"
    return account if counterparty is None else f"{account}:{counterparty}"


@lru_cache(maxsize=65536)
def parse(account: str) -> AccountName | None:
    """The location segment, role and counterparty of an account; None if not pkgbooks'."""
    parts = account.split(":")
    if len(parts) < 3:
        return None
    root, segment, rest = parts[0], parts[1], parts[2:]
    role = _BY_NAME.get(":".join([root, *rest]))
    if role is not None and role not in BETWEEN_LOCATIONS:
        return AccountName(segment, role)
    if len(rest) == 2:
        role = _BY_NAME.get(f"{root}:{rest[0]}")
        if role in BETWEEN_LOCATIONS:
            return AccountName(segment, role, rest[1])
    return None


def suffix(role: Role) -> str:
    """What follows the location segment (`:Packages:Deferred`), for `str.endswith` tests."""
    return ":" + role.split(":", 1)[1]


def suffixes(roles: tuple[Role, ...]) -> tuple[str, ...]:
    return tuple(suffix(role) for role in roles)


def suffix_pattern(*roles: Role) -> str:
    """A regular expression matching the accounts of `roles` by their end, for BQL.

    `suffix_pattern(Role.DEPOSITS, Role.DEFERRED)` is `:Packages:(Deposits|Deferred)$`.
    """
    tails = suffixes(roles)
    common = os.path.commonprefix(tails)
    common = common[: common.rfind(":") + 1]
    rests = [tail[len(common):] for tail in tails]
    body = rests[0] if len(rests) == 1 else "(" + "|".join(rests) + ")"
    return f"{common}{body}$"


def pattern(role: Role) -> str:
    """A regular expression matching exactly the accounts of one role, for BQL."""
    root, rest = role.split(":", 1)
    return f"^{root}:[^:]+:{rest}$"


def parse_role(key: str) -> tuple[Role, str | None] | None:
    """A role as export maps write it (`Liabilities:DueTo:Loc21`, `Liabilities:DueTo`).

    Returns the role and the counterparty segment it names (None for "every
    counterparty", and for the roles that have none); None if `key` is no role.
    """
    role = _BY_NAME.get(key)
    if role is not None:
        return role, None
    head, _, counterparty = key.rpartition(":")
    role = _BY_NAME.get(head)
    if role in BETWEEN_LOCATIONS and counterparty:
        return role, counterparty
    return None
