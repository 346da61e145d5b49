"""SPEC 6b: one set of books per entity, next to the consolidated ledger.

Each entity's books load on their own with Beancount and the invariants
plugin (no error), hold each consolidated transaction in exactly one entity's
books, and the entities' balances add up to the consolidated ledger's,
account by account (the transfers of a location that changed entity cancel
out). Checked on the demo and on random histories with a dated entity change.
"""

from __future__ import annotations

import datetime
import shutil
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from beancount import loader
from beancount.core import data
from books import DEMO, today_for, write_history
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pkgbooks.build import build
from pkgbooks.config import load_config
from pkgbooks.entities import TRANSFER_KIND, TRANSFER_ROLE, file_name, moves, wrapper_path
from pkgbooks.validate import validate


def _load(path: Path) -> list[Any]:
    entries, errors, _ = loader.load_file(str(path))
    assert not errors, [f"{e.source}: {e.message}" for e in errors[:5]]
    return entries


def _txn_key(t: data.Transaction) -> tuple[Any, ...]:
    return (t.date, t.meta.get("event"), t.narration,
            tuple((p.account, p.units.number) for p in t.postings))


def _balances(txns: list[data.Transaction]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for t in txns:
        for p in t.postings:
            out[p.account] += p.units.number
    return out


def check_entity_books(books: Path) -> dict[str, int]:
    """Every SPEC 6b property of a built books directory; transactions per entity."""
    config = load_config(books / "pkgbooks.toml")
    consolidated = [e for e in _load(books / "main.beancount")
                    if isinstance(e, data.Transaction)]
    per_entity: dict[str, list[data.Transaction]] = {}
    for entity in sorted(config.entities()):
        entries = _load(books / wrapper_path(entity))
        per_entity[entity] = [e for e in entries if isinstance(e, data.Transaction)]
    ordinary = Counter(_txn_key(t) for txns in per_entity.values() for t in txns
                       if t.meta.get("kind") != TRANSFER_KIND)
    assert ordinary == Counter(_txn_key(t) for t in consolidated)
    # Each transaction is in the books of the entity of its accounts' location that day.
    segment_location = {spec.account: loc for loc, spec in config.locations.items()}
    for entity, txns in per_entity.items():
        for t in txns:
            for p in t.postings:
                location = segment_location[p.account.split(":")[1]]
                if t.meta.get("kind") != TRANSFER_KIND:
                    assert config.entity_on(location, t.date) == entity, (entity, t)
    total: dict[str, Decimal] = defaultdict(Decimal)
    for txns in per_entity.values():
        for account, amount in _balances(txns).items():
            total[account] += amount
    expected = _balances(consolidated)
    for account in sorted(set(total) | set(expected)):
        if account.endswith(f":{TRANSFER_ROLE}"):
            assert total[account] == 0, account
        else:
            assert total[account] == expected.get(account, Decimal(0)), account
    # A location that moves holding a balance sheet transfers it, out of the old into the
    # new entity, if the move falls within the books (up to the end of their last month).
    transfers = [t for txns in per_entity.values() for t in txns
                 if t.meta.get("kind") == TRANSFER_KIND]
    last_month = max(p.name[:7] for p in (books / "ledger").glob("20*.beancount"))
    for move in moves(config):
        segment = config.account_of(move.location)
        before = _balances([t for t in consolidated if t.date < move.date])
        held = any(v for a, v in before.items()
                   if a.split(":")[1] == segment and a.startswith(("Assets", "Liabilities")))
        moved = [t for t in transfers
                 if t.date == move.date and t.meta.get("location") == move.location]
        within = move.date.isoformat()[:7] <= last_month
        assert len(moved) == (2 if held and within else 0), (move, held, within, len(moved))
    # In the end a location's balance sheet is wholly in the books of the entity it is in.
    end = max((t.date for t in consolidated), default=None)
    for location in {m.location for m in moves(config)}:
        if end is None:
            break
        segment = config.account_of(location)
        home = config.entity_on(location, end)
        for entity, txns in per_entity.items():
            left = {a: v for a, v in _balances(txns).items() if v and entity != home
                    and a.split(":")[1] == segment and a.startswith(("Assets", "Liabilities"))}
            assert not left, (location, entity, left)
    return {entity: len(txns) for entity, txns in per_entity.items()}


def test_demo_entity_books(tmp_path: Path) -> None:
    books = tmp_path / "demo"
    shutil.copytree(DEMO, books)
    result = build(books)
    assert not result.problems
    counts = check_entity_books(books)
    assert set(counts) == {"franchise-1", "franchise-2"}
    assert all(counts.values())


def test_demo_transfer_of_a_moving_location(tmp_path: Path) -> None:
    """loc-22 joins franchise-1 on 2026-05-01: its balance sheet moves, its income stays."""
    books = tmp_path / "demo"
    shutil.copytree(DEMO, books)
    assert not build(books).problems
    old = [e for e in _load(books / wrapper_path("franchise-2"))
           if isinstance(e, data.Transaction)]
    new = [e for e in _load(books / wrapper_path("franchise-1"))
           if isinstance(e, data.Transaction)]
    before = _balances([t for t in old if str(t.date) < "2026-05-01"])
    leave = [t for t in old if t.meta.get("kind") == TRANSFER_KIND]
    arrive = [t for t in new if t.meta.get("kind") == TRANSFER_KIND]
    assert len(leave) == len(arrive) == 1
    assert str(leave[0].date) == str(arrive[0].date) == "2026-05-01"
    moved = _balances(arrive)
    for account, amount in before.items():
        if ":Loc22:" in account and account.startswith(("Assets", "Liabilities")):
            assert moved[account] == amount, account
        if ":Loc22:" in account and account.startswith(("Income", "Expenses")):
            assert account not in moved
    # After the transfer franchise-2 holds nothing of loc-22's balance sheet.
    after = _balances([t for t in old])
    assert all(v == 0 for a, v in after.items()
               if ":Loc22:" in a and a.startswith(("Assets", "Liabilities"))
               and not any(str(t.date) >= "2026-05-01" and any(p.account == a for p in t.postings)
                           for t in old if t.meta.get("kind") != TRANSFER_KIND))


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_random_histories_entity_books(seed: int, tmp_path: Path) -> None:
    books = tmp_path / "books"
    history = write_history(seed, books)
    result = build(books, today=today_for(history))
    assert not result.problems, result.problems[:3]
    check_entity_books(books)


def test_unsafe_entity_names_become_safe_file_names() -> None:
    assert file_name("franchise-1") == "franchise-1"
    assert file_name("../etc") == "%2E%2E%2Fetc"
    assert file_name("Nord & Süd") == "Nord%20%26%20S%C3%BCd"


def test_a_failed_build_keeps_the_entity_books_of_the_ledger(tmp_path: Path) -> None:
    """The entity books live in ledger/ (swapped whole) and stay with the ledger they match."""
    books = tmp_path / "demo"
    shutil.copytree(DEMO, books)
    assert not build(books).problems
    before = {p: p.read_bytes() for p in sorted(books.rglob("*.beancount"))}
    with open(books / "events" / "zz-bad.jsonl", "w", encoding="utf-8") as handle:
        handle.write('{"type": "payment", "id": "bad-1", "date": "2026-05-30", '
                     '"location": "loc-11", "invoice": "NO-SUCH", "amount": "1.00", '
                     '"method": "cash"}\n')
    assert build(books).problems
    assert {p: p.read_bytes() for p in sorted(books.rglob("*.beancount"))} == before


def test_an_entity_no_longer_in_the_books_loses_its_books(tmp_path: Path) -> None:
    books = tmp_path / "demo"
    shutil.copytree(DEMO, books)
    assert not build(books).problems
    config = books / "pkgbooks.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'entity = "franchise-2"', 'entity = "franchise-9"'), encoding="utf-8")
    assert not build(books).problems
    assert not (books / wrapper_path("franchise-2")).exists()
    assert (books / wrapper_path("franchise-9")).exists()
    check_entity_books(books)


@pytest.mark.slow
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), move=st.booleans())
def test_entity_books_add_up_on_any_history(seed: int, move: bool, tmp_path: Path) -> None:
    """Property: whatever the business and history, the entity books load and add up."""
    books = tmp_path / f"books-{seed}-{move}"
    if books.exists():
        shutil.rmtree(books)
    history = write_history(seed, books, move=move)
    result = build(books, today=today_for(history))
    assert not result.problems, result.problems[:3]
    check_entity_books(books)


