"""SPEC 7: messages speak of the input (field, value, what is allowed), never of the
validation library (no "Extra inputs are not permitted", no model or type names)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from books import build_ok, config_text, pay, problems_of, sale, write_books

from pkgbooks.config import load_config
from pkgbooks.errors import Failed

LIBRARY_WORDS = ("Extra inputs", "Field required", "Input should", "PackageLine", "ProductLine",
                 "package line", "product line", "function-", "Value error", "model_type",
                 "dict_type", "pydantic", "validation error", "instance of")

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""


def clean(lines: list[str]) -> None:
    for line in lines:
        for words in LIBRARY_WORDS:
            assert words not in line, line


def event_problems(tmp_path: Path, *events: dict[str, Any]) -> list[str]:
    books = write_books(tmp_path / "b", config_text(CATALOG), list(events))
    lines = problems_of(books)
    clean(lines)
    return lines


def base_sale(**line: Any) -> dict[str, Any]:
    return {**sale("s1", 1, "K1"), "lines": [line]}


@pytest.mark.parametrize(("line", "expected"), [
    ({"package": "cuts-3"}, "lines[0].instance: missing field"),
    ({"package": "cuts-3", "instance": "K1", "amount": "1.00"}, "lines[0].amount: unknown field"),
    ({"product": "Oil"}, "lines[0].amount: missing field"),
    ({"product": "Oil", "amount": 12}, "lines[0].amount: amount must be a string"),
    ({"instance": "K1"}, "lines[0]: a line has either package and instance, or product and "
                         "amount"),
])
def test_a_bad_invoice_line_is_described_in_the_input_words(
    tmp_path: Path, line: dict[str, Any], expected: str
) -> None:
    (problem,) = event_problems(tmp_path, base_sale(**line))
    assert problem.endswith(f"event s1: {expected}") or expected in problem, problem


@pytest.mark.parametrize(("change", "expected"), [
    ({"lines": "cuts-3"}, "lines: must be a list"),
    ({"lines": [3]}, "lines[0]: a line has either package and instance"),
    ({"customer": 7}, "customer: must be a string"),
    ({"lines": []}, "lines: must not be empty"),
])
def test_bad_sale_shapes(tmp_path: Path, change: dict[str, Any], expected: str) -> None:
    (problem,) = event_problems(tmp_path, {**sale("s1", 1, "K1"), **change})
    assert expected in problem, problem


def test_other_event_shapes(tmp_path: Path) -> None:
    lines = event_problems(
        tmp_path,
        sale("s1", 1, "K1"),
        {**pay("p1", 1, "K1", "10.00"), "method": "cheque"},
        {"type": "redemption", "id": "r1", "date": "2026-01-02", "location": "loc-11",
         "instance": "K1", "item": "haircut", "quantity": "two"},
        {"type": "redemption", "id": "r2", "date": "2026-01-02", "location": "loc-11",
         "instance": "K1", "item": "haircut", "quantity": True},
    )
    text = "\n".join(lines)
    assert "event p1: method: must be one of 'cash', 'card' or 'other'" in text
    assert "event r1: quantity: must be a whole number" in text
    assert "event r2: quantity: must be a whole number" in text


def config_problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "pkgbooks.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(Failed) as caught:
        load_config(path)
    clean([str(e) for e in caught.value.errors])
    return [str(e) for e in caught.value.errors]


def test_configuration_messages_speak_of_keys(tmp_path: Path) -> None:
    lines = config_problems(tmp_path, config_text(CATALOG + """
[packages.cuts-3.extra]
x = 1

[items.oil]
name = "Oil"
category = "potion"
unit = 3

[packages.mix]
price = "10.00"
validity_days = "ten"
items = "haircut"
"""))
    text = "\n".join(lines)
    file = tmp_path / "pkgbooks.toml"
    assert f"{file}: packages.cuts-3.extra: unknown key" in text
    assert (f"{file}: items.oil.category: 'potion': must be one of 'service', 'product' or "
            "'class'") in text
    assert f"{file}: items.oil.unit: 3: must be one of" in text
    assert f"{file}: packages.mix.name: missing: this key is required" in text
    assert f"{file}: packages.mix.validity_days: 'ten': must be a whole number" in text
    assert f"{file}: packages.mix.items: 'haircut': must be a list" in text


def test_a_top_level_table_of_the_wrong_shape(tmp_path: Path) -> None:
    lines = config_problems(tmp_path, 'title = "T"\nlocations = 3\npolicy = "strict"\n')
    text = "\n".join(lines)
    assert "locations: 3: must be a table of keys and values" in text
    assert "policy: 'strict': must be a table of keys and values" in text


def test_payment_method_is_read_case_insensitively(tmp_path: Path) -> None:
    books = write_books(tmp_path / "b", config_text(CATALOG), [
        sale("s1", 1, "K1"),
        {**pay("p1", 1, "K1", "40.00"), "method": "CARD"},
        {**pay("p2", 1, "K1", "30.00"), "method": "Cash"},
        {**pay("p3", 1, "K1", "30.00"), "method": " Other "},
    ])
    build_ok(books)
    text = "".join(p.read_text() for p in sorted((books / "ledger").glob("2026-*.beancount")))
    for account in ("Assets:Loc11:Cash:Card", "Assets:Loc11:Cash:Cash",
                    "Assets:Loc11:Cash:Other"):
        assert account in text
    assert json.dumps("CARD") not in text
