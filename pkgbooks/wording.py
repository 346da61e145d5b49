"""Validation errors in the words of the input (SPEC 7).

pydantic checks the shape of events and of `pkgbooks.toml`; its messages
speak of its own internals ("Extra inputs are not permitted", model names in
the location of an error). Every message shown to a person goes through here
and speaks of the field, the value and what is allowed instead.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

# Names of models and tags that pydantic puts in an error's location.
_INTERNAL_PARTS = frozenset({"PackageLine", "ProductLine", "package line", "product line"})

_BY_TYPE = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "date_type": "must be a date YYYY-MM-DD",
    "date_parsing": "must be a date YYYY-MM-DD",
    "date_from_datetime_parsing": "must be a date YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date without a time",
    "list_type": "must be a list",
    "dict_type": "must be a table of keys and values",
    "model_type": "must be a table of keys and values",
    "model_attributes_type": "must be a table of keys and values",
    "decimal_type": "must be a decimal number written as a string",
    "decimal_parsing": "must be a decimal number written as a string",
}


def field_path(loc: tuple[Any, ...], skip: Collection[Any] = ()) -> str:
    """`lines[0].package` from pydantic's location, without its internal parts."""
    path = ""
    for part in loc:
        if part in skip or part in _INTERNAL_PARTS:
            continue
        if isinstance(part, str) and ("[" in part or part.startswith("function-")):
            continue  # a validator's own name, e.g. `function-before[_amount()]`
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe(err: Any, *, unknown: str = "unknown key", missing: str = "missing") -> str:
    """What is wrong, for one pydantic error, in the words of the input.

    `unknown` and `missing` name an unexpected and an absent key as the input
    calls them (a "field" of an event, a "key" of the configuration).
    """
    kind = str(err["type"])
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return unknown
    if kind == "missing":
        return missing
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', 'the allowed values')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = next(iter(ctx.values()), "")
        words = {"greater_than": "greater than", "greater_than_equal": "at least",
                 "less_than": "less than", "less_than_equal": "at most"}[kind]
        return f"must be {words} {bound}"
    if kind == "too_short":
        return "must not be empty"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length', 'fewer')} entries"
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        return "is not one of the forms allowed here"
    if kind in _BY_TYPE:
        return _BY_TYPE[kind]
    message = str(err.get("msg", "is not allowed"))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be"):
        # Never a library type name: keep only the first, plain alternative.
        message = "must be" + message.removeprefix("Input should be").split(" or instance")[0]
    return message
