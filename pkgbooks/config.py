"""`pkgbooks.toml`: the business, its catalog and its policies (SPEC 2).

Every reference is checked when the file is loaded, and every problem is
reported at once as `FILE: key: value: what is wrong`.
"""

from __future__ import annotations

import datetime
import tomllib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from pkgbooks.errors import Error, Failed, config_error, file_error
from pkgbooks.exporters import settings as export_settings
from pkgbooks.exporters.settings import ExportSettings
from pkgbooks.money import ZERO, cents, parse_amount

ACCOUNT_SEGMENT = r"^[A-Z][A-Za-z0-9-]*$"
CATEGORIES = ("service", "product", "class")
Category = Literal["service", "product", "class"]
ANY_SERVICE = "*"


def _amount(value: Any) -> Decimal:
    """A money amount from TOML: a string or an integer, never a float."""
    if isinstance(value, (bool, float)):
        raise ValueError("write amounts as strings, e.g. \"12.50\" (a float cannot hold cents)")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("expected an amount string such as \"12.50\"")
    try:
        amount = parse_amount(value.strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not an amount with at most 2 decimals ({exc})") from None
    if amount < 0:
        raise ValueError("must not be negative")
    return amount


def _rate(value: Any) -> Decimal:
    """A rate between 0 and 1, from a string or an integer."""
    if isinstance(value, (bool, float)):
        raise ValueError("write rates as strings, e.g. \"0.10\"")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("not a decimal rate") from None
    if not rate.is_finite() or rate < 0 or rate > 1:
        raise ValueError("rate must be between 0 and 1")
    return rate


Amount = Annotated[Decimal, BeforeValidator(_amount)]
Rate = Annotated[Decimal, BeforeValidator(_rate)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Policy(_Model):
    """The `[policy]` table: the accounting choices of the business (SPEC 2)."""

    recognition: Literal["item_price", "proportional"] = "item_price"
    expired_balance: Literal["revenue", "liability"] = "revenue"
    payment_allocation: Literal["products_first", "proportional"] = "products_first"
    redeem_open_packages: StrictBool = False


class Location(_Model):
    """One location: its name, account segment, legal entity and expired-balance policy."""

    name: str
    account: str = Field(pattern=ACCOUNT_SEGMENT)
    entity: str | None = None
    # Unclaimed-property rules are set by the jurisdiction a location is in, so a
    # location may keep expired balances differently from the business default.
    expired_balance: Literal["revenue", "liability"] | None = None


def _list_price(value: Any) -> Decimal | str | None:
    """An item's list price: an amount, "varies", or absent."""
    if value is None or value == "varies":
        return value  # type: ignore[no-any-return]
    return _amount(value)


class Item(_Model):
    """A catalog item: what is performed or sold, its category, list price and unit."""

    name: str
    category: Category
    price: Annotated[Decimal | str | None, BeforeValidator(_list_price)] = None
    unit: Literal["visit", "minutes", "hours"] = "visit"

    @property
    def list_price(self) -> Decimal | None:
        """The standalone selling price, or None when it varies or is absent."""
        return self.price if isinstance(self.price, Decimal) else None


class PackageItem(_Model):
    """One group of a package: `quantity` units of an item for a share of the price."""

    item: str
    quantity: int = Field(gt=0)
    price: Amount


class Package(_Model):
    """A package for sale: price, tax, validity, initial recognition and contents."""

    name: str
    price: Amount
    tax_rate: Rate = Decimal("0")
    # At most a century: a package's dates must stay within the calendar.
    validity_days: int | None = Field(default=None, ge=0, le=36500)
    grace_days: int = Field(default=0, ge=0, le=36500)
    initial_recognition: str | None = None
    items: list[PackageItem] = Field(min_length=1)
    location_prices: dict[str, dict[str, Amount]] = Field(default_factory=dict)

    @field_validator("initial_recognition")
    @classmethod
    def _check_initial_recognition(cls, value: str | None) -> str | None:
        if value is not None:
            _initial_recognition(value, Decimal("0"))  # raises on a bad value
        return value

    @model_validator(mode="after")
    def _check(self) -> Package:
        seen: set[str] = set()
        for group in self.items:
            if group.item in seen:
                raise ValueError(f"item {group.item!r} is listed twice; merge the two groups")
            seen.add(group.item)
        return self

    def initial_recognition_for(self, price: Decimal) -> Decimal:
        """Initial recognition for a line sold at `price`: an amount or a percent, capped."""
        if self.initial_recognition is None:
            return ZERO
        return _initial_recognition(self.initial_recognition, price)


def _initial_recognition(text: str, price: Decimal) -> Decimal:
    """`"5.00"` or `"5%"` of `price`, rounded half up, never more than `price`."""
    text = text.strip()
    try:
        if text.endswith("%"):
            pct = parse_amount(text[:-1])
            if pct < 0 or pct > 100:
                raise ValueError
            amount = cents(price * pct / 100)
        else:
            amount = parse_amount(text)
            if amount < 0:
                raise ValueError
    except (InvalidOperation, ValueError):
        raise ValueError(
            "must be an amount like \"5.00\" or a percent like \"5%\" (0-100)"
        ) from None
    return min(amount, price)


class Reconciliation(_Model):
    """The `[reconciliation]` table: from which date, and the rate per category (4.6)."""

    start: datetime.date
    rates: dict[Category, Rate] = Field(default_factory=dict)


class Config(_Model):
    """The whole of `pkgbooks.toml`, checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(pattern=r"^[^\x00-\x1f\x7f\x85\u2028\u2029]+$")
    currency: str = Field(default="USD", pattern=r"^[A-Z][A-Z0-9'._-]{0,22}[A-Z0-9]$")
    policy: Policy = Field(default_factory=Policy)
    locations: dict[str, Location] = Field(min_length=1)
    items: dict[str, Item] = Field(default_factory=dict)
    packages: dict[str, Package] = Field(default_factory=dict)
    reconciliation: Reconciliation | None = None
    export: ExportSettings = Field(default_factory=ExportSettings)

    def entity_of(self, location: str) -> str:
        """The legal entity a location belongs to (itself by default)."""
        return self.locations[location].entity or location

    def expired_balance_of(self, location: str) -> str:
        """Where `location`'s expired balances go: its own policy, else the business's."""
        return self.locations[location].expired_balance or self.policy.expired_balance

    def account_of(self, location: str) -> str:
        """The account segment of a location (`Loc11` in `Assets:Loc11:...`)."""
        return self.locations[location].account


def _cross_check(cfg: Config) -> list[tuple[str, Any, str]]:
    """Every reference between sections: (key, value, what is wrong)."""
    problems: list[tuple[str, Any, str]] = []
    segments: dict[str, str] = {}
    for loc_id, loc in cfg.locations.items():
        if loc.account in segments:
            problems.append(
                (f"locations.{loc_id}.account", loc.account,
                 f"already used by location {segments[loc.account]}")
            )
        segments[loc.account] = loc_id
    problems += export_settings.problems(cfg.export, set(segments), set(cfg.locations))
    for pkg_id, pkg in cfg.packages.items():
        groups = {g.item for g in pkg.items}
        for i, group in enumerate(pkg.items):
            if group.item != ANY_SERVICE and group.item not in cfg.items:
                problems.append(
                    (f"packages.{pkg_id}.items[{i}].item", group.item, "unknown item")
                )
        for loc_id, prices in pkg.location_prices.items():
            if loc_id not in cfg.locations:
                problems.append(
                    (f"packages.{pkg_id}.location_prices.{loc_id}", loc_id, "unknown location")
                )
            for item_id in prices:
                if item_id not in groups:
                    problems.append(
                        (f"packages.{pkg_id}.location_prices.{loc_id}.{item_id}", item_id,
                         "not an item of this package")
                    )
    return problems


def load_config(path: Path) -> Config:
    """Read and check `pkgbooks.toml`; raise `Failed` listing every problem."""
    name = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise Failed([file_error(name, "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise Failed([file_error(name, f"not UTF-8 text ({exc.reason})")]) from None
    except tomllib.TOMLDecodeError as exc:
        raise Failed([file_error(name, f"not valid TOML: {exc}")]) from None
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise Failed([_describe(name, err) for err in exc.errors()]) from None
    problems = _cross_check(cfg)
    if problems:
        raise Failed([config_error(name, key, why, value) for key, value, why in problems])
    return cfg


def _describe(name: str, err: Any) -> Error:
    """One pydantic error as `FILE: key: value: what is wrong`."""
    parts = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
    key = ""
    for part in parts:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if isinstance(value, dict):
        return config_error(name, key or "(top level)", msg)
    return config_error(name, key or "(top level)", msg, value)
