"""The point-of-sale events (SPEC 3): one pydantic model per type.

The models check the shape of one event (types, required fields, amounts with
at most two places, ISO dates); references between events are the rules' job.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs

from pkgbooks.money import CENT, parse_amount

# Instance ids become Beancount links (^id), so they keep to the link alphabet.
LINK_SAFE = r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$"
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_PLAIN_AMOUNT = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,2})?$")  # ASCII digits only
# The ledger names the first day of the month after the last; keep clear of year 10000.
LAST_DATE = datetime.date(9999, 11, 30)

# Within one date, events apply in this order (SPEC 3.3).
KIND_ORDER = {"sale": 0, "payment": 1, "redemption": 2, "refund": 3, "expiry": 4, "void": 5}


def _iso_date(value: Any) -> datetime.date:
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError("date must be an ISO date YYYY-MM-DD")
    try:
        date = datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a real date") from None
    if date > LAST_DATE:
        raise ValueError(f"{value!r} is too far in the future")
    return date


def _amount(value: Any) -> Decimal:
    if not isinstance(value, str) or not _PLAIN_AMOUNT.fullmatch(value):
        raise ValueError(
            "amount must be a string holding a plain non-negative decimal with at most "
            "15 digits before the point and 2 after, e.g. \"12.50\""
        )
    try:
        return parse_amount(value)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(str(exc)) from None


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("amount must be greater than 0")
    return value


Date = Annotated[datetime.date, BeforeValidator(_iso_date)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
PositiveAmount = Annotated[Decimal, BeforeValidator(_amount), AfterValidator(_positive)]
# Checked inside pydantic-core (a Python validator per field costs a tenth of
# the reading time); `readers` words the pattern errors for people.
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*[^\x00-\x1f\x7f\s][^\x00-\x1f\x7f]*$"
Text = Annotated[str, StringConstraints(strict=True, pattern=TEXT_PATTERN)]
Instance = Annotated[str, StringConstraints(strict=True, pattern=LINK_SAFE)]
def _method(value: Any) -> Any:
    """Point-of-sale systems write `Cash`, `CARD`: a method is read case-insensitively."""
    return value.strip().lower() if isinstance(value, str) else value


Method = Annotated[Literal["cash", "card", "other"], BeforeValidator(_method)]


def _event_id(value: str) -> str:
    if value.startswith("expiry:"):
        raise ValueError("ids starting with 'expiry:' are kept for the automatic expiries")
    return value


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(strict=True, pattern=TEXT_PATTERN),
                  AfterValidator(_event_id)]
    date: Date


class PackageLine(BaseModel):
    """A sale line selling one package instance (at its catalog price unless `price`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: Text
    instance: Instance
    price: Amount | None = None


class ProductLine(BaseModel):
    """A sale line selling a product: its net amount and tax."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product: Text
    amount: Amount
    tax: Amount = Decimal("0.00")


def _line_kind(value: Any) -> str | None:
    """Which kind of invoice line: the one whose key it has (a package or a product)."""
    keys = value if isinstance(value, dict) else vars(value) if isinstance(value, BaseModel) else {}
    if "package" in keys:
        return "package line"
    if "product" in keys:
        return "product line"
    return None


InvoiceLine = Annotated[
    Annotated[PackageLine, Tag("package line")] | Annotated[ProductLine, Tag("product line")],
    Discriminator(
        _line_kind, custom_error_type="line_kind",
        custom_error_message="a line has either package and instance, or product and amount",
    ),
]


class Sale(_Event):
    """An invoice of packages and products (SPEC 3.2)."""

    type: Literal["sale"]
    location: Text
    invoice: Text
    customer: Text
    staff: Text | None = None
    lines: list[InvoiceLine] = Field(min_length=1)


class Payment(_Event):
    """Money received for an invoice, at any location."""

    type: Literal["payment"]
    location: Text
    invoice: Text
    amount: PositiveAmount
    method: Method


class Redemption(_Event):
    """Units of an item used from a package, at any location."""

    type: Literal["redemption"]
    location: Text
    instance: Instance
    item: Text
    quantity: int = Field(default=1, gt=0, strict=True)
    staff: Text | None = None


class Refund(_Event):
    """Money paid back for a package, which ends it."""

    type: Literal["refund"]
    location: Text
    instance: Instance
    amount: PositiveAmount
    method: Method


class Expiry(_Event):
    """A package expired early (the automatic expiries are made by the engine)."""

    type: Literal["expiry"]
    instance: Instance


class Void(_Event):
    """The reversal of an earlier event (SPEC 4.8)."""

    type: Literal["void"]
    target: Text
    reason: Text


Event = Annotated[
    Sale | Payment | Redemption | Refund | Expiry | Void, Field(discriminator="type")
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES = tuple(KIND_ORDER)


# --- the same checks, natively -----------------------------------------------------------
#
# The validators above are Python functions, called for every date, amount, id
# and method read: they word the errors. `read_event` checks most lines with
# pydantic-core alone (the same models, each Python check swapped for one
# pydantic-core makes itself, accepting no more than the original), and only
# a line it refuses goes through `EVENT_ADAPTER`, for the same event or the
# same errors as ever.


def _cents(text: str) -> Decimal:
    """An amount the pattern has let through (at most 15 + 2 digits): never fails."""
    return Decimal(text).quantize(CENT)


def _positive_cents(text: str) -> Decimal:
    return _positive(_cents(text))


def _native_text(pattern: str, then: cs.CoreSchema) -> cs.CoreSchema:
    return cs.chain_schema([cs.str_schema(pattern=pattern, strict=True), then])


_NATIVE_FOR = {
    _iso_date: _native_text(_ISO_DATE.pattern, cs.date_schema(le=LAST_DATE)),
    _amount: _native_text(_PLAIN_AMOUNT.pattern, cs.no_info_plain_validator_function(_cents)),
    _positive: _native_text(_PLAIN_AMOUNT.pattern,
                            cs.no_info_plain_validator_function(_positive_cents)),
}


def _native(schema: Any) -> Any:
    """`schema` with its Python validators swapped for native checks.

    A date or an amount is checked by its pattern and pydantic-core's date (or
    `_cents`); `_event_id` and `_method` are left out (`read_event` checks
    the id's prefix; a method not written in lower case is left to the
    Python validator); a line's kind is found by trying the package line,
    then the product line (each refuses the other's keys).
    """
    if isinstance(schema, list):
        return [_native(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") in ("function-before", "function-after"):
        function = schema["function"]["function"]
        if function in _NATIVE_FOR:
            return _NATIVE_FOR[function]
        if function in (_event_id, _method):
            return _native(schema["schema"])
    if schema.get("type") == "tagged-union" and schema.get("discriminator") is _line_kind:
        return cs.union_schema([_native(choice) for choice in schema["choices"].values()],
                               mode="left_to_right")
    return {key: _native(value) for key, value in schema.items()}


def _models(schema: Any) -> set[type[BaseModel]]:
    """The model classes a core schema names."""
    if isinstance(schema, list):
        return set().union(*(_models(item) for item in schema))
    if not isinstance(schema, dict):
        return set()
    found = {schema["cls"]} if schema.get("type") == "model" else set()
    return found.union(*(_models(value) for value in schema.values()))


def _validator_of(schema: Any) -> SchemaValidator:
    """A validator made from `schema` itself.

    Where a schema names a finished model class, pydantic-core takes that
    class's own validator instead (its Python validators and all); a model
    is taken for unfinished while the validator is made.
    """
    models = _models(schema)
    for model in models:
        model.__pydantic_complete__ = False
    try:
        return SchemaValidator(schema)
    finally:
        for model in models:
            model.__pydantic_complete__ = True


_NATIVE = _validator_of(_native(EVENT_ADAPTER.core_schema))


def read_event(text: str | bytes) -> Event:
    """One JSON object to an event, as `EVENT_ADAPTER.validate_json` makes it.

    Raises `ValidationError` with `EVENT_ADAPTER`'s errors.
    """
    try:
        event: Event = _NATIVE.validate_json(text)
    except ValidationError:
        return EVENT_ADAPTER.validate_json(text)
    if event.id.startswith("expiry:"):
        return EVENT_ADAPTER.validate_json(text)
    return event