def test_validate_catches_a_hand_edit_of_an_entity_book(tmp_path: Path) -> None:
    books = tmp_path / "demo"
    shutil.copytree(DEMO, books)
    assert not build(books).problems
    assert validate(books).errors == []
    month = books / "ledger" / "entities" / "franchise-2" / "2026-02.beancount"
    month.write_text(month.read_text(encoding="utf-8").replace('"Liam', '"Lyam', 1),
                     encoding="utf-8")
    (books / wrapper_path("franchise-1")).unlink()
    errors = [str(e) for e in validate(books).errors]
    assert any(str(month) in e and "line" in e for e in errors), errors
    assert any(wrapper_path("franchise-1") in e and "missing" in e for e in errors), errors


def test_a_location_that_moves_twice_takes_its_whole_balance_sheet_each_time(
        tmp_path: Path) -> None:
    """loc-22: franchise-2 -> franchise-1 on May 1st -> franchise-2 again on May 15th."""
    books = tmp_path / "demo"
    shutil.copytree(DEMO, books)
    config = books / "pkgbooks.toml"
    text = config.read_text(encoding="utf-8")
    anchor = '[[locations.loc-22.changes]]\nfrom = 2026-05-01\nentity = "franchise-1"\n'
    assert anchor in text
    config.write_text(text.replace(anchor, anchor + '\n[[locations.loc-22.changes]]\n'
                                   'from = 2026-05-15\nentity = "franchise-2"\n'),
                      encoding="utf-8")
    assert not build(books, as_of=datetime.date(2026, 5, 31)).problems
    check_entity_books(books)
