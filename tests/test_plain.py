"""pkgbooks/plain.py: dataclasses and named tuples as plain tuples and back, exactly.

"Exactly" is checked with `deep()`: the classes, every field, an amount's
digits and exponent (`1.0` is not `1.00`), int against Decimal, dict order.
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import pickle
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, NamedTuple

from hypothesis import given
from hypothesis import strategies as st

from pkgbooks.build import build
from pkgbooks.demo import place
from pkgbooks.engine import EngineState
from pkgbooks.plain import Codec
from pkgbooks.state import Add, Change, Done, PackageState, SetClosed, SetStatus


def deep(value: Any) -> Any:
    """`value` as nested tuples that tell apart everything a round trip must keep."""
    kind = type(value)
    if isinstance(value, Decimal):
        return ("Decimal", str(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (kind.__name__, *(deep(getattr(value, f.name)) for f in dataclasses.fields(value)))
    if isinstance(value, tuple):
        return (kind.__name__, *(deep(v) for v in value))
    if isinstance(value, list):
        return ("list", *(deep(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return (kind.__name__, *sorted(deep(v) for v in value))
    if isinstance(value, dict):
        return ("dict", *((deep(k), deep(v)) for k, v in value.items()))
    if hasattr(value, "__dict__"):
        return (kind.__name__, deep(vars(value)))
    return (kind.__name__, value)


def pickled(plain: Any) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.fast = True
    pickler.dump(plain)
    return out.getvalue()


def round_trip(tp: Any, value: Any) -> Any:
    codec = Codec()
    plain = codec.encoder(tp)(value)
    back = codec.decoder(tp)(pickle.loads(pickled(plain)))
    assert deep(back) == deep(value)
    assert pickled(codec.encoder(tp)(back)) == pickled(plain), "the same bytes again"
    return plain


def test_an_engine_state_of_real_books_comes_back_exactly(tmp_path: Path) -> None:
    """The state after a build of the demo books, with its live and finished packages,
    open invoices, voidable records (transactions, changes), sets and counts."""
    result = build(place(tmp_path / "books"))
    assert result.recorder is not None
    state = result.recorder.engine.snapshot()
    assert state.state.finished and state.state.packages and state.state.closed_invoices
    plain = round_trip(EngineState, state)
    # builtins only, so pickle needs no Python code of ours to write or read it
    assert _builtins_only((plain[0], *plain[2:])), "all but the read places (pickled as they are)"


def _builtins_only(value: Any) -> bool:
    if type(value) in (tuple, list):
        return all(_builtins_only(v) for v in value)
    if type(value) is dict:
        return all(_builtins_only(k) and _builtins_only(v) for k, v in value.items())
    return type(value) in (str, int, bool, type(None), float, bytes)


texts = st.text(max_size=5)


@given(
    amount=st.one_of(st.integers(-1000, 1000), st.decimals(allow_nan=False,
                                                           allow_infinity=False)),
    part=st.one_of(st.none(), texts, st.integers()),
    target=st.sampled_from(["package", "group", "line"]),
)
def test_an_amount_or_a_count_keeps_its_type_and_digits(amount: Any, part: Any,
                                                         target: Any) -> None:
    round_trip(Add, Add(target, "k", "used", amount, part))


@given(st.lists(st.one_of(
    st.builds(Add, st.sampled_from(["package", "group", "line"]), texts, texts,
              st.decimals(allow_nan=False, allow_infinity=False), st.none()),
    st.builds(SetStatus, texts, st.sampled_from(["live", "used up"]),
              st.sampled_from(["expired", "voided"])),
    st.builds(SetClosed, texts, st.booleans()),
)))
def test_a_union_of_classes_keeps_each_members_class(changes: list[Change]) -> None:
    round_trip(Done, Done("e1", "payment", (), tuple(changes), True))


class One(NamedTuple):
    only: Decimal


@dataclass
class Odd:
    """Fields a constructor does not take, a set, optional dates, a nested tuple, Any."""

    names: set[str]
    day: datetime.date | None
    pair: tuple[datetime.date, str]
    ones: list[One]
    anything: Any = None
    status: Literal["a", "b"] = "a"
    later: Decimal = field(default=Decimal("0.00"), init=False)


@given(
    names=st.sets(texts), day=st.one_of(st.none(), st.dates()), when=st.dates(),
    ones=st.lists(st.decimals(allow_nan=False, allow_infinity=False).map(One)),
    later=st.decimals(allow_nan=False, allow_infinity=False),
)
def test_sets_optional_dates_and_fields_init_does_not_take(
        names: set[str], day: datetime.date | None, when: datetime.date, ones: list[One],
        later: Decimal) -> None:
    odd = Odd(names, day, (when, "x"), ones, anything=frozenset({1, 2}))
    odd.later = later
    plain = round_trip(Odd, odd)
    assert plain[0] == sorted(names), "a set is stored sorted: the same in any process"


def test_a_package_with_many_records_is_one_tuple_per_object() -> None:
    pkg = PackageState("i1", "P", "INV", "L1", "C", None, datetime.date(2025, 1, 1), None,
                       Decimal("10.00"), Decimal("1.00"), Decimal("0"), {})
    plain = round_trip(dict[str, PackageState], {"i1": pkg})
    assert plain["i1"][8:11] == ("10.00", "1.00", "0")
