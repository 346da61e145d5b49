"""Money arithmetic (SPEC: Decimal, cents, ROUND_HALF_UP, largest-remainder splits)."""

from __future__ import annotations

import math
import random
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pkgbooks.money import (
    allocate,
    allocate_cents,
    cents,
    div_cents,
    equal_parts_sum,
    equal_parts_sum_cents,
    fmt,
    fmt_cents,
    from_cents,
    parse_amount,
    to_cents,
)

D = Decimal


def ds(*values: str) -> list[Decimal]:
    return [D(v) for v in values]


def reference_allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Largest remainder computed with exact fractions; ties go to the earlier part."""
    total_cents = int(total * 100)
    ws = [Fraction(str(w)) for w in weights]
    if sum(ws) == 0:
        ws = [Fraction(1)] * len(ws)
    exact = [Fraction(total_cents) * w / sum(ws) for w in ws]
    floors = [math.floor(e) for e in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: total_cents - sum(floors)]:
        floors[i] += 1
    return [D(c) / 100 for c in floors]


def has_exact_tie(total: Decimal, weights: list[Decimal]) -> bool:
    """True when two parts have mathematically equal remainders (the tie-break decides)."""
    total_cents = int(total * 100)
    ws = [Fraction(str(w)) for w in weights]
    if sum(ws) == 0:
        ws = [Fraction(1)] * len(ws)
    rems = [(Fraction(total_cents) * w / sum(ws)) % 1 for w in ws]
    nonzero = [r for r in rems if r]
    return len(nonzero) != len(set(nonzero))


# --- allocate -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        # 10000 cents / 3 = 3333.33 each: one cent left, to the first part (a tie).
        ("100.00", ["1", "1", "1"], ["33.34", "33.33", "33.33"]),
        # 2 cents over 3 equal parts: the first two get one each.
        ("0.02", ["1", "1", "1"], ["0.01", "0.01", "0.00"]),
        # 1000 x 1/3 = 333.33, x 2/3 = 666.67: the cent goes to the larger remainder (.67).
        ("10.00", ["1", "2"], ["3.33", "6.67"]),
        # 5000 x 110/132 = 4166.67, x 22/132 = 833.33: the cent goes to the first part.
        ("50.00", ["110.00", "22.00"], ["41.67", "8.33"]),
        # 5000 x 22/132 = 833.33, x 110/132 = 4166.67: order does not matter, remainder does.
        ("50.00", ["22.00", "110.00"], ["8.33", "41.67"]),
        # 9999 x 30/50 = 5999.4, x 20/50 = 3999.6: the cent goes to the second part (.6 > .4).
        ("99.99", ["30", "20"], ["59.99", "40.00"]),
        # Exact splits leave nothing to distribute.
        ("140.00", ["70", "40", "30"], ["70.00", "40.00", "30.00"]),
        # A zero total gives zero parts.
        ("0.00", ["1", "2"], ["0.00", "0.00"]),
        # Zero weights get nothing while other weights exist.
        ("10.00", ["0", "1", "1"], ["0.00", "5.00", "5.00"]),
        ("0.01", ["0", "1", "1"], ["0.00", "0.01", "0.00"]),
        ("0.03", ["3", "0"], ["0.03", "0.00"]),
        # All weights zero: an equal split (5 cents over 2: the first part gets the extra).
        ("1.00", ["0", "0"], ["0.50", "0.50"]),
        ("0.05", ["0", "0"], ["0.03", "0.02"]),
        ("0.05", ["0", "0", "0"], ["0.02", "0.02", "0.01"]),
        # A single part takes the whole.
        ("12.34", ["7"], ["12.34"]),
    ],
)
def test_allocate_known_splits(total: str, weights: list[str], expected: list[str]) -> None:
    parts = allocate(D(total), ds(*weights))
    assert parts == ds(*expected)
    assert sum(parts, D(0)) == D(total)
    assert all(p == p.quantize(D("0.01")) for p in parts)


def test_allocate_ties_go_to_the_earlier_part() -> None:
    assert allocate(D("0.01"), ds("1", "1")) == ds("0.01", "0.00")
    assert allocate(D("0.01"), ds("5", "5", "5")) == ds("0.01", "0.00", "0.00")
    assert allocate(D("0.02"), ds("5", "5", "5")) == ds("0.01", "0.01", "0.00")
    # 3 cents over two equal parts: 1.5 and 1.5, one cent left: the first tied part wins.
    assert allocate(D("0.03"), ds("1", "1")) == ds("0.02", "0.01")


def test_allocate_exact_ties_with_repeating_remainders_go_to_the_earlier_parts() -> None:
    # 95980 cents over weights 3, 21, 21, 0 (sum 45): 6398.67, 44790.67, 44790.67, 0.
    # Two cents are left; all three remainders are exactly 2/3: parts 0 and 1 get them.
    assert allocate(D("959.80"), ds("3", "21", "21", "0")) == ds(
        "63.99", "447.91", "447.90", "0.00")


def test_allocate_matches_exact_largest_remainder_when_there_is_no_tie() -> None:
    rng = random.Random(20260101)
    checked = 0
    for _ in range(3000):
        weights = [D(rng.choice([0, 1, 3, 7, 10, 25, 40, 70, 99, 120])) * rng.choice([1, 3, 7])
                   for _ in range(rng.randint(1, 6))]
        total = D(rng.randint(0, 200000)) / 100
        parts = allocate(total, weights)
        # Always: the parts add up to the whole, are cents, each within a cent of exact.
        assert sum(parts, D(0)) == total
        wsum = sum(weights, D(0))
        for part, w in zip(parts, weights, strict=True):
            exact = (Fraction(str(total)) * (Fraction(str(w)) / Fraction(str(wsum)))
                     if wsum else Fraction(str(total)) / len(weights))
            assert abs(Fraction(str(part)) - exact) < Fraction(1, 100)
            assert part >= 0
        if not has_exact_tie(total, weights):
            assert parts == reference_allocate(total, weights), (total, weights)
            checked += 1
    assert checked > 2000


def test_allocate_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        allocate(D("1.00"), [])
    with pytest.raises(ValueError):
        allocate(D("1.00"), ds("1", "-1"))
    with pytest.raises(ValueError):
        allocate(D("1.005"), ds("1", "1"))


# --- equal_parts_sum ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "count", "start", "taken", "expected"),
    [
        ("100.00", 3, 0, 1, "33.34"),  # the first part carries the extra cent
        ("100.00", 3, 1, 1, "33.33"),
        ("100.00", 3, 1, 2, "66.66"),
        ("100.00", 3, 0, 3, "100.00"),
        ("100.00", 3, 0, 0, "0.00"),
        ("0.05", 3, 0, 2, "0.04"),  # 2, 2, 1 cents
        ("0.05", 3, 2, 1, "0.01"),
        ("0.02", 3, 2, 1, "0.00"),
        ("60.00", 600, 0, 45, "4.50"),  # 600 minutes at 0.10
        ("100.00", 600, 590, 10, "1.60"),  # 10000 = 600 x 16 + 400: parts 0-399 are 0.17
        ("100.00", 600, 395, 10, "1.65"),  # parts 395-399 at 0.17, 400-404 at 0.16
    ],
)
def test_equal_parts_sum(total: str, count: int, start: int, taken: int, expected: str) -> None:
    assert equal_parts_sum(D(total), count, start, taken) == D(expected)


def test_equal_parts_sum_agrees_with_allocate_of_equal_weights() -> None:
    rng = random.Random(7)
    for _ in range(300):
        count = rng.randint(1, 12)
        total = D(rng.randint(0, 50000)) / 100
        parts = allocate(total, [D(1)] * count)
        start = rng.randint(0, count)
        taken = rng.randint(0, count - start)
        assert equal_parts_sum(total, count, start, taken) == sum(
            parts[start:start + taken], D("0.00"))
        assert equal_parts_sum(total, count, 0, count) == total


@pytest.mark.parametrize(("count", "start", "taken"), [(0, 0, 0), (3, 2, 2), (3, -1, 1),
                                                       (3, 0, -1), (3, 4, 0)])
def test_equal_parts_sum_refuses_a_range_outside_the_split(
    count: int, start: int, taken: int
) -> None:
    with pytest.raises(ValueError):
        equal_parts_sum(D("10.00"), count, start, taken)


# --- parse_amount, cents, fmt ------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("12.50", "12.50"), ("12.5", "12.50"), ("12", "12.00"), ("0.10", "0.10"), ("0", "0.00"),
])
def test_parse_amount_accepts_plain_decimals(text: str, expected: str) -> None:
    value = parse_amount(text)
    assert value == D(expected)
    assert str(value) == expected


@pytest.mark.parametrize("text", ["1.005", "0.001", "12.500", "NaN", "Infinity", "-Infinity",
                                  "abc", "", "1,50", "$1.00"])
def test_parse_amount_refusals(text: str) -> None:
    with pytest.raises((ValueError, InvalidOperation)):
        parse_amount(text)


@pytest.mark.parametrize("text", ["1e2", "1E+1"])
def test_parse_amount_refuses_exponent_notation(text: str) -> None:
    try:
        value = parse_amount(text)
    except (ValueError, InvalidOperation):
        return
    raise AssertionError(f"{text!r} accepted as {value}")


@pytest.mark.parametrize(("value", "expected"), [
    ("0.005", "0.01"), ("0.0049", "0.00"), ("2.675", "2.68"), ("1.6665", "1.67"),
    ("-0.005", "-0.01"), ("10", "10.00"), ("4.9995", "5.00"),
])
def test_cents_rounds_half_up(value: str, expected: str) -> None:
    assert str(cents(D(value))) == expected


def test_fmt_always_two_places() -> None:
    assert fmt(D("5")) == "5.00"
    assert fmt(D("-0.5")) == "-0.50"
    assert fmt(D("1234.56")) == "1234.56"


# --- integer cents (inside the engine) ------------------------------------------------------

CENT_AMOUNTS = st.integers(-10**15, 10**15)


@pytest.mark.parametrize(("text", "expected"), [
    ("12.50", 1250), ("0.00", 0), ("-0.01", -1), ("7", 700), ("-1234.5", -123450),
])
def test_to_cents_of_amounts_on_the_cent(text: str, expected: int) -> None:
    assert to_cents(D(text)) == expected


@pytest.mark.parametrize("text", ["0.001", "12.505", "-0.009"])
def test_to_cents_refuses_an_amount_off_the_cent(text: str) -> None:
    with pytest.raises(ValueError, match="not a whole number of cents"):
        to_cents(D(text))


@pytest.mark.parametrize(("amount", "text"), [
    (0, "0.00"), (5, "0.05"), (-5, "-0.05"), (100, "1.00"), (-100, "-1.00"),
    (123456, "1234.56"), (-99, "-0.99"),
])
def test_fmt_cents_writes_two_places(amount: int, text: str) -> None:
    assert fmt_cents(amount) == text


@given(CENT_AMOUNTS)
def test_cents_round_trip_and_text_as_the_decimal_has_it(amount: int) -> None:
    value = from_cents(amount)
    assert value.as_tuple().exponent == -2
    assert to_cents(value) == amount
    assert fmt_cents(amount) == fmt(value)


@pytest.mark.parametrize(("numerator", "denominator", "expected"), [
    (5, 10, 1),  # 0.5 cent: half up
    (-5, 10, -1),  # away from zero, as ROUND_HALF_UP
    (4, 10, 0), (14, 10, 1), (15, 10, 2), (1250 * 250, 2750, 114),
])
def test_div_cents_rounds_half_up(numerator: int, denominator: int, expected: int) -> None:
    assert div_cents(numerator, denominator) == expected


@given(st.integers(-10**12, 10**12), st.integers(1, 10**8))
def test_div_cents_is_cents_of_the_decimal_quotient(numerator: int, denominator: int) -> None:
    # numerator / denominator cents is (numerator cents) / denominator, rounded by `cents()`
    quotient = from_cents(numerator) / D(denominator)
    assert div_cents(numerator, denominator) == to_cents(cents(quotient))


@given(st.integers(0, 10**9), st.lists(st.integers(0, 10**7), min_size=1, max_size=6))
def test_allocate_cents_is_allocate_in_cents(total: int, weights: list[int]) -> None:
    parts = allocate_cents(total, weights)
    assert parts == [to_cents(p) for p in allocate(from_cents(total), [D(w) for w in weights])]
    assert sum(parts) == total


@given(st.integers(0, 10**9), st.integers(1, 600), st.data())
def test_equal_parts_sum_cents_is_equal_parts_sum_in_cents(
    total: int, count: int, data: st.DataObject
) -> None:
    start = data.draw(st.integers(0, count))
    taken = data.draw(st.integers(0, count - start))
    assert equal_parts_sum_cents(total, count, start, taken) == to_cents(
        equal_parts_sum(from_cents(total), count, start, taken))
