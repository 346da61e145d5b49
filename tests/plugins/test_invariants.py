"""The invariants plugin: ledger text in, Beancount errors out (SPEC 6a, 4.7).

Each test is a small hand-written ledger loaded by Beancount's own loader with
`plugin "pkgbooks.plugins.invariants"`, as `bean-check` loads the books.
"""

from __future__ import annotations

import datetime
import textwrap
from collections.abc import Callable
from decimal import Decimal

from beancount import loader
from hypothesis import given, settings
from hypothesis import strategies as st

from pkgbooks.plugins.invariants import InvariantError

HEAD = """\
plugin "pkgbooks.plugins.invariants"
2026-01-01 open Assets:Loc11:Cash:Cash USD
2026-01-01 open Assets:Loc12:Cash:Cash USD
2026-01-01 open Liabilities:Loc11:Packages:Deposits USD
2026-01-01 open Liabilities:Loc11:Packages:Deferred USD
2026-01-01 open Liabilities:Loc11:Packages:Unclaimed USD
2026-01-01 open Income:Loc11:Packages:Redemptions USD
2026-01-01 open Income:Loc11:Packages:Breakage USD
2026-01-01 open Liabilities:Loc12:DueTo:Loc11 USD
2026-01-01 open Assets:Loc11:DueFrom:Loc12 USD
2026-01-01 open Expenses:Office USD
2026-01-01 open Equity:Owner USD
"""

SALE = """
2026-01-05 * "Payment on PK-1" ^PK-1
  event: "p-1"
  kind: "payment"
  instance: "PK-1"
  Assets:Loc11:Cash:Cash                  100.00 USD
  Liabilities:Loc11:Packages:Deferred    -100.00 USD
"""


def errors_of(text: str) -> list[InvariantError]:
    _entries, errors, _options = loader.load_string(HEAD + textwrap.dedent(text))
    assert all(isinstance(e, InvariantError) for e in errors), errors
    return errors


def test_clean_books_give_no_error() -> None:
    assert errors_of(SALE + """
2026-01-06 * "Redemption of PK-1" ^PK-1
  event: "r-1"
  kind: "redemption"
  instance: "PK-1"
  Liabilities:Loc11:Packages:Deferred     100.00 USD
  Income:Loc11:Packages:Redemptions      -100.00 USD
""") == []


def test_liability_below_zero_names_the_entry() -> None:
    errors = errors_of(SALE + """
2026-01-06 * "Hand-made: too much redeemed"
  event: "adj-1"
  kind: "redemption"
  Liabilities:Loc11:Packages:Deferred     130.00 USD
  Income:Loc11:Packages:Redemptions      -130.00 USD
""")
    assert len(errors) == 1
    assert "Liabilities:Loc11:Packages:Deferred is below 0.00 at the end of 2026-01-06" in (
        errors[0].message)
    assert "-30.00" in errors[0].message
    assert errors[0].entry is not None and errors[0].entry.narration == (
        "Hand-made: too much redeemed")
    assert errors[0].source["lineno"] > 0


def test_a_package_below_zero_while_its_account_is_not() -> None:
    errors = errors_of(SALE + """
2026-01-05 * "Payment on PK-2" ^PK-2
  event: "p-2"
  kind: "payment"
  instance: "PK-2"
  Assets:Loc11:Cash:Cash                  50.00 USD
  Liabilities:Loc11:Packages:Deferred    -50.00 USD

2026-01-07 * "Redemption of PK-2" ^PK-2
  event: "r-2"
  kind: "redemption"
  instance: "PK-2"
  Liabilities:Loc11:Packages:Deferred     60.00 USD
  Income:Loc11:Packages:Redemptions      -60.00 USD
""")
    assert [e.message.split(":")[0] for e in errors] == ["package PK-2's liability is below 0.00 at the end of 2026-01-07"]  # noqa: E501
    assert "-10.00" in errors[0].message


def test_below_zero_within_a_day_but_not_at_its_end_is_fine() -> None:
    # Beancount orders a day's entries by line; only the end of the day counts.
    assert errors_of("""
2026-01-05 * "Redemption first"
  event: "r-1"
  kind: "redemption"
  Liabilities:Loc11:Packages:Unclaimed    20.00 USD
  Income:Loc11:Packages:Breakage         -20.00 USD

2026-01-05 * "Expiry to unclaimed"
  event: "x-1"
  kind: "expiry"
  Liabilities:Loc11:Packages:Unclaimed   -20.00 USD
  Income:Loc11:Packages:Breakage          20.00 USD
""") == []


def test_a_broken_rule_is_reported_once_not_every_day_after() -> None:
    errors = errors_of("""
2026-01-05 * "Hand-made"
  event: "adj-1"
  kind: "expiry"
  Liabilities:Loc11:Packages:Unclaimed     5.00 USD
  Income:Loc11:Packages:Breakage          -5.00 USD

2026-01-09 * "Hand-made again"
  event: "adj-2"
  kind: "expiry"
  Liabilities:Loc11:Packages:Unclaimed     1.00 USD
  Income:Loc11:Packages:Breakage          -1.00 USD
""")
    assert len(errors) == 1
    assert "2026-01-05" in errors[0].message


