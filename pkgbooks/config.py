"""`pkgbooks.toml`: the business, its catalog and its policies (SPEC 2).

Every reference is checked when the file is loaded, and every problem is
reported at once as `FILE: key: value: what is wrong`.
"""

from __future__ import annotations

import bisect
import datetime
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    ValidationError,
    field_validator,
)

from pkgbooks.errors import Error, Failed, config_error, file_error
from pkgbooks.exporters import settings as export_settings
from pkgbooks.exporters.settings import ExportSettings
from pkgbooks.money import ZERO, cents, parse_amount
from pkgbooks.wording import describe, field_path

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
    changes: list[LocationChange] = Field(default_factory=list)

    @field_validator("changes")
    @classmethod
    def _check_changes(cls, changes: list[LocationChange]) -> list[LocationChange]:
        return _in_date_order(changes)


class _Change(_Model):
    """One dated change (SPEC 2a): the terms it sets apply from `from` on."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    since: datetime.date = Field(alias="from")

    def updates(self) -> dict[str, Any]:
        """The terms this change sets (every key it gives but `from`)."""
        return {name: getattr(self, name) for name in self.model_fields_set - {"since"}}


C = TypeVar("C", bound=_Change)
T = TypeVar("T")


class LocationChange(_Change):
    entity: str


def _in_date_order(changes: list[C]) -> list[C]:
    """Changes are listed oldest first, one per date, each setting something."""
    for before, after in zip(changes, changes[1:], strict=False):
        if after.since <= before.since:
            raise ValueError(
                f"changes must be listed in date order, one per date: {after.since.isoformat()} "
                f"comes after {before.since.isoformat()}"
            )
    for change in changes:
        if not change.updates():
            raise ValueError(f"the change from {change.since.isoformat()} sets nothing")
    return changes


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
    # Only the list price changes over time: a different category or unit is another item.
    changes: list[ItemChange] = Field(default_factory=list)

    @field_validator("changes")
    @classmethod
    def _check_changes(cls, changes: list[ItemChange]) -> list[ItemChange]:
        return _in_date_order(changes)

    @property
    def list_price(self) -> Decimal | None:
        """The standalone selling price, or None when it varies or is absent."""
        return self.price if isinstance(self.price, Decimal) else None


class ItemChange(_Change):
    price: Annotated[Decimal | str | None, BeforeValidator(_list_price)] = None


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
    changes: list[PackageChange] = Field(default_factory=list)

    @field_validator("initial_recognition")
    @classmethod
    def _check_initial_recognition(cls, value: str | None) -> str | None:
        return _check_initial_recognition(value)

    @field_validator("items")
    @classmethod
    def _check_items(cls, items: list[PackageItem]) -> list[PackageItem]:
        return _distinct_items(items)

    @field_validator("changes")
    @classmethod
    def _check_changes(cls, changes: list[PackageChange]) -> list[PackageChange]:
        return _in_date_order(changes)

    def initial_recognition_for(self, price: Decimal) -> Decimal:
        """Initial recognition for a line sold at `price`: an amount or a percent, capped."""
        if self.initial_recognition is None:
            return ZERO
        return _initial_recognition(self.initial_recognition, price)


class PackageChange(_Change):
    """New terms for the package's sales on or after `from` (SPEC 2a)."""

    price: Amount | None = None
    tax_rate: Rate | None = None
    validity_days: int | None = Field(default=None, ge=0, le=36500)
    grace_days: int | None = Field(default=None, ge=0, le=36500)
    initial_recognition: str | None = None
    items: list[PackageItem] | None = Field(default=None, min_length=1)
    location_prices: dict[str, dict[str, Amount]] | None = None

    @field_validator("initial_recognition")
    @classmethod
    def _check_initial_recognition(cls, value: str | None) -> str | None:
        return _check_initial_recognition(value)

    @field_validator("items")
    @classmethod
    def _check_items(cls, items: list[PackageItem] | None) -> list[PackageItem] | None:
        return None if items is None else _distinct_items(items)


def _check_initial_recognition(value: str | None) -> str | None:
    if value is not None:
        _initial_recognition(value, Decimal("0"))  # raises on a bad value
    return value


def _distinct_items(items: list[PackageItem]) -> list[PackageItem]:
    seen: set[str] = set()
    for group in items:
        if group.item in seen:
            raise ValueError(f"item {group.item!r} is listed twice; merge the two groups")
        seen.add(group.item)
    return items


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


