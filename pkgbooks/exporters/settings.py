"""The `[export.xero]`, `[export.qbo]`, `[export.iif]` tables of `pkgbooks.toml` (SPEC 6).

Typed and checked when the configuration is loaded: every key of an account
map must be a pkgbooks account or role (with or without its counterparty),
every date format must write a date it can read back, and the locations they
name must be configured (`problems()`, run by `pkgbooks.config`).
"""

from __future__ import annotations

import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pkgbooks import accounts
from pkgbooks.exporters import TARGETS

_SAMPLE_DATE = datetime.date(2026, 12, 31)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_key(key: str) -> str:
    if accounts.parse_role(key) is None and accounts.parse(key) is None:
        raise ValueError(
            f"{key!r} is neither a pkgbooks account (\"Liabilities:Loc11:Packages:Deferred\") "
            "nor a role (\"Liabilities:Packages:Deferred\", \"Liabilities:DueTo\")"
        )
    return key


def _check_date_format(value: str) -> str:
    try:
        written = _SAMPLE_DATE.strftime(value)
        read = datetime.datetime.strptime(written, value).date()
    except ValueError:
        read = None
    if read != _SAMPLE_DATE:
        raise ValueError(
            "not a date format that gives day, month and year (e.g. \"%d/%m/%Y\")"
        )
    return value


class _Target(_Model):
    """What every target's table has: a date format and an account map (in each target)."""

    date_format: str

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str) -> str:
        return _check_date_format(value)

    @field_validator("accounts", check_fields=False)
    @classmethod
    def _keys(cls, value: dict[str, object]) -> dict[str, object]:
        for key in value:
            _check_key(key)
        return value

    def account_keys(self) -> list[str]:
        keys: dict[str, object] = getattr(self, "accounts", {})
        return list(keys)


class XeroSettings(_Target):
    """`[export.xero]`: GL account codes, tax rate (CSV) and tax type (API), tracking."""

    date_format: str = "%d/%m/%Y"
    accounts: dict[str, str] = Field(default_factory=dict)
    tax_rate: str = "Tax Exempt"
    tax_type: str = "NONE"
    tracking: str | None = Field(default=None, min_length=1, max_length=100)


class QboAccount(_Model):
    """A QuickBooks Online account by name, and its id (needed for the API)."""

    name: str = Field(min_length=1)
    id: str | None = Field(default=None, min_length=1)


class QboSettings(_Target):
    """`[export.qbo]`: account names (or `{name, id}`), and where the location goes."""

    date_format: str = "%m/%d/%Y"
    location: Literal["location", "class"] = "location"
    accounts: dict[str, QboAccount | str] = Field(default_factory=dict)
    locations: dict[str, str] = Field(default_factory=dict)


class IifSettings(_Target):
    """`[export.iif]`: QuickBooks Desktop account names; the location as CLASS or not."""

    date_format: str = "%m/%d/%Y"
    accounts: dict[str, str] = Field(default_factory=dict)
    class_: bool = Field(default=True, alias="class")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ExportSettings(_Model):
    """`[export]`: one table per target."""

    xero: XeroSettings = Field(default_factory=XeroSettings)
    qbo: QboSettings = Field(default_factory=QboSettings)
    iif: IifSettings = Field(default_factory=IifSettings)


def problems(
    export: ExportSettings, segments: set[str], locations: set[str]
) -> list[tuple[str, object, str]]:
    """Map keys and location ids that name no configured location: (key, value, why)."""
    found: list[tuple[str, object, str]] = []
    for target in TARGETS:
        settings: _Target = getattr(export, target)
        for key in settings.account_keys():
            role = accounts.parse_role(key)
            named = [role[1]] if role is not None else []
            parsed = accounts.parse(key) if role is None else None
            if parsed is not None:
                named = [parsed.segment, parsed.counterparty]
            unknown = [s for s in named if s is not None and s not in segments]
            if unknown:
                found.append((f"export.{target}.accounts.{key}", key,
                              f"no location has the account segment {unknown[0]!r}"))
    ids: dict[str, set[str | None]] = {}
    for value in export.qbo.accounts.values():
        if isinstance(value, QboAccount):
            ids.setdefault(value.name, set()).add(value.id)
    for name, found_ids in sorted(ids.items()):
        if len(found_ids) > 1:
            found.append(("export.qbo.accounts", name,
                          "one QuickBooks account is given different ids: "
                          + ", ".join(sorted(repr(i) for i in found_ids))))
    for loc in export.qbo.locations:
        if loc not in locations:
            found.append((f"export.qbo.locations.{loc}", loc, "unknown location"))
    return found
