"""Each rule as ledger text in, ledger text out, in memory: a small state made by a few
events, one event, and the transactions it writes as Beancount text (the SPEC 4 rules
and the SPEC 8 worked examples; every figure worked out by hand from the SPEC)."""

from __future__ import annotations

from typing import Any

from books import (
    assert_ledger,
    config_text,
    d,
    expire,
    ledger_text,
    outcome_of,
    pay,
    redeem,
    refund,
    refusal_of,
    sale,
)
from spec_examples import P1, P4, P5

from pkgbooks.state import Add, SetClosed, SetStatus

OPEN = config_text(P1, redeem_open=True)
CLOSED_ONLY = config_text(P1)


def void(eid: str, day: int, target: str) -> dict[str, Any]:
    return {"type": "void", "id": eid, "date": d(day), "target": target, "reason": "keyed twice"}


def visit(eid: str, day: int, instance: str, loc: str = "loc-11") -> dict[str, Any]:
    return {"type": "redemption", "id": eid, "date": d(day), "location": loc,
            "instance": instance, "item": "visit"}


def test_a_sale_writes_its_terms_and_moves_no_money() -> None:
    assert_ledger(ledger_text(OPEN, [], sale("s1", 1, "K1", "P-1")), """
        2026-01-01 * "Sale of P-1 (K1) on invoice INV-K1" ^K1
          event: "s1"
          kind: "sale"
          location: "loc-11"
          invoice: "INV-K1"
          customer: "cust-1"
          instance: "K1"
          package: "P-1"
          price: "100.00"
          tax: "0.00"
    """)


def test_spec_8_1_a_first_partial_payment_goes_to_deposits() -> None:
    assert_ledger(ledger_text(OPEN, [sale("s1", 1, "K1", "P-1")], pay("p1", 1, "K1", "20.00")), """
        2026-01-01 * "Payment on invoice INV-K1 (card)" ^K1
          event: "p1"
          kind: "payment"
          location: "loc-11"
          invoice: "INV-K1"
          customer: "cust-1"
          instance: "K1"
          package: "P-1"
          method: "card"
          Assets:Loc11:Cash:Card                20.00 USD
          Liabilities:Loc11:Packages:Deposits  -20.00 USD
    """)


def test_spec_8_2_the_closing_payment_goes_to_deferred_and_moves_the_deposits() -> None:
    history = [sale("s1", 1, "K1", "P-1"), pay("p1", 1, "K1", "30.00")]
    assert_ledger(ledger_text(OPEN, history, pay("p2", 5, "K1", "70.00")), """
        2026-01-05 * "Payment on invoice INV-K1 (card)" ^K1
          event: "p2"
          kind: "payment"
          location: "loc-11"
          invoice: "INV-K1"
          customer: "cust-1"
          instance: "K1"
          package: "P-1"
          method: "card"
          Assets:Loc11:Cash:Card                70.00 USD
          Liabilities:Loc11:Packages:Deferred  -70.00 USD

        2026-01-05 * "Invoice INV-K1 closed: deposits of K1 to deferred" ^K1
          event: "p2"
          kind: "close"
          location: "loc-11"
          invoice: "INV-K1"
          customer: "cust-1"
          instance: "K1"
          package: "P-1"
          Liabilities:Loc11:Packages:Deposits   30.00 USD
          Liabilities:Loc11:Packages:Deferred  -30.00 USD
    """)


def test_a_redemption_recognises_a_quarter_of_p1() -> None:
    history = [sale("s1", 1, "K1", "P-1"), pay("p1", 1, "K1", "100.00")]
    assert_ledger(ledger_text(OPEN, history, visit("r1", 2, "K1")), """
        2026-01-02 * "Redemption of 1 visit from K1 at loc-11" ^K1
          event: "r1"
          kind: "redemption"
          location: "loc-11"
          customer: "cust-1"
          instance: "K1"
          package: "P-1"
          item: "visit"
          quantity: "1"
          Liabilities:Loc11:Packages:Deferred   25.00 USD
          Income:Loc11:Packages:Redemptions    -25.00 USD
    """)


def test_spec_8_4_a_service_at_another_franchise_owes_five_percent() -> None:
    config = config_text(P4.format(start="2026-01-01"))
    history = [sale("s1", 1, "K1", "P-4"), pay("p1", 1, "K1", "140.00")]
    event = {"type": "redemption", "id": "r1", "date": d(2), "location": "loc-21",
             "instance": "K1", "item": "massage"}
    assert_ledger(ledger_text(config, history, event), """
        2026-01-02 * "Redemption of 1 massage from K1 at loc-21" ^K1
          event: "r1"
          kind: "redemption"
          location: "loc-21"
          source: "loc-11"
          customer: "cust-1"
          instance: "K1"
          package: "P-4"
          item: "massage"
          quantity: "1"
          Liabilities:Loc11:Packages:Deferred   70.00 USD
          Income:Loc11:Packages:Redemptions    -70.00 USD

        2026-01-02 * "Reconciliation: loc-11 owes loc-21 for 1 massage of K1 at loc-21" ^K1
          event: "r1"
          kind: "reconciliation"
          location: "loc-11"
          source: "loc-11"
          instance: "K1"
          package: "P-4"
          item: "massage"
          category: "service"
          quantity: "1"
          price: "70.00"
          rate: "0.05"
          Expenses:Loc11:Reconciliation     3.50 USD
          Liabilities:Loc11:DueTo:Loc21    -3.50 USD

        2026-01-02 * "Reconciliation: loc-11 owes loc-21 for 1 massage of K1 at loc-21" ^K1
          event: "r1"
          kind: "reconciliation"
          location: "loc-21"
          source: "loc-11"
          instance: "K1"
          package: "P-4"
          item: "massage"
          category: "service"
          quantity: "1"
          price: "70.00"
          rate: "0.05"
          Assets:Loc21:DueFrom:Loc11        3.50 USD
          Income:Loc21:Reconciliation      -3.50 USD
    """)