def test_due_to_without_due_from_does_not_eliminate() -> None:
    errors = errors_of("""
2026-02-03 * "Hand-made: Loc12 owes Loc11"
  event: "adj-7"
  kind: "reconciliation"
  Liabilities:Loc12:DueTo:Loc11          -40.00 USD
  Assets:Loc12:Cash:Cash                  40.00 USD
""")
    assert len(errors) == 1
    message = errors[0].message
    assert "Assets:Loc11:DueFrom:Loc12 + Liabilities:Loc12:DueTo:Loc11 = -40.00" in message
    assert "2026-02-03" in message
    assert errors[0].entry is not None and errors[0].entry.meta["event"] == "adj-7"


def test_due_to_and_due_from_on_the_same_day_eliminate() -> None:
    assert errors_of("""
2026-02-03 * "Payment at Loc12 for a Loc11 package (Loc12's half)"
  event: "p-9"
  kind: "payment"
  Assets:Loc12:Cash:Cash                  40.00 USD
  Liabilities:Loc12:DueTo:Loc11          -40.00 USD

2026-02-03 * "Payment at Loc12 for a Loc11 package (Loc11's half)"
  event: "p-9"
  kind: "payment"
  Assets:Loc11:DueFrom:Loc12              40.00 USD
  Liabilities:Loc11:Packages:Deferred    -40.00 USD
""") == []


def test_pairs_outside_the_configured_locations_are_not_checked() -> None:
    text = HEAD.replace('invariants"', 'invariants" "Loc11"') + textwrap.dedent("""
2026-02-03 * "Loc12's half only (entity books of Loc12 would hold the other)"
  event: "p-9"
  kind: "payment"
  Assets:Loc12:Cash:Cash                  40.00 USD
  Liabilities:Loc12:DueTo:Loc11          -40.00 USD
""")
    _entries, errors, _options = loader.load_string(text)
    assert errors == []


def test_transaction_without_event_and_kind() -> None:
    errors = errors_of("""
2026-03-01 * "Hand-made cash count"
  Assets:Loc11:Cash:Cash                  -3.00 USD
  Expenses:Office                          3.00 USD
""")
    assert len(errors) == 1
    assert "without 'event' and 'kind' metadata" in errors[0].message
    assert errors[0].entry is not None and errors[0].entry.narration == "Hand-made cash count"


def test_transaction_without_kind_only() -> None:
    errors = errors_of("""
2026-03-01 * "Hand-made"
  event: "e-1"
  Assets:Loc11:Cash:Cash                  -3.00 USD
  Expenses:Office                          3.00 USD
""")
    assert [e.message.split("without ")[1][:6] for e in errors] == ["'kind'"]


def test_transactions_on_other_accounts_need_no_metadata() -> None:
    assert errors_of("""
2026-03-01 * "The owner's own bookkeeping"
  Expenses:Office                          3.00 USD
  Equity:Owner                            -3.00 USD
""") == []


def test_the_plugin_returns_the_entries_unchanged() -> None:
    plain, _, _ = loader.load_string(HEAD.replace("plugin", "; plugin") + SALE)
    checked, _, _ = loader.load_string(HEAD + SALE)
    assert checked == plain


# Property: over any history of one package's liability, the plugin reports exactly the days
# on which the liability goes from 0.00 or more to below 0.00 (once per breach), and nothing
# else; a pair of locations likewise for every day its due-to / due-from stop eliminating.

day_moves = st.lists(
    st.lists(st.integers(min_value=-5_000, max_value=5_000), min_size=1, max_size=3),
    min_size=1, max_size=12,
)


def _breaches(days: list[list[int]], bad: Callable[[int], bool]) -> list[int]:
    balance, broken, found = 0, False, []
    for number, moves in enumerate(days):
        balance += sum(moves)
        if bad(balance) and not broken:
            found.append(number)
        broken = bad(balance)
    return found


def _ledger(days: list[list[int]], posting: Callable[[int], str]) -> str:
    text = []
    for number, moves in enumerate(days):
        date = datetime.date(2026, 1, 1) + datetime.timedelta(days=number)
        for i, cents in enumerate(moves):
            text.append(f'{date} * "move {number}.{i}" ^PK-1\n  event: "e-{number}-{i}"\n'
                        f'  kind: "payment"\n  instance: "PK-1"\n{posting(cents)}\n')
    return "\n".join(text)


@settings(max_examples=60, deadline=None)
@given(day_moves)
def test_liability_breaches_are_the_days_it_goes_below_zero(days: list[list[int]]) -> None:
    def posting(cents: int) -> str:
        amount = Decimal(cents) / 100
        return (f"  Liabilities:Loc11:Packages:Deferred  {-amount:.2f} USD\n"
                f"  Assets:Loc11:Cash:Cash  {amount:.2f} USD\n")

    errors = errors_of(_ledger(days, posting))
    expected = _breaches(days, lambda liability: liability < 0)
    # Each breach is reported for the account and for the package PK-1.
    assert sorted(e.entry.date for e in errors if e.entry is not None) == sorted(
        datetime.date(2026, 1, 1) + datetime.timedelta(days=d) for d in expected for _ in "ap")


@settings(max_examples=60, deadline=None)
@given(day_moves)
def test_due_breaches_are_the_days_the_pair_stops_eliminating(days: list[list[int]]) -> None:
    def posting(cents: int) -> str:
        amount = Decimal(cents) / 100
        return (f"  Liabilities:Loc12:DueTo:Loc11  {-amount:.2f} USD\n"
                f"  Assets:Loc12:Cash:Cash  {amount:.2f} USD\n")

    errors = errors_of(_ledger(days, posting))
    expected = _breaches(days, lambda owed: owed != 0)
    assert [e.entry.date for e in errors if e.entry is not None] == [
        datetime.date(2026, 1, 1) + datetime.timedelta(days=d) for d in expected]
