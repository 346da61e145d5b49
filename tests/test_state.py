"""The books state is plain data, and every change a rule asks for can be undone from
the data alone (what a void does): apply then undo gives the state back, equal."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal
from typing import Any

import pytest
from books import config_text, expire, pay, redeem, refund, rule_context, sale
from spec_examples import P5

from pkgbooks.engine import apply_rule, commit
from pkgbooks.events import EVENT_ADAPTER
from pkgbooks.state import share_values, shared_copy

CONFIG = config_text(P5, redeem_open=True)
BASE = [sale("s1", 1, "K1"), sale("s2", 1, "K2"), pay("p1", 1, "K1", "40.00")]


def outcome_after(history: list[dict[str, Any]], event: dict[str, Any]) -> tuple[Any, Any]:
    ctx = rule_context(CONFIG, history)
    return ctx, apply_rule(ctx, EVENT_ADAPTER.validate_python(event))


@pytest.mark.parametrize("event", [
    pay("p2", 2, "K1", "60.00"),  # closes the invoice
    pay("p2", 2, "K2", "10.00"),
    redeem("r1", 2, "K1"),
    refund("f1", 2, "K1", "30.00"),
    expire("e1", 2, "K1"),
    sale("s3", 2, "K3"),
], ids=["closing payment", "payment", "redemption", "refund", "expiry", "sale"])
def test_apply_then_undo_gives_the_state_back(event: dict[str, Any]) -> None:
    ctx, outcome = outcome_after(BASE, event)
    assert not outcome.refusals
    before = copy.deepcopy(ctx.state)
    for change in outcome.changes:
        ctx.state.apply(change)
    assert ctx.state != before
    for change in reversed(outcome.changes):
        ctx.state.undo(change)
    if event["type"] == "sale":  # undoing a sale leaves its packages as voided tombstones
        assert ctx.state.finished["K3"].status == "voided"
        return
    assert ctx.state == before


def test_the_state_is_plain_data_that_survives_a_round_trip() -> None:
    history = [*BASE, redeem("r1", 2, "K1"), pay("p2", 3, "K1", "60.00"),
               {"type": "void", "id": "v1", "date": "2026-01-04", "target": "p2",
                "reason": "keyed twice"}]
    ctx = rule_context(CONFIG, history)
    copied = pickle.loads(pickle.dumps(ctx.state))
    assert copied == ctx.state
    # The copy goes on exactly as the original does.
    event = EVENT_ADAPTER.validate_python(pay("p3", 5, "K1", "60.00"))
    original, again = apply_rule(ctx, event), apply_rule(
        type(ctx)(ctx.config, ctx.accounts, copied), event)
    assert original == again
    commit(ctx, event, original)


def test_an_ended_package_shares_its_values_without_changing_one() -> None:
    ctx = rule_context(CONFIG, [*BASE, expire("e1", 2, "K1"), expire("e2", 2, "K2")])
    k1, k2 = ctx.state.finished["K1"], ctx.state.finished["K2"]
    assert k1.status == k2.status == "expired"
    before = copy.deepcopy(k1)
    share_values(k1)
    assert k1 == before
    assert k1.price is k2.price and k1.liability is k2.liability  # one copy of each value
    # Equal Decimals of another exponent are not shared: the text would differ.
    assert str(shared_copy(Decimal("0"))) == "0" and str(shared_copy(Decimal("0.00"))) == "0.00"
    assert str(shared_copy(Decimal("-0.00"))) == "-0.00"