class DateLimits(_Model):
    """How far an event date may stray before it is taken for a typo (docs/reliability.md).

    `future_days`: an event dated more than this after the day of the build is
    refused (2062 for 2026). `gap_days`: the earliest events, when they are
    more than this before the next date in the books, are refused (0026 for
    2026): a history does not start with one day followed by a year of nothing.
    """

    future_days: int = Field(default=366, ge=0, le=3660)
    gap_days: int = Field(default=366, ge=1, le=36500)


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
    dates: DateLimits = Field(default_factory=DateLimits)
    export: ExportSettings = Field(default_factory=ExportSettings)
    # The books are closed through this date (SPEC 2a): see pkgbooks/periods.py.
    locked_through: datetime.date | None = None
    # id -> [(from, terms in effect from then on)], oldest first, for ids with changes
    _packages_over_time: dict[str, Versions[Package]] = PrivateAttr(default_factory=dict)
    _items_over_time: dict[str, Versions[Item]] = PrivateAttr(default_factory=dict)
    _entities_over_time: dict[str, Versions[str]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Work out once the terms each dated change puts in effect."""
        for pkg_id, pkg in self.packages.items():
            if pkg.changes:
                self._packages_over_time[pkg_id] = Versions.of(pkg, pkg.changes)
        for item_id, item in self.items.items():
            if item.changes:
                self._items_over_time[item_id] = Versions.of(item, item.changes)
        for loc_id, loc in self.locations.items():
            if loc.changes:
                self._entities_over_time[loc_id] = Versions(
                    [datetime.date.min, *(c.since for c in loc.changes)],
                    [loc.entity or loc_id, *(c.entity for c in loc.changes)],
                )

    def package_on(self, package: str, date: datetime.date) -> Package:
        """The terms of `package` for a sale on `date` (its changes applied, SPEC 2a)."""
        versions: Versions[Package] | None = self._private("_packages_over_time").get(package)
        return self.packages[package] if versions is None else versions.on(date)

    def package_versions(self, package: str) -> list[tuple[datetime.date | None, Package]]:
        """Every set of terms `package` has had: (from, terms), the first from None."""
        versions = self._packages_over_time.get(package)
        if versions is None:
            return [(None, self.packages[package])]
        return [(None if since == datetime.date.min else since, terms)
                for since, terms in zip(versions.dates, versions.terms, strict=True)]

    def item_on(self, item: str, date: datetime.date) -> Item:
        """The catalog item `item` as it stood on `date` (its list price then)."""
        versions: Versions[Item] | None = self._private("_items_over_time").get(item)
        return self.items[item] if versions is None else versions.on(date)

    def entity_on(self, location: str, date: datetime.date) -> str:
        """The legal entity `location` belongs to on `date` (itself by default)."""
        versions: Versions[str] | None = self._private("_entities_over_time").get(location)
        return self.entity_of(location) if versions is None else versions.on(date)

    def _private(self, name: str) -> dict[str, Any]:
        """A private attribute, read from pydantic's store directly.

        The rules ask for them per event; pydantic's `__getattr__` way costs
        several microseconds a time.
        """
        private = self.__pydantic_private__
        assert private is not None
        found: dict[str, Any] = private[name]
        return found

    def entities(self) -> set[str]:
        """Every entity any location belongs to at any date."""
        return {self.entity_of(loc) for loc in self.locations} | {
            change.entity for spec in self.locations.values() for change in spec.changes}

    def entity_of(self, location: str) -> str:
        """The entity a location belonged to first (before any dated change)."""
        return self.locations[location].entity or location

    def expired_balance_of(self, location: str) -> str:
        """Where `location`'s expired balances go: its own policy, else the business's."""
        return self.locations[location].expired_balance or self.policy.expired_balance

    def account_of(self, location: str) -> str:
        """The account segment of a location (`Loc11` in `Assets:Loc11:...`)."""
        return self.locations[location].account


@dataclass(frozen=True, slots=True)
class Versions(Generic[T]):
    """Terms over time: `terms[i]` is in effect from `dates[i]` until the next date."""

    dates: list[datetime.date]
    terms: list[T]

    @classmethod
    def of(cls, base: T, changes: Sequence[_Change]) -> Versions[T]:
        """`base`, then each change applied to the terms before it."""
        dates, terms = [datetime.date.min], [base]
        for change in changes:
            dates.append(change.since)
            terms.append(terms[-1].model_copy(update=change.updates()))  # type: ignore[attr-defined]
        return cls(dates, terms)

    def on(self, date: datetime.date) -> T:
        return self.terms[bisect.bisect_right(self.dates, date) - 1]


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
        for number, (since, terms) in enumerate(cfg.package_versions(pkg_id)):
            # A change is checked as the whole terms it puts in effect, named by its own keys.
            where = f"packages.{pkg_id}"
            if since is not None:
                where += f".changes[{number - 1}]"
            change = pkg.changes[number - 1].updates() if since is not None else None
            problems += _package_references(cfg, terms, where, change, since)
    return problems


def _package_references(
    cfg: Config, pkg: Package, where: str, change: dict[str, Any] | None,
    since: datetime.date | None,
) -> list[tuple[str, Any, str]]:
    """Unknown items and locations in one set of a package's terms.

    For a dated change, only what the change gives is checked against itself;
    `location_prices` kept from before are checked against the change's items.
    """
    problems: list[tuple[str, Any, str]] = []
    groups = {g.item for g in pkg.items}
    if change is None or "items" in change:
        for i, group in enumerate(pkg.items):
            if group.item != ANY_SERVICE and group.item not in cfg.items:
                problems.append((f"{where}.items[{i}].item", group.item, "unknown item"))
    for loc_id, prices in pkg.location_prices.items():
        if change is None or "location_prices" in change:
            if loc_id not in cfg.locations:
                problems.append((f"{where}.location_prices.{loc_id}", loc_id, "unknown location"))
            prefix = f"{where}.location_prices.{loc_id}"
        else:
            prefix = f"{where.split('.changes[')[0]}.location_prices.{loc_id}"
        for item_id in prices:
            if item_id not in groups:
                why = "not an item of this package"
                if since is not None and change is not None and "location_prices" not in change:
                    why += (f" from {since.isoformat()} (its items change then: give "
                            "location_prices in the same change)")
                problems.append((f"{prefix}.{item_id}", item_id, why))
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
    except RecursionError:
        raise Failed([file_error(name, "not usable TOML: arrays or tables nested too deeply")]) \
            from None
    except OSError as exc:
        raise Failed([file_error(name, f"cannot be read: {exc.strerror or exc}")]) from None
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise Failed([_describe(name, err) for err in exc.errors()]) from None
    except RecursionError:
        raise Failed([file_error(name, "values nested too deeply")]) from None
    problems = _control_characters(cfg) + _cross_check(cfg)
    if problems:
        raise Failed([config_error(name, key, why, value) for key, value, why in problems])
    return cfg


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_NO_CONTROL = "control characters and line breaks are not allowed (it is written into the " \
              "books and every report)"


def _control_characters(cfg: Config) -> list[tuple[str, Any, str]]:
    """Ids and names with control characters, refused as they are in events (SPEC 7).

    A line break in a location id would forge a row in a report's table.
    """
    texts: list[tuple[str, str | None]] = []
    for loc_id, loc in cfg.locations.items():
        texts += [("locations", loc_id), (f"locations.{loc_id}.name", loc.name),
                  (f"locations.{loc_id}.entity", loc.entity)]
    for item_id, item in cfg.items.items():
        texts += [("items", item_id), (f"items.{item_id}.name", item.name)]
    for pkg_id, pkg in cfg.packages.items():
        texts += [("packages", pkg_id), (f"packages.{pkg_id}.name", pkg.name)]
        texts += [(f"packages.{pkg_id}.location_prices", loc_id)
                  for loc_id in pkg.location_prices]
    return [(key, value, _NO_CONTROL) for key, value in texts
            if value is not None and (_CONTROL.search(value) or not value.strip())]


def _describe(name: str, err: Any) -> Error:
    """One validation error as `FILE: key: value: what is wrong`, in the file's words."""
    key = field_path(err["loc"]) or "(top level)"
    msg = describe(err, unknown="unknown key", missing="missing: this key is required")
    value = err.get("input")
    if isinstance(value, (dict, list)) or err["type"] == "missing":
        return config_error(name, key, msg)
    if isinstance(value, datetime.date):
        value = value.isoformat()
    return config_error(name, key, msg, value)
