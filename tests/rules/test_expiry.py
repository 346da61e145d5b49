"""SPEC 4.4: packages expire on sale date + validity_days + grace_days; the build generates the
expiry (`expiry:<instance>`) up to --as-of; the balance goes to Breakage or Unclaimed;
an `expiry` event expires a package early."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from books import (
    bal,
    build_in_memory,
    config_text,
    d,
    expire,
    pay,
    problems_of,
    redeem,
    refund,
    sale,
    txns,
    write_books,
)

D = Decimal
DAY = datetime.date

CATALOG = """
[items.haircut]
name = "Haircut"
category = "service"
price = "40.00"

[packages.cuts-3]
name = "Three haircuts"
price = "100.00"
validity_days = 10
grace_days = 5
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.cuts-30]
name = "Three haircuts, 30 days"
price = "100.00"
validity_days = 30
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.cuts-40]
name = "Three haircuts, 30 days + 10 grace"
price = "100.00"
validity_days = 30
grace_days = 10
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]

[packages.forever]
name = "Three haircuts, no expiry"
price = "100.00"
items = [ { item = "haircut", quantity = 3, price = "100.00" } ]
"""

DEPOSITS = "Liabilities:Loc11:Packages:Deposits"
DEFERRED = "Liabilities:Loc11:Packages:Deferred"
UNCLAIMED = "Liabilities:Loc11:Packages:Unclaimed"
BREAKAGE = "Income:Loc11:Packages:Breakage"


def books_of(tmp_path: Path, events: list[dict[str, Any]], **policy: Any) -> Path:
    return write_books(tmp_path / "books", config_text(CATALOG, **policy), events)


def postings(t: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for p in t.postings:
        out[p.account] = out.get(p.account, D(0)) + p.units.number
    return out


# Sold and paid on 2026-01-01, one haircut (33.34) used on the 5th: 66.66 left.
# Expires on 2026-01-01 + 10 + 5 = 2026-01-16.
USED_ONE = [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"), redeem("r1", 5, "K1")]


def test_automatic_expiry_on_the_expiry_date(tmp_path: Path) -> None:
    books = books_of(tmp_path, USED_ONE)
    result = build_in_memory(books, as_of=DAY(2026, 1, 16))
    (t,) = txns(books, "expiry")
    assert t.date == DAY(2026, 1, 16)
    assert postings(t) == {DEFERRED: D("66.66"), BREAKAGE: D("-66.66")}
    assert t.links == {"K1"}
    for key, value in {"event": "expiry:K1", "kind": "expiry", "location": "loc-11",
                       "instance": "K1", "package": "cuts-3", "customer": "cust-1",
                       "invoice": "INV-K1"}.items():
        assert t.meta[key] == value, key
    assert result.counts.expiries == 1
    assert bal(books, DEFERRED) == D("0.00")


def test_no_expiry_before_the_expiry_date(tmp_path: Path) -> None:
    books = books_of(tmp_path, USED_ONE)
    result = build_in_memory(books, as_of=DAY(2026, 1, 15))
    assert txns(books, "expiry") == []
    assert result.counts.expiries == 0
    assert bal(books, DEFERRED) == D("-66.66")


def test_expiry_is_dated_on_its_day_whatever_the_as_of(tmp_path: Path) -> None:
    books = books_of(tmp_path, USED_ONE)
    build_in_memory(books, as_of=DAY(2026, 3, 31))
    (t,) = txns(books, "expiry")
    assert t.date == DAY(2026, 1, 16)
    assert bal(books, BREAKAGE) == D("-66.66")


@pytest.mark.parametrize(("last_day", "expired"), [(15, False), (16, True), (20, True)])
def test_default_as_of_is_the_latest_event_date(
    tmp_path: Path, last_day: int, expired: bool
) -> None:
    books = books_of(tmp_path, [*USED_ONE, sale("s2", last_day, "K2", package="forever")])
    result = build_in_memory(books)
    assert result.as_of == DAY(2026, 1, last_day)
    assert len(txns(books, "expiry")) == (1 if expired else 0)


def test_expired_balance_kept_as_unclaimed_under_the_liability_policy(tmp_path: Path) -> None:
    books = books_of(tmp_path, USED_ONE, expired_balance="liability")
    build_in_memory(books, as_of=DAY(2026, 1, 31))
    (t,) = txns(books, "expiry")
    assert t.meta["event"] == "expiry:K1"
    assert postings(t) == {DEFERRED: D("66.66"), UNCLAIMED: D("-66.66")}
    assert bal(books, BREAKAGE) == D("0.00")


def test_without_grace_it_expires_at_sale_plus_validity(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 20, "K1", package="cuts-30"),
                                pay("p1", 20, "K1", "100.00")])
    build_in_memory(books, as_of=DAY(2026, 2, 19))
    (t,) = txns(books, "expiry")
    assert t.date == DAY(2026, 2, 19)  # 2026-01-20 + 30 days
    assert postings(t) == {DEFERRED: D("100.00"), BREAKAGE: D("-100.00")}


def test_validity_plus_grace_across_months(tmp_path: Path) -> None:
    # 2026-01-20 + 30 + 10 days = 2026-03-01 (February 2026 has 28 days).
    books = books_of(tmp_path, [sale("s1", 20, "K1", package="cuts-40"),
                                pay("p1", 20, "K1", "100.00")])
    build_in_memory(books, as_of=DAY(2026, 2, 28))
    assert txns(books, "expiry") == []
    build_in_memory(books, as_of=DAY(2026, 3, 1))
    (t,) = txns(books, "expiry")
    assert t.date == DAY(2026, 3, 1)


def test_a_package_without_validity_never_expires(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1", package="forever"),
                                pay("p1", 1, "K1", "100.00")])
    build_in_memory(books, as_of=DAY(2030, 12, 31))
    assert txns(books, "expiry") == []
    assert bal(books, DEFERRED) == D("-100.00")


def test_explicit_expiry_expires_early(tmp_path: Path) -> None:
    books = books_of(tmp_path, [*USED_ONE, expire("e1", 8, "K1")])
    build_in_memory(books, as_of=DAY(2026, 2, 28))
    (t,) = txns(books, "expiry")
    assert t.meta["event"] == "e1" and t.date == DAY(2026, 1, 8)
    assert postings(t) == {DEFERRED: D("66.66"), BREAKAGE: D("-66.66")}
    assert t.links == {"K1"}


def test_after_expiry_the_package_is_over(tmp_path: Path) -> None:
    books = books_of(tmp_path, [*USED_ONE, expire("e1", 8, "K1"), redeem("r2", 9, "K1"),
                                refund("f1", 9, "K1", "10.00"), expire("e2", 10, "K1")])
    lines = problems_of(books)
    assert [line.split(": ")[1] for line in lines] == ["event r2", "event f1", "event e2"]
    assert all("expired" in line for line in lines)


def test_explicit_expiry_after_the_automatic_one_is_refused(tmp_path: Path) -> None:
    books = books_of(tmp_path, [*USED_ONE, expire("e1", 17, "K1")])
    (line,) = problems_of(books)
    assert line.startswith(f"{books / 'events' / 'events.jsonl'}:4: event e1: ")
    assert "expired" in line


def test_explicit_expiry_refusals(tmp_path: Path) -> None:
    books = books_of(tmp_path, [
        sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
        redeem("r1", 2, "K1"), redeem("r2", 2, "K1"), redeem("r3", 2, "K1"),
        expire("e1", 3, "K1"),  # used up
        expire("e2", 3, "K9"),  # unknown
    ])
    lines = problems_of(books)
    assert [line.split(": ")[1] for line in lines] == ["event e1", "event e2"]
    assert "used up" in lines[0]
    assert "K9" in lines[1]


def test_expiry_of_a_package_on_an_open_invoice_takes_its_deposits(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "40.00")])
    build_in_memory(books, as_of=DAY(2026, 1, 31))
    (t,) = txns(books, "expiry")
    assert postings(t) == {DEPOSITS: D("40.00"), BREAKAGE: D("-40.00")}
    assert bal(books, DEPOSITS) == D("0.00")


def test_events_of_the_expiry_date_come_before_the_automatic_expiry(tmp_path: Path) -> None:
    # A refund on 2026-01-16 applies first (66.66 left; 50.00 back, 16.66 forfeited),
    # so there is nothing left to expire.
    books = books_of(tmp_path, [*USED_ONE, refund("f1", 16, "K1", "50.00")])
    result = build_in_memory(books)
    assert txns(books, "expiry") == []
    assert result.counts.expiries == 0
    assert bal(books, BREAKAGE) == D("-16.66")


def test_a_used_up_package_does_not_expire(tmp_path: Path) -> None:
    books = books_of(tmp_path, [sale("s1", 1, "K1"), pay("p1", 1, "K1", "100.00"),
                                redeem("r1", 2, "K1"), redeem("r2", 3, "K1"),
                                redeem("r3", 4, "K1")])
    build_in_memory(books, as_of=DAY(2026, 6, 30))
    assert txns(books, "expiry") == []


def test_events_after_the_as_of_date_are_left_out(tmp_path: Path) -> None:
    books = books_of(tmp_path, [*USED_ONE, redeem("r2", 12, "K1")])
    result = build_in_memory(books, as_of=DAY(2026, 1, 10))
    assert result.counts.after_as_of == 1
    assert [t.meta["event"] for t in txns(books, "redemption")] == ["r1"]
    assert bal(books, DEFERRED) == D("-66.66")


def test_an_event_id_that_collides_with_a_generated_expiry_is_refused(tmp_path: Path) -> None:
    from pkgbooks.build import build
    from pkgbooks.validate import validate

    books = books_of(tmp_path, [
        sale("s1", 1, "K1", package="cuts-30"),
        {**pay("p1", 2, "K1", "100.00"), "id": "expiry:K1"},
        {**sale("s2", 10, "K2", package="forever"), "date": d(10, 2)},
    ])
    result = build(books)
    if result.problems:
        assert any("expiry:K1" in str(p) for p in result.problems)
    else:
        assert validate(books).errors == []