def test_an_early_expiry_takes_what_is_left_to_breakage() -> None:
    config = config_text(P5)
    history = [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"), redeem("r1", 2, "K1")]
    # 100.00 over three haircuts: 33.34 + 33.33 + 33.33; one used, 66.66 left.
    assert_ledger(ledger_text(config, history, expire("e1", 3, "K1")), """
        2026-01-03 * "Expiry of K1 (cuts-3)" ^K1
          event: "e1"
          kind: "expiry"
          location: "loc-11"
          invoice: "INV-K1"
          customer: "cust-1"
          instance: "K1"
          package: "cuts-3"
          Liabilities:Loc11:Packages:Deferred   66.66 USD
          Income:Loc11:Packages:Breakage       -66.66 USD
    """)


def test_a_refund_forfeits_what_it_does_not_pay_back() -> None:
    history = [sale("s1", 1, "K1", "P-1"), pay("p1", 1, "K1", "100.00"), visit("r1", 2, "K1")]
    # 75.00 left; 60.00 paid back; 15.00 forfeited.
    assert_ledger(ledger_text(OPEN, history, refund("f1", 3, "K1", "60.00")), """
        2026-01-03 * "Refund of K1 (P-1)" ^K1
          event: "f1"
          kind: "refund"
          location: "loc-11"
          invoice: "INV-K1"
          customer: "cust-1"
          instance: "K1"
          package: "P-1"
          method: "cash"
          Liabilities:Loc11:Packages:Deferred   75.00 USD
          Income:Loc11:Packages:Breakage       -15.00 USD
          Assets:Loc11:Cash:Cash               -60.00 USD
    """)


def test_a_void_mirrors_its_target_and_undoes_its_changes() -> None:
    history = [sale("s1", 1, "K1", "P-1"), pay("p1", 1, "K1", "20.00")]
    event = void("v1", 2, "p1")
    assert_ledger(ledger_text(OPEN, history, event), """
        2026-01-02 * "Void of p1 (payment): keyed twice" ^K1
          event: "v1"
          kind: "void"
          location: "loc-11"
          invoice: "INV-K1"
          customer: "cust-1"
          instance: "K1"
          package: "P-1"
          method: "card"
          target: "p1"
          target_kind: "payment"
          reason: "keyed twice"
          Assets:Loc11:Cash:Card               -20.00 USD
          Liabilities:Loc11:Packages:Deposits   20.00 USD
    """)
    payment = outcome_of(OPEN, history[:1], history[1])
    undone = outcome_of(OPEN, history, event).undone
    assert undone == tuple(reversed(payment.changes))  # the payment's own data, last first


def test_a_payment_that_closes_the_invoice_says_so_as_data() -> None:
    outcome = outcome_of(CLOSED_ONLY, [sale("s1", 1, "K1", "P-1")], pay("p1", 1, "K1", "100.00"))
    assert outcome.changes == (  # amounts in cents, as the engine keeps them
        Add("line", "INV-K1", "paid", 100_00, 0),
        Add("line", "INV-K1", "tax_paid", 0, 0),
        Add("package", "K1", "ir_done", 0),
        Add("package", "K1", "tax_paid", 0),
        Add("package", "K1", "liability", 100_00),
        SetClosed("INV-K1", True),
    )


def test_the_last_unit_ends_the_package() -> None:
    history = [sale("s1", 1, "K1", "P-1"), pay("p1", 1, "K1", "100.00"),
               *[visit(f"r{i}", 2, "K1") for i in range(3)]]
    outcome = outcome_of(OPEN, history, visit("r9", 3, "K1"))
    assert SetStatus("K1", "live", "used up") in outcome.changes


def test_refusals_come_alone() -> None:
    history = [sale("s1", 1, "K1", "P-1")]
    assert refusal_of(OPEN, history, pay("p1", 1, "K1", "100.01")) == (
        "payment 100.01 exceeds what invoice 'INV-K1' still owes (100.00)")
    assert refusal_of(CLOSED_ONLY, history + [pay("p1", 1, "K1", "20.00")],
                      visit("r1", 2, "K1")) == (
        "invoice 'INV-K1' of 'K1' is not fully paid and redeem_open_packages is false")
