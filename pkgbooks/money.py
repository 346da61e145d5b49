"""Money arithmetic: Decimal only, quantised to the cent, largest-remainder splits.

Every amount in pkgbooks is a `decimal.Decimal` with exactly two places. Any
split of a whole into parts goes through `allocate()`, so the parts always add
up to the whole to the cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half up (the SPEC's one rounding rule)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` in proportion to `weights` by the largest-remainder method.

    Each part is first rounded down to the cent; the cents left over go one by
    one to the parts with the largest remainders (ties to the earlier part).
    The parts add up to `total` exactly. All-zero weights split equally.
    """
    if not weights:
        raise ValueError("allocate() needs at least one weight")
    if any(w < 0 for w in weights):
        raise ValueError("allocate() weights must not be negative")
    total_cents = int((total / CENT).to_integral_value())
    if Decimal(total_cents) * CENT != total:
        raise ValueError(f"allocate() total {total} is not a whole number of cents")
    weight_sum = sum(weights, Decimal(0))
    if weight_sum == 0:
        weights = [Decimal(1)] * len(weights)
        weight_sum = Decimal(len(weights))
    exact = [Decimal(total_cents) * w / weight_sum for w in weights]
    floors = [int(e.to_integral_value(rounding=ROUND_FLOOR)) for e in exact]
    left = total_cents - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(c) * CENT for c in floors]


def equal_parts_sum(total: Decimal, count: int, start: int, taken: int) -> Decimal:
    """Sum of parts `start .. start+taken-1` of `total` split into `count` equal parts.

    The equal split is the largest-remainder one (the first `r` parts carry the
    extra cent), computed arithmetically so that a group of 600 minutes does not
    need 600 stored amounts.
    """
    if count <= 0 or taken < 0 or start < 0 or start + taken > count:
        raise ValueError("equal_parts_sum() range outside the split")
    total_cents = int((total / CENT).to_integral_value())
    base, extra = divmod(total_cents, count)
    with_extra = max(0, min(start + taken, extra) - start)
    return Decimal(base * taken + with_extra) * CENT


def parse_amount(text: str) -> Decimal:
    """Parse a plain decimal string with at most two places into a cent amount."""
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite amount")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{text!r} has more than 2 decimal places")
    return value.quantize(CENT)


def fmt(amount: Decimal) -> str:
    """The ledger's text for an amount: always two places."""
    return f"{amount:.2f}"
