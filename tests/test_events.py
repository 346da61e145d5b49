"""`read_event`: pydantic-core's native checks give exactly what the models' Python
validators give: the same event, or (through them) the same errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pkgbooks.events import EVENT_ADAPTER, read_event

# Values near the edges of what each field takes: good ones, then bad ones.
DATES = (["2026-01-05", "2024-02-29", "0001-01-01", "9999-11-30"],
         ["2025-02-29", "2026-02-30", "2026-13-01", "0000-01-01", "9999-12-01", "2026-1-05",
          " 2026-01-05", "2026-01-05T00:00:00", "20260105", "２０２６-01-05", "", 20260105, None])
AMOUNTS = (["12.50", "12.5", "12", "0.01", "012.50", "999999999999999.99", "0", "0.00"],
           ["12.505", "-1.00", "+1.00", "1e3", "1,000.00", "1000000000000000", "١٢.٥٠",
            " 1.00", "NaN", "", 12.5, 12, None])
TEXTS = (["loc-11", "K1", "a b", "é", "a/b.c_d-e", "x:y"],
         [" x", "x ", "", " ", "tab\there", "line\nbreak", "\x7f", "-K1", "expiry:K1",
          "expiry:", 7, None])
METHODS = (["cash", "card", "other", "Cash", " CARD "], ["cheque", "", "cash\x1f", 1, None])
QUANTITIES = ([1, 2], [0, -1, 1.0, "1", True, None])


def mostly(values: tuple[list[Any], list[Any]]) -> st.SearchStrategy[Any]:
    """A good value nine times in ten, else any value."""
    good, bad = values
    return st.integers(0, 9).flatmap(
        lambda n: st.sampled_from(good if n else good + bad))


text, date, amount = mostly(TEXTS), mostly(DATES), mostly(AMOUNTS)


def _shaped(required: dict[str, st.SearchStrategy[Any]],
            optional: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the required keys (now and then one left out, or an unknown key
    added) and any optional ones."""
    def drop(obj: dict[str, Any], index: int) -> dict[str, Any]:
        keys = list(obj)
        if index == len(keys):
            return {**obj, "extra": "x"}
        return {k: v for k, v in obj.items() if index >= len(keys) or k != keys[index]}

    return st.builds(drop, st.fixed_dictionaries(required, optional=optional),
                     st.integers(0, 20 * len(required)))


package_line = _shaped({"package": text, "instance": text}, {"price": amount})
product_line = _shaped({"product": text, "amount": amount}, {"tax": amount})
head = {"id": text, "date": date}
events = st.one_of(
    _shaped({**head, "type": st.just("sale"), "location": text, "invoice": text,
             "customer": text,
             "lines": st.lists(st.one_of(package_line, product_line,
                                         st.builds(lambda a, b: {**a, **b},
                                                   package_line, product_line)),
                               min_size=1, max_size=3)}, {"staff": text}),
    _shaped({**head, "type": st.just("payment"), "location": text, "invoice": text,
             "amount": amount, "method": mostly(METHODS)}, {}),
    _shaped({**head, "type": st.just("redemption"), "location": text, "instance": text,
             "item": text}, {"quantity": mostly(QUANTITIES), "staff": text}),
    _shaped({**head, "type": st.just("refund"), "location": text, "instance": text,
             "amount": amount, "method": mostly(METHODS)}, {}),
    _shaped({**head, "type": st.just("expiry"), "instance": text}, {}),
    _shaped({**head, "type": mostly((["void"], ["Void", "sales"])), "target": text,
             "reason": text}, {}),
)


def _outcome(read: Any, line: str) -> Any:
    try:
        event = read(line)
    except ValidationError as exc:
        return "refused", [(e["type"], e["loc"], e["msg"], e["input"])
                           for e in exc.errors(include_url=False)]
    lines = getattr(event, "lines", [])
    return (type(event), event, event.model_fields_set,
            [(type(x), x.model_fields_set) for x in lines],
            [(k, type(v), str(v)) for k, v in event])


@settings(max_examples=800, deadline=None, derandomize=True)
@given(events)
def test_read_event_is_the_models_validation(raw: dict[str, Any]) -> None:
    line = json.dumps(raw)
    assert _outcome(read_event, line) == _outcome(EVENT_ADAPTER.validate_json, line)


def test_the_examples_reach_both_outcomes() -> None:
    """The strategy makes valid events as well as refused ones (else the test above
    would compare little but errors)."""
    outcomes: list[bool] = []

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(events)
    def note(raw: dict[str, Any]) -> None:
        outcomes.append(_outcome(EVENT_ADAPTER.validate_json, json.dumps(raw))[0] != "refused")

    note()
    assert 0.2 < sum(outcomes) / len(outcomes) < 0.8


@pytest.mark.parametrize("raw", [
    {"type": "payment", "id": "p1", "date": "2026-01-05", "location": "loc-11",
     "invoice": "INV-K1", "amount": "12.5", "method": "Cash"},
    {"type": "sale", "id": "s1", "date": "2024-02-29", "location": "loc-11", "invoice": "I",
     "customer": "c", "lines": [{"package": "p", "instance": "K1"},
                                {"product": "x", "amount": "3"}]},
    {"type": "void", "id": "expiry:K1", "date": "2026-01-05", "target": "s1", "reason": "r"},
    *({"type": "expiry", "id": "e1", "date": day, "instance": "K1"}
      for day in [*DATES[0], *DATES[1]]),
    *({"type": "refund", "id": "r1", "date": "2026-01-05", "location": "loc-11",
       "instance": "K1", "amount": amount, "method": "card"}
      for amount in [*AMOUNTS[0], *AMOUNTS[1]]),
])
def test_read_event_on_hand_picked_lines(raw: dict[str, Any]) -> None:
    line = json.dumps(raw)
    assert _outcome(read_event, line) == _outcome(EVENT_ADAPTER.validate_json, line)
