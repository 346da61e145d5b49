"""Money arithmetic: exact cents, explicit rounding, largest-remainder splits.

Every amount pkgbooks reads, configures or hands to other modules is a
`decimal.Decimal` with exactly two places. Inside the engine (the rules, the
books state and the transactions they build) the same amounts are exact
integer numbers of cents (`to_cents()`, `from_cents()`): adding, comparing
and hashing an int is several times quicker than a Decimal, and a cent
amount cannot drift off the cent. Never a float. Any split of a whole into
parts goes through `allocate()` (or `allocate_cents()`), so the parts always
add up to the whole to the cent.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half up (the SPEC's one rounding rule)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal) -> int:
    """A cent amount as an exact integer number of cents; refuses one off the cent."""
    scaled = amount.scaleb(2)
    whole = int(scaled)
    if whole != scaled:
        raise ValueError(f"{amount} is not a whole number of cents")
    return whole


def from_cents(amount: int) -> Decimal:
    """An integer number of cents as a Decimal with two places (1250 -> 12.50)."""
    return Decimal(amount).scaleb(-2)


def fmt_cents(amount: int) -> str:
    """The ledger's text for an amount in cents: always two places (`fmt` of the Decimal)."""
    if amount < 0:
        return f"-{-amount // 100}.{-amount % 100:02d}"
    return f"{amount // 100}.{amount % 100:02d}"


def cents_of(value: Decimal) -> int:
    """`cents(value)` (half up) as an integer number of cents, for amounts worked out in
    Decimal (a rate, a pro rata share) inside the engine."""
    return to_cents(cents(value))


def div_cents(numerator: int, denominator: int) -> int:
    """`numerator / denominator` rounded to a whole cent half up (away from zero on a tie),
    exactly: what `cents()` gives for the same quotient of Decimal amounts.

    For a pro rata share in cents (`amount * tax / gross`); `denominator` > 0.
    """
    if denominator <= 0:
        raise ValueError("div_cents() needs a positive denominator")
    if numerator >= 0:
        return (2 * numerator + denominator) // (2 * denominator)
    return -((-2 * numerator + denominator) // (2 * denominator))


def allocate(total: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """Split `total` in proportion to `weights` by the largest-remainder method.

    Each part is first rounded down to the cent; the cents left over go one by
    one to the parts with the largest remainders (ties to the earlier part).
    The parts add up to `total` exactly. All-zero weights split equally.
    Exact fractions throughout, so equal remainders are exactly equal.
    """
    return allocate_groups(total, weights, [1] * len(weights))


def allocate_groups(
    total: Decimal, group_weights: Sequence[Decimal], quantities: Sequence[int]
) -> list[Decimal]:
    """Largest remainder over every unit of several groups; returns each group's total.

    Group g holds `quantities[g]` equal units sharing the weight
    `group_weights[g]`. The cents left over after rounding every unit down go
    to the units with the largest remainders, ties to the earlier unit, so
    within a group the first units take them: `equal_parts_sum()` over a
    group's total gives each unit's share back.
    """
    if not group_weights or len(group_weights) != len(quantities):
        raise ValueError("allocate() needs one weight per group")
    if any(w < 0 for w in group_weights) or any(q <= 0 for q in quantities):
        raise ValueError("allocate() weights must not be negative, quantities positive")
    total_cents = int((total / CENT).to_integral_value())
    if Decimal(total_cents) * CENT != total:
        raise ValueError(f"allocate() total {total} is not a whole number of cents")
    weights = [Fraction(w) for w in group_weights]
    if sum(weights) == 0:
        weights = [Fraction(q) for q in quantities]
    weight_sum = sum(weights)
    unit_shares = [total_cents * w / weight_sum / q for w, q in zip(weights, quantities,
                                                                      strict=True)]
    floors = [math.floor(share) for share in unit_shares]
    left = total_cents - sum(f * q for f, q in zip(floors, quantities, strict=True))
    extra = [0] * len(weights)
    order = sorted(range(len(weights)), key=lambda g: (floors[g] - unit_shares[g], g))
    for g in order:
        extra[g] = min(quantities[g], left)
        left -= extra[g]
    return [Decimal(f * q + e) * CENT for f, q, e in zip(floors, quantities, extra, strict=True)]


def allocate_cents(total: int, weights: Sequence[int]) -> list[int]:
    """`allocate()` in integer cents: the same split, exactly (the weights in cents too)."""
    return allocate_groups_cents(total, weights, [1] * len(weights))


def allocate_groups_cents(
    total: int, group_weights: Sequence[int | Decimal], quantities: Sequence[int]
) -> list[int]:
    """`allocate_groups()` with the total and the result in integer cents.

    The weights only count in proportion to each other, so they may be cents
    or Decimals (list prices), as `allocate_groups()` takes them.
    """
    parts = allocate_groups(from_cents(total), [Decimal(w) for w in group_weights], quantities)
    return [to_cents(part) for part in parts]


def equal_parts_sum_cents(total: int, count: int, start: int, taken: int) -> int:
    """`equal_parts_sum()` in integer cents."""
    if count <= 0 or taken < 0 or start < 0 or start + taken > count:
        raise ValueError("equal_parts_sum() range outside the split")
    base, extra = divmod(total, count)
    with_extra = max(0, min(start + taken, extra) - start)
    return base * taken + with_extra


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


# 15 digits before the point: far beyond any price, and exact in Decimal's default
# 28-digit context whatever the engine adds up.
_PLAIN = re.compile(r"-?[0-9]{1,15}(\.[0-9]+)?")


def parse_amount(text: str) -> Decimal:
    """Parse a plain decimal string with at most two places into a cent amount."""
    if not _PLAIN.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a plain decimal amount like 12.50 (at most 15 digits before "
            "the point)"
        )
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite amount")
    if value.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{text!r} has more than 2 decimal places")
    return value.quantize(CENT)


def fmt(amount: Decimal) -> str:
    """The ledger's text for an amount: always two places."""
    return f"{amount:.2f}"
